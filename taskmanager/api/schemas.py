"""Pydantic shapes of the users routes (the API v1 wire format), for validation and OpenAPI.

A list of users or of groups has one shape wherever it is answered (one schema each).
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from ..models import User
from ..services.kit.validation import max_length
from .bodies import Body, Reference
from .pagination import PageInfo


class UserOut(BaseModel):
    username: str
    uri: str = Field(description="URL of this user")
    name: str | None
    active: bool
    email: str
    create_time: str = Field(description="ISO 8601")
    assignment_weight: float
    tasks: str = Field(description="URL of the user's tasks")
    groups: str = Field(description="URL of the user's groups")
    id: int


class UserList(PageInfo):
    users: list[str] = Field(description="URLs of the users (or of the members), ordered by id")
    total_users: int


class UserCreate(Body):
    username: str = Field(max_length=max_length(User.username))
    password: str = Field(min_length=1)
    email: str = Field(max_length=max_length(User.email))
    name: str | None = Field(None, max_length=max_length(User.name))
    active: bool = True
    assignment_weight: float = Field(1.0, ge=0)
    roles: list[Reference] | None = Field(
        None,
        description="Role names or ids (needs roles_manage); new users get the `user` role "
        "when this is left out",
    )


class UserUpdate(Body):
    """Only the fields sent are changed; each needs its permission (403 names the field)."""

    username: str | None = Field(None, max_length=max_length(User.username))
    password: str | None = None
    email: str | None = Field(None, max_length=max_length(User.email))
    name: str | None = Field(None, max_length=max_length(User.name))
    active: bool | None = None
    assignment_weight: float | None = Field(None, ge=0)


class UserRoleOut(BaseModel):
    role: int
    user: int
    has_role: bool


class GroupList(PageInfo):
    groups: list[str] = Field(description="URLs of the groups (or of a user's), ordered by id")
    total_groups: int
