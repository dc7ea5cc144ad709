"""SQLAlchemy tables. Import from here; nothing above `services/` touches them directly."""

from .accounts import Group, Role, User, group_membership, roles_users
from .base import Base, db, utcnow
from .callbacks import CallbackDelivery
from .meta import Meta, MetaHistory
from .site import SiteFact
from .statuses import CLOSED_STATUSES, TASKGROUP_STATUSES, DeliveryStatus, TaskStatus
from .tasks import (
    ProjectPolicy,
    ReminderSent,
    SeriesReader,
    SubjectReader,
    Tag,
    Task,
    TaskGroup,
    TaskHistory,
    TaskTemplate,
    task_groups_assigned,
    task_tags,
    task_users,
)
from .throttling import LoginFailure

__all__ = [
    "CLOSED_STATUSES",
    "TASKGROUP_STATUSES",
    "Base",
    "CallbackDelivery",
    "DeliveryStatus",
    "Group",
    "LoginFailure",
    "Meta",
    "MetaHistory",
    "ProjectPolicy",
    "ReminderSent",
    "SeriesReader",
    "SubjectReader",
    "Role",
    "SiteFact",
    "Tag",
    "Task",
    "TaskGroup",
    "TaskHistory",
    "TaskStatus",
    "TaskTemplate",
    "User",
    "db",
    "group_membership",
    "roles_users",
    "task_groups_assigned",
    "task_tags",
    "task_users",
    "utcnow",
]
