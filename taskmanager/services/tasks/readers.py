"""Who got which subjects and series: the ledgers the reader rules of a policy read and write.

A row is written when a task of a project with such a rule goes to a reader (automatic
assignment or a claim). The primary keys make the rules hold under concurrency: of two requests
recording one reader for one subject, or two readers for one new series, the second waits for
the first and then finds its row (PostgreSQL ON CONFLICT DO NOTHING, MariaDB INSERT IGNORE,
SQLite's single writer).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    exists,
    func,
    or_,
    select,
    true,
    union,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session, aliased

from ...models import CLOSED_STATUSES, SeriesReader, SubjectReader, Task, TaskStatus, task_users
from ..kit import rows
from ..kit.typed_rows import as_tuples

SUBJECTS: Table = SubjectReader.__table__  # type: ignore[assignment]
SERIES: Table = SeriesReader.__table__  # type: ignore[assignment]
# Keys per IN list: well below every backend's bound-parameter limit.
CHUNK = 1000


def subject_blocked(user_id: Any, cutoff: Any, *, distinct: bool) -> ColumnElement[bool]:
    """SQL per task row: the reader may not get this task's subject now."""
    recorded = select(SubjectReader.project).where(
        SubjectReader.project == Task.project,
        SubjectReader.subject == Task.subject,
        SubjectReader.user_id == user_id,
    )
    if not distinct:
        recorded = recorded.where(SubjectReader.last_time > cutoff)
    return and_(Task.subject.is_not(None), exists(recorded))


def series_elsewhere(user_id: Any) -> ColumnElement[bool]:
    """SQL per task row: the task's series belongs to another reader."""
    owner = select(SeriesReader.project).where(
        SeriesReader.project == Task.project,
        SeriesReader.series == Task.series,
        SeriesReader.user_id != user_id,
    )
    return and_(Task.series.is_not(None), exists(owner))


def named_reader_condition(user_id: Any) -> ColumnElement[bool]:
    """SQL per task row: the task is assigned to the reader by name."""
    return exists(
        select(task_users.c.task_id).where(
            task_users.c.task_id == Task.id, task_users.c.user_id == user_id
        )
    )


def named_reader(session: Session, task_id: int, user_id: int) -> bool:
    """Whether the task is assigned to the reader by name."""
    query = select(task_users.c.task_id).where(
        task_users.c.task_id == task_id, task_users.c.user_id == user_id
    )
    return session.execute(query).first() is not None


def take_subject(
    session: Session,
    project: str,
    subject: str,
    user_id: int,
    now: datetime,
    *,
    cutoff: datetime | None,
) -> bool:
    """Record that the reader gets a task of the subject; False when they got one after
    `cutoff` (None: ever)."""
    # RETURNING tells whether the row went in (psycopg gives no row count for ON CONFLICT).
    inserted = session.execute(
        rows.insert_skipping_taken(session, SUBJECTS).returning(SUBJECTS.c.user_id),
        {"project": project, "subject": subject, "user_id": user_id, "last_time": now},
    ).first()
    if inserted is not None:
        return True
    if cutoff is None:
        return False
    # Atomic: of two requests for the same reader and subject, only one moves the time on.
    moved = session.execute(
        update(SubjectReader)
        .where(
            SubjectReader.project == project,
            SubjectReader.subject == subject,
            SubjectReader.user_id == user_id,
            SubjectReader.last_time <= cutoff,
        )
        .values(last_time=now),
        execution_options={"synchronize_session": False},
    )
    return moved.rowcount == 1  # type: ignore[attr-defined]


def take_series(session: Session, project: str, series: str, user_id: int, now: datetime) -> bool:
    """Record the reader as the series' reader unless it has one; whether it is theirs."""
    session.execute(
        rows.insert_skipping_taken(session, SERIES),
        {"project": project, "series": series, "user_id": user_id, "time": now},
    )
    return series_owners(session, project, [series]).get(series) == user_id


