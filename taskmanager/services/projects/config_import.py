"""Loading a configuration (roles, users, groups, tags, templates) in one all-or-nothing step.

Used by the config service route and by the `taskmanager-config` command. Without `overwrite`
only missing records are created; with it, existing ones are changed to match.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from ...models import Group, Role, Tag, TaskTemplate, User, utcnow
from ..accounts import groups, roles, users
from ..kit import documents, references
from ..kit.errors import DomainError, InvalidInput
from ..reference import tags, templates

T = TypeVar("T")

SECTIONS = ("roles", "users", "groups", "tags", "templates")
ENTRY_FIELDS: dict[str, frozenset[str]] = {
    "roles": frozenset({"name", "description", "permissions"}),
    "users": frozenset(
        {"username", "name", "email", "password", "active", "assignment_weight", "roles"}
    ),
    "groups": frozenset({"groupname", "name", "members"}),
    "tags": frozenset({"name"}),
    "templates": frozenset({"label", "content"}),
}
# The key naming each kind of entry, also the model column it is matched on (a tag may also be
# given as a bare name).
KEY_FIELD = {
    "roles": "name",
    "users": "username",
    "groups": "groupname",
    "tags": "name",
    "templates": "label",
}
DEFAULT_USER_ROLES = ("user",)


@dataclass
class ImportResult:
    """What the import created (or, when overwriting, created or changed), in file order."""

    updated_at: datetime
    roles: list[Role] = field(default_factory=list)
    users: list[User] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    tags: list[Tag] = field(default_factory=list)
    templates: list[TaskTemplate] = field(default_factory=list)


def parse_definition(text: Any, *, field_name: str = "config_definition") -> dict[str, Any]:
    """The YAML (or JSON) text as a mapping of sections; 400 naming the field otherwise."""
    if not isinstance(text, str):
        raise InvalidInput(f"{field_name} must be YAML text", field=field_name)
    try:
        definition = documents.parse_yaml(text)
    except documents.DocumentError as error:
        raise InvalidInput(f"{field_name}: {error.message}", field=field_name) from None
    except ValueError as error:
        raise InvalidInput(f"{field_name} is not valid YAML: {error}", field=field_name) from None
    if not isinstance(definition, dict):
        raise InvalidInput(
            f"{field_name} must be a mapping with any of: {', '.join(SECTIONS)}", field=field_name
        )
    return definition


@contextmanager
def _entry(where: str) -> Iterator[None]:
    """Prefix the fields of any error raised for one entry with where it is, e.g. users[2]."""
    try:
        yield
    except DomainError as error:
        error.errors = {f"{where}.{key}": value for key, value in error.errors.items()} or {
            where: [error.message]
        }
        error.message = f"{where}: {error.message}"
        raise


def _entries(definition: Mapping[str, Any], section: str) -> list[tuple[str, dict[str, Any]]]:
    """The section's entries as (location, mapping), checked for shape and unknown fields."""
    value = definition.get(section)
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidInput(f"{section} must be a list", field=section)
    entries = []
    for index, raw in enumerate(value):
        where = f"{section}[{index}]"
        if section == "tags" and isinstance(raw, str | int) and not isinstance(raw, bool):
            raw = {"name": raw}
        if section == "templates" and isinstance(raw, str):
            raise InvalidInput(
                f"{where}: template files are read by the taskmanager-config command; "
                "here give {label, content}",
                field=where,
            )
        if not isinstance(raw, dict):
            raise InvalidInput(f"{where} must be a mapping", field=where)
        unknown = sorted(str(key) for key in raw if key not in ENTRY_FIELDS[section])
        if unknown:
            raise InvalidInput(
                f"{where}: unknown field {unknown[0]!r}", field=f"{where}.{unknown[0]}"
            )
        key_field = KEY_FIELD[section]
        key = raw.get(key_field)
        if key is None:
            raise InvalidInput(f"{where}: {key_field} is required", field=f"{where}.{key_field}")
        if isinstance(key, int) and not isinstance(key, bool):
            # YAML reads an unquoted name such as 2024 as a number.
            raw = {**raw, key_field: str(key)}
        entries.append((where, raw))
    seen: dict[str, str] = {}
    for where, raw in entries:
        key = str(raw[KEY_FIELD[section]])
        if key in seen:
            raise InvalidInput(
                f"{where}: {key!r} is also defined by {seen[key]}",
                field=f"{where}.{KEY_FIELD[section]}",
            )
        seen[key] = where
    return entries


