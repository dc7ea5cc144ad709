"""The config service route: load roles, users, groups, tags (and templates) from YAML."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from ..models import db
from ..services.kit.errors import Forbidden
from ..services.projects import config_import
from . import bodies, v1
from .auth import caller, login_required
from .bodies import Body
from .uris import role_uri, user_uri

TAGS = ["Service"]
ADMIN_ROLE = "admin"


class ConfigIn(Body):
    config_definition: str = Field(
        description="YAML text with any of the lists: roles (name, description, permissions), "
        "users (username, name, email, password, active, assignment_weight, roles), groups "
        "(groupname, name, members), tags (names), templates (label, content)"
    )


class RoleRef(BaseModel):
    id: int
    name: str
    uri: str


class UserRef(BaseModel):
    id: int
    username: str
    name: str | None
    uri: str
    assignment_weight: float
    email: str


class GroupRef(BaseModel):
    name: str
    groupname: str
    id: int


class ConfigOut(BaseModel):
    updated_at: str = Field(description="ISO 8601")
    roles: list[RoleRef]
    users: list[UserRef]
    groups: list[GroupRef]
    tags: list[str]
    templates: list[str] = Field(description="Labels of the templates")


def _import(json_data: ConfigIn, overwrite: bool) -> dict[str, Any]:
    if not any(role.name == ADMIN_ROLE for role in caller().roles):
        raise Forbidden("Loading a configuration needs the admin role")
    definition = config_import.parse_definition(json_data.config_definition)
    result = config_import.import_config(db.session, definition=definition, overwrite=overwrite)
    db.session.commit()
    return {
        "updated_at": result.updated_at.isoformat(),
        "roles": [{"id": r.id, "name": r.name, "uri": role_uri(r.id)} for r in result.roles],
        "users": [
            {
                "id": u.id,
                "username": u.username,
                "name": u.name,
                "uri": user_uri(u.id),
                "assignment_weight": u.assignment_weight,
                "email": u.email,
            }
            for u in result.users
        ],
        "groups": [{"name": g.name, "groupname": g.groupname, "id": g.id} for g in result.groups],
        "tags": [t.name for t in result.tags],
        "templates": [t.label for t in result.templates],
    }


DESCRIPTION = (
    "Needs the admin role. All or nothing: a bad entry answers 400 naming it (e.g. "
    "`users[2].email`) and nothing is stored. The answer lists what was {what}."
)


@v1.post("/service/config/import-config")
@bodies.input(ConfigIn)
@v1.output(ConfigOut, status_code=201)
@v1.doc(
    summary="Create the roles, users, groups, tags and templates that do not exist yet",
    description=DESCRIPTION.format(what="created; existing records are left as they are"),
    tags=TAGS,
    responses=[400, 403, 404, 409],
)
@login_required
def import_config(json_data: ConfigIn) -> dict[str, Any]:
    return _import(json_data, overwrite=False)


@v1.put("/service/config/import-config")
@bodies.input(ConfigIn)
@v1.output(ConfigOut)
@v1.doc(
    summary="Create or overwrite the roles, users, groups, tags and templates listed",
    description=DESCRIPTION.format(what="created or overwritten"),
    tags=TAGS,
    responses=[400, 403, 404, 409],
)
@login_required
def overwrite_config(json_data: ConfigIn) -> dict[str, Any]:
    return _import(json_data, overwrite=True)
