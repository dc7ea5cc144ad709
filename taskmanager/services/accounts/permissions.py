"""The roles every server has and the permissions each carries (the contract's sets, exactly)."""

from __future__ import annotations

ADMIN_PERMISSIONS = (
    "task_read_all",
    "task_update_all",
    "task_add",
    "task_delete",
    "template_add",
    "template_update",
    "template_delete",
    "tag_add",
    "tag_update",
    "tag_delete",
    "user_read_all",
    "user_update_all",
    "user_add",
    "user_delete",
    "group_read_all",
    "group_add",
    "group_update",
    "group_delete",
    "meta_read_all",
    "meta_update",
    "meta_add",
    "roles_manage",
)
SUPERUSER_PERMISSIONS = (
    "task_read_all",
    "task_update_status_all",
    "task_update_user",
    "task_update_lock_all",
    "tag_add",
    "tag_update",
    "user_read_all",
    "user_update_assignment_weight",
    "group_read_all",
    "group_update",
)
USER_PERMISSIONS = ("task_read", "task_update_status", "user_read", "group_read")

DEFAULT_ROLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "admin": ("Administrator: may do everything", ADMIN_PERMISSIONS),
    "superuser": (
        "Data manager: may read all and manage assignment and locks",
        SUPERUSER_PERMISSIONS,
    ),
    "user": ("Does the tasks assigned to them", USER_PERMISSIONS),
}
# What the web form for a new user offers first.
NEW_USER_ROLE = "user"


def of(user: object) -> frozenset[str]:
    """The permissions a user holds through their roles (loaded with the user)."""
    return frozenset(p for role in user.roles for p in (role.permissions or ()))  # type: ignore[attr-defined]