def _each(
    session: Session,
    definition: Mapping[str, Any],
    section: str,
    model: type[T],
    make: Callable[[dict[str, Any]], T],
    change: Callable[[T, dict[str, Any]], T],
    overwrite: bool,
) -> list[T]:
    """Make each entry of the section that does not exist; change existing ones if overwriting."""
    column = getattr(model, KEY_FIELD[section])
    done: list[T] = []
    for where, entry in _entries(definition, section):
        with _entry(where):
            name = entry[KEY_FIELD[section]]
            existing = (
                references.by_name(session, model, name_column=column, name=name)
                if isinstance(name, str)
                else None
            )
            if existing is None:
                done.append(make(entry))
            elif overwrite:
                done.append(change(existing, entry))
    return done


def import_config(
    session: Session, *, definition: Mapping[str, Any], overwrite: bool = False
) -> ImportResult:
    """Create (and with `overwrite`, update) everything the definition lists; flushes only.

    Any bad entry raises a DomainError naming it (e.g. `users[2].email`); the caller then rolls
    back, so nothing of the definition is stored.
    """
    unknown = sorted(str(key) for key in definition if key not in SECTIONS)
    if unknown:
        raise InvalidInput(
            f"Unknown section {unknown[0]!r}; expected any of: {', '.join(SECTIONS)}",
            field=unknown[0],
        )
    result = ImportResult(updated_at=utcnow())

    def role_list(entry: dict[str, Any]) -> list[Role]:
        names = entry.get("roles", DEFAULT_USER_ROLES)
        if not isinstance(names, list | tuple):
            raise InvalidInput("roles must be a list of role names", field="roles")
        return [roles.get_or_raise(session, reference=name, field="roles") for name in names]

    result.roles = _each(
        session,
        definition,
        "roles",
        Role,
        lambda entry: roles.create(
            session,
            name=entry["name"],
            description=entry.get("description"),
            permissions=roles.validate_permissions(entry.get("permissions", [])),
        ),
        lambda role, entry: roles.update(
            session,
            role=role,
            description=entry.get("description"),
            permissions=(
                roles.validate_permissions(entry["permissions"]) if "permissions" in entry else None
            ),
        ),
        overwrite,
    )

    def make_user(entry: dict[str, Any]) -> User:
        # Without a password the account cannot log in until one is set; without an e-mail it
        # gets a local placeholder (e-mails are unique and required).
        return users.create(
            session,
            username=entry["username"],
            password=entry.get("password"),
            email=entry.get("email") or f"{entry['username']}@localhost",
            name=entry.get("name"),
            active=entry.get("active", True),
            assignment_weight=entry.get("assignment_weight", 1.0),
            roles=role_list(entry),
        )

    def change_user(user: User, entry: dict[str, Any]) -> User:
        changes = {key: value for key, value in entry.items() if key != "roles"}
        users.update(session, user=user, changes=changes)
        if "roles" in entry:
            users.replace_roles(session, user=user, new_roles=role_list(entry))
        return user

    result.users = _each(
        session,
        definition,
        "users",
        User,
        make_user,
        change_user,
        overwrite,
    )

    def members(entry: dict[str, Any]) -> list[User]:
        return groups.resolve_users(session, names=entry.get("members") or [], field="members")

    def change_group(group: Group, entry: dict[str, Any]) -> Group:
        changes: dict[str, Any] = {key: entry[key] for key in ("name",) if key in entry}
        if "members" in entry:
            changes["users"] = members(entry)
        return groups.update(session, group=group, changes=changes)

    result.groups = _each(
        session,
        definition,
        "groups",
        Group,
        lambda entry: groups.create(
            session, groupname=entry["groupname"], name=entry.get("name"), users=members(entry)
        ),
        change_group,
        overwrite,
    )

    result.tags = _each(
        session,
        definition,
        "tags",
        Tag,
        lambda entry: tags.create(session, name=entry["name"]),
        lambda tag, _entry: tag,
        overwrite,
    )

    result.templates = _each(
        session,
        definition,
        "templates",
        TaskTemplate,
        lambda entry: templates.create(session, label=entry["label"], content=entry.get("content")),
        lambda template, entry: templates.update(
            session, template=template, changes={"content": entry.get("content")}
        ),
        overwrite,
    )
    return result
