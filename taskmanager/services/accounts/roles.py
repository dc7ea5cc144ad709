"""Roles: named sets of permissions users are given."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...models import Role
from ..kit import paging, references, validation
from ..kit.errors import InvalidInput
from .permissions import DEFAULT_ROLES

# Every permission the server checks; a role may carry any of these and nothing else.
KNOWN_PERMISSIONS = frozenset(
    permission
    for _description, role_permissions in DEFAULT_ROLES.values()
    for permission in role_permissions
)


def get_by_reference(session: Session, *, reference: str | int) -> Role | None:
    """A role by id, name or URL."""
    return references.find(session, Role, reference=reference, name_column=Role.name)


def get_or_raise(session: Session, *, reference: str | int, field: str = "role") -> Role:
    return references.found(
        get_by_reference(session, reference=reference),
        what="Role",
        reference=reference,
        field=field,
    )


def list_page(
    session: Session, *, offset: int | None = None, limit: int | None = None
) -> paging.Page[int]:
    """A page of role ids, ordered by id, and the number of roles."""
    return paging.page(session, select(Role.id).order_by(Role.id), offset=offset, limit=limit)


def validate_permissions(value: Any, *, field: str = "permissions") -> list[str]:
    """A list of known permission names (an unknown name is most likely a typo)."""
    if not isinstance(value, list | tuple) or not all(isinstance(p, str) for p in value):
        raise InvalidInput(f"{field} must be a list of permission names", field=field)
    unknown = sorted(set(value) - KNOWN_PERMISSIONS)
    if unknown:
        raise InvalidInput(f"Unknown permissions: {', '.join(unknown)}", field=field)
    return list(dict.fromkeys(value))


def create(
    session: Session,
    *,
    name: str,
    description: str | None = None,
    permissions: Iterable[str] = (),
) -> Role:
    """A new role with a unique name."""
    role = Role(
        name=validation.name(name, field="name", column=Role.name),
        description=validation.text(
            description, field="description", column=Role.description, required=False
        ),
        permissions=validate_permissions(list(permissions)),
    )
    session.add(role)
    validation.flush_or_conflict(session, entity="role", unique={"name": Role.name == role.name})
    return role


def update(
    session: Session,
    *,
    role: Role,
    description: str | None = None,
    permissions: Iterable[str] | None = None,
) -> Role:
    """Replace a role's description and (when given) its permissions."""
    if description is not None:
        role.description = validation.text(
            description, field="description", column=Role.description, required=False
        )
    if permissions is not None:
        role.permissions = validate_permissions(list(permissions))
    session.flush()
    return role