def series_owners(session: Session, project: str, series: Iterable[str]) -> dict[str, int]:
    """{series: the reader it belongs to} of those that have one."""
    wanted = sorted(set(series))
    found: dict[str, int] = {}
    for start in range(0, len(wanted), CHUNK):
        query = select(SeriesReader.series, SeriesReader.user_id).where(
            SeriesReader.project == project,
            SeriesReader.series.in_(wanted[start : start + CHUNK]),
        )
        found.update({key: user_id for key, user_id in as_tuples(session.execute(query))})
    return found


def subject_times(
    session: Session, project: str, subjects: Iterable[str]
) -> dict[str, dict[int, datetime]]:
    """{subject: {reader: when they last got it}} of these subjects."""
    wanted = sorted(set(subjects))
    found: dict[str, dict[int, datetime]] = {}
    for start in range(0, len(wanted), CHUNK):
        query = select(SubjectReader.subject, SubjectReader.user_id, SubjectReader.last_time).where(
            SubjectReader.project == project,
            SubjectReader.subject.in_(wanted[start : start + CHUNK]),
        )
        for subject, user_id, last_time in as_tuples(session.execute(query)):
            found.setdefault(subject, {})[user_id] = last_time
    return found


def record_existing(session: Session, project: str) -> None:
    """Record the readers of the project's tasks handed out so far (assigned by name, locked or
    done by someone), so that rules set now count them. Aborted tasks count for nobody."""
    readers = union_all(
        select(Task.id, Task.subject, Task.series, task_users.c.user_id, Task.create_time)
        .join(task_users, task_users.c.task_id == Task.id)
        .where(_handed_out(project)),
        select(Task.id, Task.subject, Task.series, Task.lock_id, Task.lock_time).where(
            _handed_out(project), Task.lock_id.is_not(None)
        ),
        select(Task.id, Task.subject, Task.series, Task.done_by_id, Task.done_time).where(
            _handed_out(project), Task.done_by_id.is_not(None)
        ),
    ).subquery()
    subjects: dict[tuple[str, int], datetime] = {}
    series: dict[str, tuple[int, int, datetime]] = {}
    query = select(readers).order_by(readers.c.id)
    for task_id, subject, series_key, user_id, time in as_tuples(session.execute(query)):
        time = time or datetime.min
        if subject is not None:
            key = (subject, user_id)
            subjects[key] = max(subjects.get(key, time), time)
        if series_key is not None and series_key not in series:
            series[series_key] = (task_id, user_id, time)
    subject_rows = [
        {"project": project, "subject": subject, "user_id": user_id, "last_time": time}
        for (subject, user_id), time in subjects.items()
    ]
    series_rows = [
        {"project": project, "series": key, "user_id": user_id, "time": time}
        for key, (_task_id, user_id, time) in series.items()
    ]
    for start in range(0, max(len(subject_rows), len(series_rows)), CHUNK):
        rows.insert_missing(session, SUBJECTS, subject_rows[start : start + CHUNK])
        rows.insert_missing(session, SERIES, series_rows[start : start + CHUNK])


def _handed_out(project: str) -> ColumnElement[bool]:
    return and_(
        Task.project == project,
        Task.status != TaskStatus.ABORTED,
        (Task.subject.is_not(None)) | (Task.series.is_not(None)),
    )


def holds_at_least(session: Session, project: str, user_id: int, count: int) -> bool:
    """Whether the reader holds `count` or more open tasks of the project (reads at most that
    many: the cost follows the cap, not how much they hold)."""
    return bool(session.scalar(select(holding_at_least(project, user_id, count))))


def holding_at_least(project: Any, user_id: Any, count: Any) -> ColumnElement[bool]:
    """SQL: the reader holds `count` or more open tasks of the project (assigned to them by
    name, or locked). Of its own copy of the tasks table: inside a search of tasks it is asked
    once per statement, not per row."""
    held_task = aliased(Task, name="held_task")
    is_open = and_(held_task.project == project, held_task.status.not_in(CLOSED_STATUSES))
    named = (
        select(held_task.id)
        .join(task_users, task_users.c.task_id == held_task.id)
        .where(is_open, task_users.c.user_id == user_id)
    )
    locked = select(held_task.id).where(is_open, held_task.lock_id == user_id)
    held = union(named, locked).limit(count).subquery()
    return select(func.count()).select_from(held).scalar_subquery() >= count


