"""Users routes."""

from __future__ import annotations

from typing import Any

from flask import url_for

from ..models import User, db
from ..services import users as user_service
from . import v1
from .auth import caller, has_any, permission_required
from .schemas import UserList, UserOut


def user_uri(user_id: int) -> str:
    return url_for("api_v1.get_user", user_id=user_id)


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
    }


@v1.get("/users")
@v1.output(UserList)
@v1.doc(summary="List users (as URLs)", tags=["Users"])
@permission_required("user_read_all")
def list_users() -> dict[str, Any]:
    ids = user_service.list_ids(db.session)
    return {"users": [user_uri(user_id) for user_id in ids]}


@v1.get("/users/<user_id>")
@v1.output(UserOut)
@v1.doc(summary="One user", tags=["Users"])
@permission_required("user_read_all", "user_read")
def get_user(user_id: str) -> dict[str, Any]:
    user = user_service.get_or_raise(db.session, reference=user_id)
    me = caller()
    if user.id != me.id and not has_any(me, "user_read_all"):
        from ..services.errors import Forbidden

        raise Forbidden("You may only read your own account")
    return user_detail(user)
