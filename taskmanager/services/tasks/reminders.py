"""Digest mails for overdue and long-locked tasks (`taskmanager remind`).

Each active user with a real address gets one mail listing the open tasks they should act on:
overdue ones (due passed) given to them directly or locked by them, and ones they have held
locked for longer than `locked_hours`. Waiting tasks are left out: their data is not there yet,
so nobody can work on them.

At most one digest per user and UTC day, whatever runs at once: the reminders_sent row
(user, day) is committed before the mail goes out, so a concurrent run's insert of the same key
fails and that run skips the user. When sending fails the row is deleted again, so a later run
retries; a crash between the two loses that day's mail rather than sending it twice.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from sqlalchemy import Row, and_, delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ...models import ReminderSent, Task, User, task_users
from ...models.statuses import CLOSED_STATUSES, TaskStatus
from ...wording import counted

DEFAULT_LOCKED_HOURS = 48
# A digest lists this many tasks and says how many more there are.
MAX_LINES = 50
# Accounts imported without an address get `name@localhost` (config_import): no one reads it.
PLACEHOLDER_DOMAINS = frozenset({"localhost"})
_NOT_ACTIONABLE = (*CLOSED_STATUSES, TaskStatus.WAITING)


@dataclass(frozen=True)
class Options:
    """What a run looks for and how its mails read."""

    locked_hours: int = DEFAULT_LOCKED_HOURS
    # The server's address as users reach it (TASKMAN_EXTERNAL_URL); without it, no links.
    base_url: str | None = None
    site_name: str = "TaskManager"


@dataclass(frozen=True)
class Line:
    """One task in a digest: why it is there, and since when."""

    task_id: int
    project: str
    tracking_id: str
    due: datetime | None
    lock_time: datetime | None
    overdue: bool
    locked_long: bool


@dataclass(frozen=True)
class Digest:
    """One user's mail: the tasks (overdue first, oldest first), and the mail's text."""

    user_id: int
    username: str
    email: str
    lines: tuple[Line, ...]
    now: datetime
    options: Options = field(default_factory=Options)

    @property
    def overdue(self) -> int:
        return sum(line.overdue for line in self.lines)

    @property
    def locked(self) -> int:
        return sum(line.locked_long for line in self.lines)

    @property
    def summary(self) -> str:
        """`3 overdue, 1 locked for 3 days`."""
        parts = []
        if self.overdue:
            parts.append(f"{self.overdue} overdue")
        if self.locked:
            oldest = min(
                line.lock_time for line in self.lines if line.locked_long and line.lock_time
            )
            span = _age(self.now - oldest)
            parts.append(
                f"{self.locked} locked for {span if self.locked == 1 else 'up to ' + span}"
            )
        return ", ".join(parts)

    @property
    def subject(self) -> str:
        return f"{self.options.site_name}: {self.summary}"

    def link(self, line: Line) -> str | None:
        base = self.options.base_url
        return f"{base.rstrip('/')}/tasks/{line.task_id}" if base else None

    def describe(self, line: Line) -> str:
        """`due 2 days ago, locked for 3 days` (what makes the task part of the digest)."""
        reasons = []
        if line.overdue and line.due is not None:
            reasons.append(f"due {_age(self.now - line.due)} ago")
        if line.lock_time is not None and (line.locked_long or line.overdue):
            reasons.append(f"locked by you for {_age(self.now - line.lock_time)}")
        return ", ".join(reasons)

    @property
    def text(self) -> str:
        body = [
            f"Hello {self.username},",
            "",
            f"{self.summary.capitalize()} on {self.options.site_name}:",
            "",
        ]
        for line in self.lines[:MAX_LINES]:
            entry = (
                f"- Task {line.task_id} ({line.project}, {line.tracking_id}): {self.describe(line)}"
            )
            link = self.link(line)
            body.append(f"{entry}\n  {link}" if link else entry)
        body.extend(self._more())
        body += ["", "Please finish these tasks, or release the ones you cannot do."]
        return "\n".join(body) + "\n"

    @property
    def html(self) -> str:
        items = []
        for line in self.lines[:MAX_LINES]:
            link = self.link(line)
            name = html.escape(f"Task {line.task_id}")
            title = f'<a href="{html.escape(link)}">{name}</a>' if link else name
            detail = html.escape(f"({line.project}, {line.tracking_id}): {self.describe(line)}")
            items.append(f"<li>{title} {detail}</li>")
        more = "".join(f"<p>{html.escape(text)}</p>" for text in self._more())
        return (
            f"<p>Hello {html.escape(self.username)},</p>"
            f"<p>{html.escape(self.summary.capitalize())} on "
            f"{html.escape(self.options.site_name)}:</p>"
            f"<ul>{''.join(items)}</ul>{more}"
            "<p>Please finish these tasks, or release the ones you cannot do.</p>"
        )

    def _more(self) -> list[str]:
        hidden = len(self.lines) - MAX_LINES
        return [f"... and {counted(hidden, 'more task')}."] if hidden > 0 else []


class Outcome(StrEnum):
    SENT = "sent"
    WOULD_SEND = "would send"
    ALREADY_SENT = "already reminded today"
    FAILED = "not sent"


@dataclass(frozen=True)
class Result:
    digest: Digest
    outcome: Outcome
    error: str | None = None


# Sends one digest; raises OSError (smtplib's errors are OSErrors) when the mail did not go out.
Mailer = Callable[[Digest], None]


def _age(delta: timedelta) -> str:
    """A duration as people say it: in days from one day on, else hours, else minutes."""
    seconds = max(int(delta.total_seconds()), 0)
    if seconds >= 86400:
        return counted(seconds // 86400, "day")
    if seconds >= 3600:
        return counted(seconds // 3600, "hour")
    return counted(max(seconds // 60, 1), "minute")


def _mailable(email: str | None) -> bool:
    local, at, domain = (email or "").rpartition("@")
    return bool(local and at and domain) and domain.lower() not in PLACEHOLDER_DOMAINS


# What a digest needs of a task and of the user it is for (not the tasks' content).
_COLUMNS = (
    Task.id,
    Task.project,
    Task.tracking_id,
    Task.due,
    Task.lock_id,
    Task.lock_time,
    User.id.label("user_id"),
    User.username,
    User.email,
)
_Candidate = Row[int, str, str, datetime | None, int | None, datetime | None, int, str, str]


def _candidates(session: Session, now: datetime, locked_hours: int) -> list[_Candidate]:
    """A row per task and user: overdue and given to the user directly, or overdue or held too
    long and locked by the user. A pair may come twice; `collect` merges them."""
    locked_before = now - timedelta(hours=locked_hours)
    open_task = Task.status.not_in([status.value for status in _NOT_ACTIONABLE])
    reachable = User.active.is_(True)
    assigned = (
        select(*_COLUMNS)
        .join(task_users, task_users.c.task_id == Task.id)
        .join(User, User.id == task_users.c.user_id)
        .where(open_task, reachable, Task.due < now)
    )
    locked = (
        select(*_COLUMNS)
        .join(User, User.id == Task.lock_id)
        .where(
            open_task,
            reachable,
            or_(Task.due < now, and_(Task.lock_time.is_not(None), Task.lock_time < locked_before)),
        )
    )
    return [row for query in (assigned, locked) for row in session.execute(query)]


def _line(row: _Candidate, now: datetime, locked_before: datetime) -> Line:
    held = row.lock_id == row.user_id and row.lock_time is not None
    return Line(
        task_id=row.id,
        project=row.project,
        tracking_id=row.tracking_id,
        due=row.due,
        lock_time=row.lock_time if held else None,
        overdue=row.due is not None and row.due < now,
        locked_long=held and row.lock_time < locked_before,
    )


def collect(session: Session, now: datetime, options: Options | None = None) -> list[Digest]:
    """Every user's digest, by user id; users with nothing to be reminded of have none."""
    options = options or Options()
    locked_before = now - timedelta(hours=options.locked_hours)
    addressees: dict[int, tuple[str, str]] = {}
    lines: dict[int, dict[int, Line]] = {}
    for row in _candidates(session, now, options.locked_hours):
        if not _mailable(row.email):
            continue
        addressees[row.user_id] = (row.username, row.email)
        lines.setdefault(row.user_id, {})[row.id] = _line(row, now, locked_before)
    return [
        Digest(
            user_id=user_id,
            username=username,
            email=email,
            lines=tuple(sorted(lines[user_id].values(), key=_sort_key)),
            now=now,
            options=options,
        )
        for user_id, (username, email) in sorted(addressees.items())
    ]


