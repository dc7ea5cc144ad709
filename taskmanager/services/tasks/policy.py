"""A project's policy: who may get which of its tasks, how many, in what order.

Rules (all off for a project without a policy):
- `distinct_readers`: a reader never gets two tasks of one `subject`.
- `washout_days` (without distinct_readers): a reader gets a task of a subject again only this
  many days after they last got one.
- `consistent_series`: every task of a `series` goes to the reader who got its first one.
- `max_open_per_user`: a reader holding this many open tasks of the project (assigned to them
  by name, or locked by them) gets no more.
- `balance_by`: weighted automatic assignment shares out task counts or their `effort`.
- `priority_order`: claims and lists go by priority (highest first), then due date, then id.

They bind automatic assignment (no users named, or `distribute_in_group`) and claims
(`POST /tasks/next`); naming users outright is the data manager's decision and is not refused.
"Got" is recorded in two ledgers (SubjectReader, SeriesReader) when a task is handed out, and
their primary keys decide between concurrent requests (services/tasks/readers.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...models import ProjectPolicy, Task, User
from ..accounts import permissions
from ..kit import validation
from ..kit.errors import Forbidden, InvalidInput
from . import readers

BALANCES = ("count", "effort")
WASHOUT_DAYS_MAX = 3650
OPEN_CAP_MAX = 1_000_000
# Who may set a project's policy: admins (task_update_all) and data managers (task_update_user).
SETTING_PERMISSIONS = frozenset({"task_update_all", "task_update_user"})
# Claims and lists in priority order: highest priority, then the earliest due date (tasks
# without one after those with one), then the oldest task.
PRIORITY_ORDER = (Task.priority.desc(), Task.due.is_(None), Task.due, Task.id)


@dataclass(frozen=True)
class Policy:
    project: str
    distinct_readers: bool = False
    washout_days: int | None = None
    consistent_series: bool = False
    max_open_per_user: int | None = None
    balance_by: str = "count"
    priority_order: bool = False

    @property
    def subject_rule(self) -> bool:
        """Whether a reader's earlier tasks of a subject limit what they get next."""
        return self.distinct_readers or bool(self.washout_days)

    @property
    def limits_readers(self) -> bool:
        """Whether any rule decides who may get a task (beyond visibility and weight)."""
        return self.subject_rule or self.consistent_series or self.max_open_per_user is not None

    def subject_cutoff(self, now: datetime) -> datetime | None:
        """A reader who last got a subject after this time may not get it again (None: ever)."""
        if self.distinct_readers:
            return None
        return now - timedelta(days=self.washout_days or 0)

    @property
    def in_force(self) -> bool:
        return self != Policy(self.project)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


FIELDS = tuple(field.name for field in dataclasses.fields(Policy) if field.name != "project")


def _from_row(row: ProjectPolicy) -> Policy:
    return Policy(
        project=row.project,
        distinct_readers=row.distinct_readers,
        washout_days=row.washout_days,
        consistent_series=row.consistent_series,
        max_open_per_user=row.max_open_per_user,
        balance_by=row.balance_by,
        priority_order=row.priority_order,
    )


def get(session: Session, project: str) -> Policy:
    """The project's policy; one with no rules when none was set."""
    row = session.get(ProjectPolicy, project)
    return _from_row(row) if row is not None else Policy(project)


def of_projects(session: Session, projects: Iterable[str] | None = None) -> dict[str, Policy]:
    """The policies in force, of these projects (or of all): a small table, read in one query."""
    query = select(ProjectPolicy)
    if projects is not None:
        wanted = sorted(set(projects))
        if not wanted:
            return {}
        query = query.where(ProjectPolicy.project.in_(wanted))
    policies = (_from_row(row) for row in session.scalars(query))
    return {policy.project: policy for policy in policies if policy.in_force}


def may_set(user: User) -> bool:
    return bool(SETTING_PERMISSIONS & permissions.of(user))


def put(session: Session, project: str, values: Mapping[str, Any], actor: User) -> Policy:
    """Change the fields given (the others keep their value); the policy as it now stands.

    Readers who already got tasks of the project are recorded first, so the rules count the
    work handed out before the policy was set.
    """
    if not may_set(actor):
        raise Forbidden("Only admins and superusers may set a project's policy", field="project")
    validation.text(project, field="project", column=Task.project, required=True)
    unknown = sorted(set(values) - set(FIELDS))
    if unknown:
        raise InvalidInput(
            f"Unknown policy fields: {', '.join(unknown)} (known: {', '.join(FIELDS)})",
            field=unknown[0],
        )
    policy = dataclasses.replace(get(session, project), **values)
    _check(policy)
    row = session.get(ProjectPolicy, project, with_for_update=True)
    if row is None:
        row = ProjectPolicy(project=project)
        session.add(row)
    for name in FIELDS:
        setattr(row, name, getattr(policy, name))
    row.updated_by_id = actor.id
    session.flush()
    readers.record_existing(session, project)
    return policy


def _check(policy: Policy) -> None:
    errors: dict[str, list[str]] = {}

    def refuse(field_name: str, message: str) -> None:
        errors.setdefault(field_name, []).append(message)

    for name in ("distinct_readers", "consistent_series", "priority_order"):
        if not isinstance(getattr(policy, name), bool):
            refuse(name, f"{name} must be true or false")
    _check_whole(refuse, "washout_days", policy.washout_days, 0, WASHOUT_DAYS_MAX)
    _check_whole(refuse, "max_open_per_user", policy.max_open_per_user, 1, OPEN_CAP_MAX)
    if policy.balance_by not in BALANCES:
        refuse("balance_by", f"balance_by must be one of {', '.join(BALANCES)}")
    if policy.distinct_readers is True and policy.washout_days:
        refuse(
            "washout_days",
            "washout_days applies when a reader may read a subject again; with "
            "distinct_readers they never may (set one of the two)",
        )
    if errors:
        message = "; ".join(message for messages in errors.values() for message in messages)
        raise InvalidInput(message, errors=errors)


def _check_whole(refuse: Any, name: str, value: Any, low: int, high: int) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        refuse(name, f"{name} must be a whole number or null")
    elif not low <= value <= high:
        refuse(name, f"{name} must lie between {low} and {high:,} (or be null)")
