"""Pydantic shapes of the API v1 wire format, for validation and the OpenAPI document."""

from __future__ import annotations

from pydantic import BaseModel


class UserOut(BaseModel):
    username: str
    uri: str
    name: str | None
    active: bool
    email: str
    create_time: str
    assignment_weight: float
    tasks: str
    groups: str


class UserList(BaseModel):
    users: list[str]
