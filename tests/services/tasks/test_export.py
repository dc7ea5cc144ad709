"""The export's walk: every match once, in id order, a batch at a time, in bounded memory."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Iterator
from typing import Any

from sqlalchemy import insert, select

from taskmanager.models import Task, User
from taskmanager.services.tasks import export
from taskmanager.services.tasks import lists as task_lists

from ...support.task_factories import make_group, make_task, make_template, make_user

# Many more rows than one batch holds, and a budget well below what holding them all takes.
ROWS = 6000
BATCH = 100
BUDGET_BYTES = 1_500_000


def _admin(session: Any) -> User:
    return session.scalars(select(User).where(User.username == "admin")).one()


def _ids(batches: Iterator[list[export.ExportRow]]) -> list[list[int]]:
    return [[row.id for row in batch] for batch in batches]


def test_walks_the_viewers_tasks_in_batches_of_the_size_given(session) -> None:
    make_template(session, "tpl")
    alice = make_user(session, "alice")
    make_group(session, "team", [alice])
    mine = [make_task(session, users=["alice"], tags=["x"]).id for _ in range(3)]
    make_task(session, users=["admin"])
    mine.append(make_task(session, groups=["team"]).id)
    conditions = task_lists.walk_conditions(session, viewer=alice, filters=task_lists.Filters())
    assert _ids(export.batches(session, conditions=conditions, size=2)) == [
        mine[:2],
        mine[2:],
    ]
    tagged = task_lists.walk_conditions(
        session, viewer=alice, filters=task_lists.Filters(tags=["x"])
    )
    assert _ids(export.batches(session, conditions=tagged, after=mine[0], size=10)) == [mine[1:3]]
    unknown = task_lists.walk_conditions(
        session, viewer=alice, filters=task_lists.Filters(tags=["nosuchtag"])
    )
    assert _ids(export.batches(session, conditions=unknown)) == []


def _stream_peak(session: Any, conditions: list[Any], *, keep: bool) -> tuple[int, int]:
    """Rows walked and the peak of memory allocated while walking (kept, or each batch
    dropped once read)."""
    gc.collect()
    tracemalloc.start()
    try:
        kept: list[export.ExportRow] = []
        walked = 0
        for batch in export.batches(session, conditions=conditions, size=BATCH):
            walked += len(batch)
            session.rollback()
            if keep:
                kept += batch
        return walked, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_stays_within_a_budget_however_many_rows(session) -> None:
    template = make_template(session, "tpl")
    session.execute(
        insert(Task),
        [
            {"project": "bulk", "raw_content": "{}" * 50, "template_id": template.id}
            for _ in range(ROWS)
        ],
    )
    session.commit()
    conditions = task_lists.walk_conditions(
        session, viewer=_admin(session), filters=task_lists.Filters(project="bulk")
    )
    # Warm the statement caches, whose one-off cost is not the walk's.
    next(export.batches(session, conditions=conditions, size=BATCH))
    session.rollback()
    walked, peak = _stream_peak(session, conditions, keep=False)
    assert walked == ROWS
    assert peak < BUDGET_BYTES, f"streaming {ROWS} rows peaked at {peak:,} bytes"
    # The budget is one a walk that kept its rows would break: this test can fail.
    assert _stream_peak(session, conditions, keep=True)[1] > BUDGET_BYTES