def _sort_key(line: Line) -> tuple[int, float, int]:
    since = line.due if line.overdue else line.lock_time
    return (0 if line.overdue else 1, since.timestamp() if since else 0.0, line.task_id)


def reminded_on(session: Session, day: date) -> set[int]:
    """The users who got their digest on `day` (UTC)."""
    return set(session.scalars(select(ReminderSent.user_id).where(ReminderSent.day == day)))


def send_all(
    session: Session,
    now: datetime,
    mailer: Mailer,
    dry_run: bool,
    options: Options | None = None,
) -> list[Result]:
    """Send each user's digest unless they had one today (UTC); a dry run stores and sends
    nothing and says what it would send."""
    digests = collect(session, now, options)
    day = now.astimezone(UTC).date()
    already = reminded_on(session, day)
    session.rollback()  # end the reading transaction: each claim below is a transaction of its own
    results = []
    for digest in digests:
        if digest.user_id in already:
            results.append(Result(digest, Outcome.ALREADY_SENT))
        elif dry_run:
            results.append(Result(digest, Outcome.WOULD_SEND))
        else:
            results.append(_send(session, digest, day, mailer))
    return results


def _send(session: Session, digest: Digest, day: date, mailer: Mailer) -> Result:
    if not _claim(session, digest, day):
        return Result(digest, Outcome.ALREADY_SENT)
    try:
        mailer(digest)
    except BaseException as error:
        _release(session, digest.user_id, day)
        if isinstance(error, OSError):
            return Result(digest, Outcome.FAILED, str(error) or type(error).__name__)
        raise
    return Result(digest, Outcome.SENT)


def _claim(session: Session, digest: Digest, day: date) -> bool:
    """Record today's digest; False when another run recorded it first."""
    session.add(
        ReminderSent(
            user_id=digest.user_id, day=day, sent_time=digest.now, task_count=len(digest.lines)
        )
    )
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return False
    return True


def _release(session: Session, user_id: int, day: date) -> None:
    """Forget a digest that did not go out, so that a later run sends it."""
    session.rollback()
    session.execute(
        delete(ReminderSent).where(ReminderSent.user_id == user_id, ReminderSent.day == day)
    )
    session.commit()


def outcome_counts(results: Sequence[Result]) -> dict[Outcome, int]:
    counts = dict.fromkeys(Outcome, 0)
    for result in results:
        counts[result.outcome] += 1
    return counts
