"""Accounts: creating and changing users, their roles and their credentials."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from flask_security.utils import hash_password
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ...models import Group, Role, User, group_membership, roles_users, utcnow
from ..kit import paging, references, rows, validation
from ..kit.errors import Conflict, Forbidden, InvalidInput
from . import permissions
from . import roles as role_service

ADMIN_ROLE = "admin"

# Which permissions let a caller change each field of a user (any one of them suffices).
FIELD_PERMISSIONS: dict[str, tuple[str, ...]] = {
    "username": ("user_update_all",),
    "password": ("user_update_all",),
    "name": ("user_update_all",),
    "email": ("user_update_all",),
    "active": ("user_update_all",),
    "assignment_weight": ("user_update_assignment_weight", "user_update_all"),
}


def get(session: Session, *, user_id: int) -> User | None:
    return session.get(User, user_id)


def get_by_reference(session: Session, *, reference: str | int) -> User | None:
    """Find a user by id, username, e-mail (case-insensitive) or URL."""
    user = references.find(session, User, reference=reference, name_column=User.username)
    if user is not None:
        return user
    text = references.normalise(reference)
    if "@" not in text:
        return None
    return session.scalars(select(User).where(func.lower(User.email) == text.lower())).first()


def get_or_raise(session: Session, *, reference: str | int, field: str = "user") -> User:
    return references.found(
        get_by_reference(session, reference=reference),
        what="User",
        reference=reference,
        field=field,
    )


def get_for_actor_or_raise(
    session: Session,
    *,
    reference: str | int,
    actor: User,
    others_need: Iterable[str],
    refusal: str,
    field: str = "user",
) -> User:
    """The user a reference names, for an actor who may name others only with one of the
    permissions `others_need`. Without them, any reference but oneself answers 403 whether or
    not the account exists, so the answer does not tell which accounts exist."""
    user = get_by_reference(session, reference=reference)
    if permissions.of(actor).isdisjoint(others_need):
        if user is None or user.id != actor.id:
            raise Forbidden(refusal, field=field)
        return user
    return references.found(user, what="User", reference=reference, field=field)


def readable_or_raise(session: Session, *, reference: str | int, actor: User) -> User:
    """The user, when the actor may read it: oneself, or anyone with user_read_all (else 403)."""
    return get_for_actor_or_raise(
        session,
        reference=reference,
        actor=actor,
        others_need=("user_read_all",),
        refusal="You may only read your own account (needs user_read_all)",
    )


def validate_weight(weight: Any) -> float:
    if isinstance(weight, bool) or not isinstance(weight, int | float):
        raise InvalidInput("assignment_weight must be a number", field="assignment_weight")
    if not math.isfinite(weight) or weight < 0:
        raise InvalidInput(
            "assignment_weight must be a finite number, zero or more", field="assignment_weight"
        )
    return float(weight)


def _validate_email(email: Any, check: str = "strict") -> str:
    """`strict`: local@domain without spaces; `loose` (TASKMAN_EMAIL_CHECK, as the old server):
    any text. Control characters are refused either way: a CR/LF would end up in mail headers."""
    checked = validation.text(email, field="email", column=User.email)
    assert checked is not None
    if not all(c.isprintable() for c in checked):
        raise InvalidInput("email must not hold control characters or line breaks", field="email")
    if check == "loose":
        return checked
    local, _, domain = checked.partition("@")
    if not local or not domain or any(c.isspace() for c in checked):
        raise InvalidInput("email must be an e-mail address", field="email")
    return checked


def _validate_active(active: Any) -> bool:
    if not isinstance(active, bool):
        raise InvalidInput("active must be true or false", field="active")
    return active


def _validate_password(password: Any) -> str:
    checked = validation.text(password, field="password")
    assert checked is not None
    return checked


def check_password_length(password: str | None, *, minimum: int) -> None:
    """400 when a new password is shorter than the configured minimum."""
    if password is not None and len(password) < minimum:
        raise InvalidInput(
            f"The password must be at least {minimum} characters long",
            field="password",
        )


def _refuse_taken(
    session: Session, *, username: str | None, email: str | None, other_than: int | None = None
) -> None:
    """409 naming every field another user already has (e-mail compared case-insensitively)."""
    taken: dict[str, list[str]] = {}
    for field, condition in (
        ("username", User.username == username if username is not None else None),
        ("email", func.lower(User.email) == email.lower() if email is not None else None),
    ):
        if condition is None:
            continue
        query = select(User.id).where(condition)
        if other_than is not None:
            query = query.where(User.id != other_than)
        if session.scalars(query.limit(1)).first() is not None:
            taken[field] = [f"A user with this {field} already exists"]
    if taken:
        raise Conflict(f"A user with this {' and '.join(taken)} already exists", errors=taken)


def _flush(session: Session, user: User) -> None:
    validation.flush_or_conflict(
        session,
        entity="user",
        unique={
            "username": User.username == user.username,
            "email": func.lower(User.email) == user.email.lower(),
        },
    )


def create(
    session: Session,
    *,
    username: str,
    password: str | None,
    email: str,
    name: str | None = None,
    active: bool = True,
    assignment_weight: float = 1.0,
    roles: Iterable[str | int | Role] = (),
    confirmed: bool = True,
    email_check: str = "strict",
) -> User:
    """Create a user; usernames and e-mails are unique (case-insensitive for e-mail)."""
    username = validation.name(username, field="username", column=User.username)
    email = _validate_email(email, email_check)
    name = validation.text(name, field="name", column=User.name, required=False)
    if password is not None:
        password = _validate_password(password)
    weight = validate_weight(assignment_weight)
    _refuse_taken(session, username=username, email=email)
    user = User(
        username=username,
        name=name or username,
        email=email,
        password=hash_password(password) if password else None,
        active=_validate_active(active),
        assignment_weight=weight,
        fs_uniquifier=uuid.uuid4().hex,
        fs_token_uniquifier=uuid.uuid4().hex,
        confirmed_at=utcnow() if confirmed else None,
        create_time=utcnow(),
    )
    for role in roles:
        if not isinstance(role, Role):
            role = role_service.get_or_raise(session, reference=role, field="roles")
        if role not in user.roles:
            user.roles.append(role)
    session.add(user)
    _flush(session, user)
    return user


def revoke_tokens(session: Session, *, user: User, actor: User) -> None:
    """Invalidate every auth token of the user (oneself, or anyone with user_update_all)."""
    if user.id != actor.id and "user_update_all" not in permissions.of(actor):
        raise Forbidden("You may only revoke your own tokens (needs user_update_all)", field="user")
    user.fs_token_uniquifier = uuid.uuid4().hex
    session.flush()


def set_password(user: User, password: str) -> None:
    """Store a new password hash; cached credentials stop matching the stored hash at once."""
    user.password = hash_password(password)
    # Changing the uniquifiers logs out sessions and revokes tokens issued before the change.
    user.fs_uniquifier = uuid.uuid4().hex
    user.fs_token_uniquifier = uuid.uuid4().hex


def list_page(
    session: Session, *, offset: int | None = None, limit: int | None = None
) -> paging.Page[int]:
    """A page of user ids, ordered by id, and the number of users."""
    return paging.page(session, select(User.id).order_by(User.id), offset=offset, limit=limit)


def list_group_page(
    session: Session, *, user: User, offset: int | None = None, limit: int | None = None
) -> paging.Page[int]:
    """A page of the ids of the groups the user belongs to."""
    query = (
        select(Group.id)
        .join(group_membership, group_membership.c.group_id == Group.id)
        .where(group_membership.c.user_id == user.id)
        .order_by(Group.id)
    )
    return paging.page(session, query, offset=offset, limit=limit)


def check_may_change(actor: User, fields: Iterable[str]) -> None:
    """403 naming the first field the actor may not change (checked before anything changes)."""
    held = permissions.of(actor)
    refused = {
        field: [f"Changing {field} requires one of: {', '.join(FIELD_PERMISSIONS[field])}"]
        for field in fields
        if field in FIELD_PERMISSIONS and held.isdisjoint(FIELD_PERMISSIONS[field])
    }
    if refused:
        raise Forbidden(
            f"You may not change: {', '.join(refused)}",
            errors=refused,
        )


def update(
    session: Session,
    *,
    user: User,
    changes: Mapping[str, Any],
    actor: User | None = None,
    email_check: str = "strict",
) -> User:
    """Apply the given fields; with an actor, each field is gated by FIELD_PERMISSIONS first."""
    unknown = set(changes) - set(FIELD_PERMISSIONS)
    if unknown:
        field = sorted(unknown)[0]
        raise InvalidInput(f"{field} is not a field of a user", field=field)
    if actor is not None:
        check_may_change(actor, changes)
    values: dict[str, Any] = {}
    if "username" in changes:
        values["username"] = validation.name(
            changes["username"], field="username", column=User.username
        )
    if "email" in changes:
        values["email"] = _validate_email(changes["email"], email_check)
    if "name" in changes:
        values["name"] = validation.text(
            changes["name"], field="name", column=User.name, required=False
        )
    if "password" in changes:
        values["password"] = _validate_password(changes["password"])
    if "active" in changes:
        values["active"] = _validate_active(changes["active"])
        if not values["active"]:
            _ensure_other_active_admin(session, user=user, field="active")
    if "assignment_weight" in changes:
        values["assignment_weight"] = validate_weight(changes["assignment_weight"])
    _refuse_taken(
        session,
        username=values.get("username"),
        email=values.get("email"),
        other_than=user.id,
    )
    for field, value in values.items():
        if field == "password":
            set_password(user, value)
        else:
            setattr(user, field, value)
    _flush(session, user)
    return user


def deactivate(session: Session, *, user: User) -> User:
    """What deleting a user means: it can no longer log in, its records stay."""
    if user.active:
        _ensure_other_active_admin(session, user=user, field="user")
        user.active = False
        session.flush()
    return user


def set_role(session: Session, *, user: User, role: Role, granted: bool) -> bool:
    """Grant or revoke a role (idempotent); the answer is whether the user now has it."""
    if granted and role not in user.roles:
        user.roles.append(role)
    elif not granted and role in user.roles:
        if role.name == ADMIN_ROLE:
            _ensure_other_active_admin(session, user=user, field="role")
        user.roles.remove(role)
    session.flush()
    # The memoised permission set of this object no longer holds.
    user.__dict__.pop("_taskman_permissions", None)
    return role in user.roles


def replace_roles(session: Session, *, user: User, new_roles: Iterable[Role]) -> None:
    """Make the user's roles exactly these (the last active admin keeps the admin role)."""
    wanted = list(dict.fromkeys(new_roles))
    if any(r.name == ADMIN_ROLE for r in user.roles) and not any(
        r.name == ADMIN_ROLE for r in wanted
    ):
        _ensure_other_active_admin(session, user=user, field="roles")
    user.roles[:] = wanted
    user.__dict__.pop("_taskman_permissions", None)
    session.flush()


def _ensure_other_active_admin(session: Session, *, user: User, field: str) -> None:
    """409 when the user is the last active admin (demoting or deactivating would lock all out).

    The admin role's row is locked first, so concurrent demotions are serialised, and the other
    admins are read with a locking read, which sees committed changes on every backend.
    """
    if not user.active:
        return
    admin = next((role for role in user.roles if role.name == ADMIN_ROLE), None)
    if admin is None:
        return
    rows.lock(session, Role.__table__, Role.id == admin.id)  # type: ignore[arg-type]
    other = session.scalars(
        select(User.id)
        .join(roles_users, roles_users.c.user_id == User.id)
        .where(roles_users.c.role_id == admin.id, User.active.is_(True), User.id != user.id)
        .limit(1)
        .with_for_update(read=True)
    ).first()
    if other is None:
        raise Conflict(
            f"{user.username} is the last active administrator; make another user an active "
            "admin first",
            field=field,
        )
