"""A project policy's reader rules for a task going to one reader: by a claim's step-by-step
path, or by a reader locking a task they chose (PUT /tasks/{id}/lock, as the ViewR does).

The rules are checked and the ledgers written in the transaction that then locks the task, so a
refusal keeps nothing and two requests cannot both pass (the ledgers' primary keys and the
reader's row lock decide; see services/tasks/readers.py).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from ...models import Task, User
from ..kit.errors import Conflict
from ..tasks import assignment, readers
from ..tasks import policy as policy_service


class RuleRefused(Conflict):
    """The project's policy does not let this reader have the task (409)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, field="lock")


def limiting_policy(session: Session, project: str) -> policy_service.Policy | None:
    """The project's policy when it decides who may get its tasks, else None."""
    found = policy_service.of_projects(session, [project]).get(project)
    return found if found is not None and found.limits_readers else None


def hold_reader(session: Session, rules: policy_service.Policy, user_id: int) -> None:
    """Before the task's row: under a cap, the reader's row, so that their concurrent requests
    count what they hold in turn (the claims' order: reader, then task, against deadlocks)."""
    if rules.max_open_per_user is not None:
        assignment.lock_reader(session, user_id)
    else:
        assignment.take_write_lock(session)


def record_reader(
    session: Session,
    rules: policy_service.Policy,
    *,
    task_id: int,
    subject: str | None,
    series: str | None,
    user_id: int,
    now: datetime,
) -> bool:
    """Record the reader in the ledgers the policy keeps; False when another request recorded
    someone else (or, for the subject, this reader too recently) first."""
    taken = True
    if rules.consistent_series and series is not None:
        taken = readers.take_series(session, rules.project, series, user_id, now)
    if taken and rules.subject_rule and subject is not None:
        cutoff = rules.subject_cutoff(now)
        taken = readers.take_subject(session, rules.project, subject, user_id, now, cutoff=cutoff)
    # A task assigned to the reader by name is theirs whatever the ledgers say.
    return taken or readers.named_reader(session, task_id, user_id)


def admit(
    session: Session,
    rules: policy_service.Policy,
    *,
    task: Task,
    reader: User,
    now: datetime,
) -> None:
    """Record `reader` as the task's reader under the policy, or raise RuleRefused saying which
    rule stands in the way. The caller holds the reader (hold_reader) and the task's row."""
    if readers.named_reader(session, task.id, reader.id):
        return  # assigned to them by name: already counted, and theirs whatever the ledgers say
    cap = rules.max_open_per_user
    if cap is not None and readers.holds_at_least(session, rules.project, reader.id, cap):
        raise RuleRefused(
            f"{reader.username} holds {cap} open tasks of project {rules.project!r}, "
            "the most its policy allows"
        )
    series_taken = (
        not rules.consistent_series
        or task.series is None
        or readers.take_series(session, rules.project, task.series, reader.id, now)
    )
    if not series_taken:
        raise RuleRefused(
            f"Series {task.series!r} of project {rules.project!r} goes to another reader "
            "(its policy keeps a series with one reader)"
        )
    if rules.subject_rule and task.subject is not None:
        cutoff = rules.subject_cutoff(now)
        if not readers.take_subject(
            session, rules.project, task.subject, reader.id, now, cutoff=cutoff
        ):
            rule = (
                "gives each reader one task of a subject"
                if rules.distinct_readers
                else f"has a washout of {rules.washout_days} days"
            )
            raise RuleRefused(
                f"{reader.username} already got a task of subject {task.subject!r}; the policy "
                f"of project {rules.project!r} {rule}"
            )
