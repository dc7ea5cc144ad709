"""Server-relative URLs of objects (with the deployment prefix, as `url_for` builds them)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from flask import url_for


def uri_maker(endpoint: str, argument: str) -> Callable[[int | str], str]:
    """A function turning an id (or label) into the object's URL: one url_for for a whole list."""
    values: dict[str, Any] = {argument: "0"}
    base = url_for(endpoint, **values)[: -len("0")]
    # Ids (most keys) need no quoting; a task lists dozens of them.
    return lambda key: base + (str(key) if type(key) is int else quote(str(key), safe=""))


def user_uri(user_id: int) -> str:
    return uri_maker("api_v1.get_user", "user_id")(user_id)


def group_uri(group_id: int) -> str:
    return uri_maker("api_v1.get_group", "group_id")(group_id)


def role_uri(role_id: int) -> str:
    return uri_maker("api_v1.get_role", "role_id")(role_id)


def tag_uri(tag_id: int) -> str:
    return uri_maker("api_v1.get_tag", "tag_id")(tag_id)


def template_uri(label: str) -> str:
    """Templates are addressed by label (their id works too)."""
    return uri_maker("api_v1.get_task_template", "template_id")(label)


def template_uri_by_id(template_id: int) -> str:
    """The form task summaries use: `/api/v1/task_templates/<id>`."""
    return uri_maker("api_v1.get_task_template", "template_id")(template_id)
