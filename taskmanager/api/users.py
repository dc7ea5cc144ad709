"""Users routes."""

from __future__ import annotations

from typing import Any

from flask import current_app

from ..models import User, db
from ..services.accounts import roles as role_service
from ..services.accounts import users as user_service
from . import bodies, v1
from .auth import caller, permission_required, require_any
from .pagination import PageQuery, url_page
from .schemas import GroupList, UserCreate, UserList, UserOut, UserRoleOut, UserUpdate
from .uris import user_uri

__all__ = ["user_detail", "user_uri"]

TAGS = ["Users"]


def user_detail(user: User) -> dict[str, Any]:
    uri = user_uri(user.id)
    return {
        "username": user.username,
        "uri": uri,
        "name": user.name,
        "active": user.active,
        "email": user.email,
        "create_time": user.create_time.isoformat(),
        "assignment_weight": user.assignment_weight,
        "tasks": f"{uri}/tasks",
        "groups": f"{uri}/groups",
        "id": user.id,
    }


def _password_min() -> int:
    return int(current_app.config["SECURITY_PASSWORD_LENGTH_MIN"])


def _email_check() -> str:
    """TASKMAN_EMAIL_CHECK: strict (local@domain) or loose (no control characters)."""
    return current_app.extensions["taskman_settings"].email_check  # type: ignore[no-any-return]


@v1.get("/users")
@bodies.input(PageQuery, location="query")
@v1.output(UserList)
@v1.doc(summary="List users (as URLs)", tags=TAGS, responses=[403])
@permission_required("user_read_all")
def list_users(query_data: PageQuery) -> dict[str, Any]:
    page = user_service.list_page(db.session, offset=query_data.offset, limit=query_data.limit)
    return url_page(page, "users", endpoint="api_v1.get_user", argument="user_id")


@v1.post("/users")
@bodies.input(UserCreate)
@v1.output(UserOut, status_code=201)
@v1.doc(summary="Create a user", tags=TAGS, responses=[400, 403, 404, 409])
@permission_required("user_add")
def create_user(json_data: UserCreate) -> dict[str, Any]:
    role_names: list[str | int] = ["user"]
    if json_data.roles is not None:
        require_any(caller(), "roles_manage")
        role_names = json_data.roles
    user_service.check_password_length(json_data.password, minimum=_password_min())
    user = user_service.create(
        db.session,
        username=json_data.username,
        password=json_data.password,
        email=json_data.email,
        name=json_data.name,
        active=json_data.active,
        assignment_weight=json_data.assignment_weight,
        roles=role_names,
        email_check=_email_check(),
    )
    db.session.commit()
    return user_detail(user)


@v1.get("/users/<user_id>")
@v1.output(UserOut)
@v1.doc(
    summary="One user (by id, username or URL)",
    description="Needs user_read_all, or user_read for one's own account.",
    tags=TAGS,
    responses=[403, 404],
)
@permission_required("user_read_all", "user_read")
def get_user(user_id: str) -> dict[str, Any]:
    user = user_service.readable_or_raise(db.session, reference=user_id, actor=caller())
    return user_detail(user)


@v1.put("/users/<user_id>")
@bodies.input(UserUpdate)
@v1.output(UserOut)
@v1.doc(
    summary="Change a user",
    description="assignment_weight needs user_update_assignment_weight or user_update_all; "
    "every other field needs user_update_all. A field the caller may not change answers 403 "
    "naming it, and nothing is changed. The password is stored hashed.",
    tags=TAGS,
    responses=[400, 403, 404, 409],
)
@permission_required("user_update_all", "user_update_assignment_weight")
def update_user(user_id: str, json_data: UserUpdate) -> dict[str, Any]:
    user = user_service.get_or_raise(db.session, reference=user_id)
    changes = {field: getattr(json_data, field) for field in json_data.model_fields_set}
    user_service.check_password_length(changes.get("password"), minimum=_password_min())
    user_service.update(
        db.session, user=user, changes=changes, actor=caller(), email_check=_email_check()
    )
    db.session.commit()
    return user_detail(user)


@v1.post("/users/<user_id>/revoke-tokens")
@v1.output(UserOut)
@v1.doc(
    summary="Revoke a user's auth tokens",
    description="Every auth token issued to the user stops working at once (sessions and basic "
    "credentials are unaffected; change the password for those). Oneself, or anyone with "
    "user_update_all.",
    tags=TAGS,
    responses=[403, 404],
)
@permission_required("user_update_all", "user_read", "user_read_all")
def revoke_user_tokens(user_id: str) -> dict[str, Any]:
    user = user_service.get_for_actor_or_raise(
        db.session,
        reference=user_id,
        actor=caller(),
        others_need=("user_update_all",),
        refusal="You may only revoke your own tokens (needs user_update_all)",
    )
    user_service.revoke_tokens(db.session, user=user, actor=caller())
    db.session.commit()
    return user_detail(user)


@v1.delete("/users/<user_id>")
@v1.output(UserOut)
@v1.doc(
    summary="Deactivate a user",
    description="Users are not removed: the account is deactivated and its records stay. The "
    "last active administrator cannot be deactivated (409).",
    tags=TAGS,
    responses=[403, 404, 409],
)
@permission_required("user_delete")
def delete_user(user_id: str) -> dict[str, Any]:
    user = user_service.get_or_raise(db.session, reference=user_id)
    user_service.deactivate(db.session, user=user)
    db.session.commit()
    return user_detail(user)


def _set_role(user_id: str, role_id: str, granted: bool) -> dict[str, Any]:
    user = user_service.get_or_raise(db.session, reference=user_id)
    role = role_service.get_or_raise(db.session, reference=role_id)
    has_role = user_service.set_role(db.session, user=user, role=role, granted=granted)
    db.session.commit()
    return {"role": role.id, "user": user.id, "has_role": has_role}


@v1.put("/users/<user_id>/roles/<role_id>")
@v1.output(UserRoleOut)
@v1.doc(summary="Give a user a role", tags=TAGS, responses=[403, 404])
@permission_required("roles_manage")
def grant_role(user_id: str, role_id: str) -> dict[str, Any]:
    return _set_role(user_id, role_id, granted=True)


@v1.delete("/users/<user_id>/roles/<role_id>")
@v1.output(UserRoleOut)
@v1.doc(
    summary="Take a role from a user",
    description="The last active administrator keeps the admin role (409).",
    tags=TAGS,
    responses=[403, 404, 409],
)
@permission_required("roles_manage")
def revoke_role(user_id: str, role_id: str) -> dict[str, Any]:
    return _set_role(user_id, role_id, granted=False)


@v1.get("/users/<user_id>/groups")
@bodies.input(PageQuery, location="query")
@v1.output(GroupList)
@v1.doc(
    summary="The groups a user belongs to (as URLs)",
    description="Needs user_read_all, or user_read for one's own account.",
    tags=TAGS,
    responses=[403, 404],
)
@permission_required("user_read_all", "user_read")
def list_user_groups(user_id: str, query_data: PageQuery) -> dict[str, Any]:
    user = user_service.readable_or_raise(db.session, reference=user_id, actor=caller())
    page = user_service.list_group_page(
        db.session, user=user, offset=query_data.offset, limit=query_data.limit
    )
    return url_page(page, "groups", endpoint="api_v1.get_group", argument="group_id")
