"""Roles routes (read-only; roles are given to users under /users/<user>/roles/<role>)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from ..models import db
from ..services.accounts import roles as role_service
from . import bodies, v1
from .auth import permission_required
from .pagination import PageInfo, PageQuery, url_page
from .uris import role_uri

TAGS = ["Roles"]


class RoleOut(BaseModel):
    name: str
    description: str | None
    update_datetime: str = Field(description="ISO 8601")
    permissions: list[str]
    id: int
    uri: str


class RoleList(PageInfo):
    roles: list[str] = Field(description="URLs of the roles, ordered by id")
    total_roles: int


@v1.get("/roles")
@bodies.input(PageQuery, location="query")
@v1.output(RoleList)
@v1.doc(summary="List roles (as URLs)", tags=TAGS, responses=[403])
@permission_required("roles_manage")
def list_roles(query_data: PageQuery) -> dict[str, Any]:
    page = role_service.list_page(db.session, offset=query_data.offset, limit=query_data.limit)
    return url_page(page, "roles", endpoint="api_v1.get_role", argument="role_id")


@v1.get("/roles/<role_id>")
@v1.output(RoleOut)
@v1.doc(summary="One role and its permissions (by id or name)", tags=TAGS, responses=[403, 404])
@permission_required("roles_manage")
def get_role(role_id: str) -> dict[str, Any]:
    role = role_service.get_or_raise(db.session, reference=role_id)
    return {
        "name": role.name,
        "description": role.description,
        "update_datetime": role.update_datetime.isoformat(),
        "permissions": list(role.permissions or ()),
        "id": role.id,
        "uri": role_uri(role.id),
    }
