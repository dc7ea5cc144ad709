"""Task history: who did what to a task, and when."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Insert, Select, Table, insert, literal
from sqlalchemy.orm import Session

from ...models import TaskHistory, User, utcnow
from ..kit import bulk

# Actions recorded; the API documents this vocabulary.
ACTIONS = ("create", "assign", "lock", "unlock", "status", "edit", "delete")

_TABLE = cast(Table, TaskHistory.__table__)
_INSERT = insert(_TABLE)
# Set while one action changes many tasks: their rows share its time (see `one_timestamp`).
_SHARED_NOW: ContextVar[datetime | None] = ContextVar("history_shared_now", default=None)


@contextmanager
def one_timestamp() -> Iterator[datetime]:
    """Every row recorded inside carries the same timestamp: the rows of one bulk action read
    as one event (the activity feed groups rows by actor, action and time)."""
    token = _SHARED_NOW.set(utcnow())
    try:
        yield _now()
    finally:
        _SHARED_NOW.reset(token)


def _now() -> datetime:
    return _SHARED_NOW.get() or utcnow()


def record(
    session: Session,
    *,
    task_id: int,
    actor: User | None,
    action: str,
    detail: dict[str, Any] | None = None,
) -> None:
    """Add one history row in the caller's transaction.

    A plain INSERT, run at once: through the ORM's unit of work it cost a claim more CPU than
    finding and locking the task.
    """
    session.execute(_INSERT, _row(task_id, action, detail, actor, _now()))


def _row(
    task_id: int, action: str, detail: dict[str, Any] | None, actor: User | None, now: datetime
) -> dict[str, Any]:
    return {
        "task_id": task_id,
        "actor_id": actor.id if actor is not None else None,
        "action": action,
        "detail": detail_text(detail),
        "timestamp": now,
    }


def detail_text(detail: dict[str, Any] | None) -> str | None:
    """How a row's detail is stored: JSON text."""
    return json.dumps(detail, default=str) if detail else None


def insert_from(rows: Select[Any], *, action: str) -> Insert:
    """INSERT one history row per row of `rows` (task id, actor id, detail text, timestamp).

    For folding the record into the statement that makes the change.
    """
    return insert(_TABLE).from_select(
        ["task_id", "actor_id", "detail", "timestamp", "action"],
        rows.add_columns(literal(action)),
    )


def record_many(
    session: Session,
    *,
    entries: Iterable[tuple[int, str, dict[str, Any] | None]],
    actor: User | None,
) -> None:
    """Add (task_id, action, detail) rows by the same actor in one bulk INSERT."""
    now = _now()
    rows = [_row(task_id, action, detail, actor, now) for task_id, action, detail in entries]
    bulk.insert_rows(session, _TABLE, rows)


# --- reading: one sentence per row ------------------------------------------------------------


def describe(action: str, detail: Any, actor: str | None) -> str:
    """A history row as a sentence ("status changed from queued to done by alice").

    Knows the detail shapes the services write; anything else still reads, as "changed by ...".
    """
    by = f" by {actor}" if actor else " by the server"
    shown = detail if isinstance(detail, dict) else {}
    describer = _DESCRIBERS.get(action)
    return describer(shown, by, actor) if describer else f"{action or 'changed'}{by}"


def _names(assignment: Any) -> str:
    """'alice, group readers', or 'nobody'."""
    if not isinstance(assignment, dict):
        return "nobody"
    names = [str(name) for name in assignment.get("users") or []]
    names += [f"group {name}" for name in assignment.get("groups") or []]
    return ", ".join(names) or "nobody"


def _created(detail: dict[str, Any], by: str, actor: str | None) -> str:
    sentence = f"created{by}"
    if detail.get("project"):
        sentence += f" in project {detail['project']}"
    if detail.get("automatic"):
        sentence += f", assigned automatically to {_names(detail)}"
        if detail.get("distribute_in_group"):
            sentence += f" from group {detail['distribute_in_group']}"
    elif detail.get("users") or detail.get("groups"):
        sentence += f", assigned to {_names(detail)}"
    return sentence


def _assigned(detail: dict[str, Any], by: str, actor: str | None) -> str:
    old, new = _names(detail.get("old")), _names(detail.get("new"))
    if detail.get("reassigned"):
        return f"moved from {detail.get('from_user', old)} to {new}{by} (reassigning open tasks)"
    return f"assignment changed from {old} to {new}{by}"


def _locked(detail: dict[str, Any], by: str, actor: str | None) -> str:
    holder = detail.get("user")
    if detail.get("claimed"):
        return f"claimed{by} as the next task, and locked"
    if holder and holder != actor:
        return f"locked to {holder}{by}"
    return f"locked{by}"


def _unlocked(detail: dict[str, Any], by: str, actor: str | None) -> str:
    holder = detail.get("user")
    of = f" of {holder}" if holder and holder != actor else ""
    if detail.get("reason") == "done":
        return f"lock{of} released{by}, as the task was done"
    return f"lock{of} released{by}"


def _status(detail: dict[str, Any], by: str, actor: str | None) -> str:
    sentence = f"status changed from {detail.get('old', '?')} to {detail.get('new', '?')}{by}"
    if detail.get("because_of_task"):
        sentence += f", because of task {detail['because_of_task']}"
    return sentence


def _edited(detail: dict[str, Any], by: str, actor: str | None) -> str:
    changes = []
    for name, change in detail.items():
        if name == "raw_content":
            changes.append("content")
        elif isinstance(change, dict) and {"old", "new"} <= change.keys():
            changes.append(f"{name} from {_value(change['old'])} to {_value(change['new'])}")
        else:
            changes.append(name)
    return f"edited{by}" + (f": {'; '.join(changes)}" if changes else "")


VALUE_SHOWN = 60


def _value(value: Any) -> str:
    if value is None or value == []:
        return "none"
    text = ", ".join(str(item) for item in value) if isinstance(value, list) else str(value)
    return text if len(text) <= VALUE_SHOWN else text[: VALUE_SHOWN - 1] + "…"


_DESCRIBERS = {
    "create": _created,
    "assign": _assigned,
    "lock": _locked,
    "unlock": _unlocked,
    "status": _status,
    "edit": _edited,
    "delete": lambda detail, by, actor: f"deleted{by}",
}