def open_held(session: Session, project: str, user_ids: Iterable[int]) -> dict[int, int]:
    """{reader: open tasks of the project they hold} (assigned to them by name, or locked)."""
    wanted = sorted(set(user_ids))
    held: dict[int, set[int]] = {user_id: set() for user_id in wanted}
    is_open = and_(Task.project == project, Task.status.not_in(CLOSED_STATUSES))
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        named = (
            select(task_users.c.user_id, Task.id)
            .join(Task, Task.id == task_users.c.task_id)
            .where(is_open, task_users.c.user_id.in_(chunk))
        )
        locked = select(Task.lock_id, Task.id).where(is_open, Task.lock_id.in_(chunk))
        for user_id, task_id in as_tuples(session.execute(union_all(named, locked))):
            held[user_id].add(task_id)
    return {user_id: len(task_ids) for user_id, task_ids in held.items()}


def recorded_in_one_statement(
    found: Any,
    *,
    project: Any,
    user_id: Any,
    now: Any,
    cutoff: Any,
    subject_rule: bool,
    distinct: bool,
    series_rule: bool,
    name: str,
) -> ColumnElement[bool]:
    """PostgreSQL, inside the one statement that takes a task: record the reader of the task
    `found` (a CTE of one row: project, subject, series) in the ledgers of `project`'s rules,
    as data-modifying CTEs; SQL that is true when the ledgers let the task be theirs.

    The same rules as take_series and take_subject: of two statements recording a key, the
    second waits for the first and then finds its row (ON CONFLICT DO NOTHING). A statement
    sees no row written after it began, so "the series is theirs" is "this statement recorded
    it, or it was theirs before". The subject is recorded only when the series went to them.
    """
    ledger_ok: list[ColumnElement[bool]] = []
    if series_rule:
        series_taken = (
            postgresql.insert(SERIES)
            .from_select(
                ["project", "series", "user_id", "time"],
                select(found.c.project, found.c.series, user_id, now).where(
                    found.c.project == project, found.c.series.is_not(None)
                ),
            )
            .on_conflict_do_nothing()
            .returning(SERIES.c.user_id)
            .cte(f"series_taken_{name}")
        )
        theirs_before = select(SERIES.c.user_id).where(
            SERIES.c.project == found.c.project,
            SERIES.c.series == found.c.series,
            SERIES.c.user_id == user_id,
        )
        ledger_ok.append(
            or_(
                found.c.series.is_(None),
                exists(select(series_taken.c.user_id)),
                exists(theirs_before),
            )
        )
    if subject_rule:
        series_ok = and_(true(), *ledger_ok)
        subject_taken = (
            postgresql.insert(SUBJECTS)
            .from_select(
                ["project", "subject", "user_id", "last_time"],
                select(found.c.project, found.c.subject, user_id, now).where(
                    found.c.project == project, found.c.subject.is_not(None), series_ok
                ),
            )
            .on_conflict_do_nothing()
            .returning(SUBJECTS.c.user_id)
            .cte(f"subject_taken_{name}")
        )
        subject_ok = [found.c.subject.is_(None), exists(select(subject_taken.c.user_id))]
        if not distinct:
            # After the washout the reader's time moves on (a row this statement inserted is
            # not seen here: it did not exist when the statement began).
            moved = (
                update(SUBJECTS)
                .where(
                    SUBJECTS.c.project == found.c.project,
                    SUBJECTS.c.subject == found.c.subject,
                    SUBJECTS.c.user_id == user_id,
                    SUBJECTS.c.last_time <= cutoff,
                    found.c.project == project,
                    series_ok,
                )
                .values(last_time=now)
                .returning(SUBJECTS.c.user_id)
                .cte(f"subject_moved_{name}")
            )
            subject_ok.append(exists(select(moved.c.user_id)))
        ledger_ok.append(or_(*subject_ok))
    if not ledger_ok:
        return true()  # a cap alone: the search counted
    return or_(found.c.project != project, and_(*ledger_ok))
