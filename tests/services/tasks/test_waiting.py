"""Tasks waiting for their data: which are due for a check, and what each answer does to them."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select, update

from taskmanager.models import Task, TaskHistory, utcnow
from taskmanager.services.dispensing import claims
from taskmanager.services.tasks import policy, waiting
from taskmanager.services.tasks.waiting import Answer, Backoff

from ...support.task_factories import make_group, make_task, make_template, make_user

URL = "http://127.0.0.1:9/data/1"
BACKOFF = Backoff(interval=60.0, longest=3600.0)
LEASE = timedelta(seconds=40)


@pytest.fixture
def template(session):
    return make_template(session, "tpl")


def _waiting(session, **fields) -> Task:
    fields.setdefault("users", [])
    task = make_task(session, wait_for=URL, **fields)
    session.commit()
    return task


def _fresh(session, task_id: int) -> Task:
    session.rollback()
    task = session.get(Task, task_id, populate_existing=True)
    assert task is not None
    return task


def _history(session, task_id: int) -> list[tuple[str, dict]]:
    rows = session.execute(
        select(TaskHistory.action, TaskHistory.detail)
        .where(TaskHistory.task_id == task_id)
        .order_by(TaskHistory.id)
    ).all()
    return [(action, json.loads(detail) if detail else {}) for action, detail in rows]


def _same_second(stored: datetime | None, expected: datetime) -> bool:
    """MariaDB's DATETIME keeps whole seconds."""
    return stored is not None and abs(stored - expected) < timedelta(seconds=1)


def test_backoff_doubles_from_the_interval_up_to_the_longest() -> None:
    seconds = [BACKOFF.after(n).total_seconds() for n in (1, 2, 3, 7, 8, 500)]
    assert seconds == [60, 120, 240, 3600, 3600, 3600]
    # A longest shorter than the interval means the interval.
    assert Backoff(interval=10, longest=1).after(3) == timedelta(seconds=10)


def test_due_are_the_waiting_tasks_never_checked_or_past_their_time(session, template) -> None:
    never = _waiting(session)
    past = _waiting(session)
    later = _waiting(session)
    queued = make_task(session, users=["admin"])
    now = utcnow()
    session.execute(update(Task).where(Task.id == past.id).values(wait_next_time=now))
    session.execute(
        update(Task).where(Task.id == later.id).values(wait_next_time=now + timedelta(hours=1))
    )
    session.commit()
    before = _fresh(session, never.id).update_time

    claimed = waiting.due_for_check(session, limit=10, lease=LEASE)

    assert [(due.task_id, due.url) for due in claimed] == [(never.id, URL), (past.id, URL)]
    assert queued.id not in {due.task_id for due in claimed}
    # Claimed for the lease: nobody else checks them meanwhile.
    assert waiting.due_for_check(session, limit=10, lease=LEASE) == []
    claimed_row = _fresh(session, never.id)
    assert claimed_row.wait_next_time is not None and claimed_row.wait_next_time > utcnow()
    assert claimed_row.update_time == before  # a check is no change to the task
    assert waiting.next_check_at(session) == claimed_row.wait_next_time


def test_due_takes_no_more_than_the_limit(session, template) -> None:
    tasks = [_waiting(session) for _ in range(3)]
    first = waiting.due_for_check(session, limit=2, lease=LEASE)
    second = waiting.due_for_check(session, limit=2, lease=LEASE)
    assert [due.task_id for due in first + second] == [task.id for task in tasks]


def test_a_404_leaves_it_waiting_says_why_and_backs_off(session, template) -> None:
    task = _waiting(session)
    now = utcnow()
    outcome = waiting.record_check(
        session, task_id=task.id, answer=Answer(404, excerpt="Not Found"), backoff=BACKOFF, now=now
    )
    stored = _fresh(session, task.id)
    assert outcome == "waiting" and stored.status == "waiting"
    assert stored.wait_attempts == 1 and _same_second(stored.wait_checked_time, now)
    assert stored.wait_detail is not None and stored.wait_detail.startswith("GET answered 404 at")
    assert stored.wait_detail.endswith(": Not Found")
    assert _same_second(stored.wait_next_time, now + timedelta(seconds=60))
    assert [action for action, _ in _history(session, task.id)] == ["create"]
    assert stored.users == [] and stored.dispatch_pending

    waiting.record_check(
        session, task_id=task.id, answer=Answer(None, "ConnectionError: refused"), backoff=BACKOFF
    )
    stored = _fresh(session, task.id)
    assert stored.wait_attempts == 2
    assert "GET failed at" in (stored.wait_detail or "") and "refused" in (stored.wait_detail or "")
    next_time = stored.wait_next_time
    assert next_time is not None and stored.wait_checked_time is not None
    # Doubled; never sooner (MariaDB keeps whole seconds: a second later there).
    assert timedelta(seconds=120) <= next_time - stored.wait_checked_time <= timedelta(seconds=121)


def test_a_redirect_is_not_taken_for_the_data(session, template) -> None:
    task = _waiting(session)
    waiting.record_check(session, task_id=task.id, answer=Answer(302), backoff=BACKOFF)
    stored = _fresh(session, task.id)
    assert stored.status == "waiting"
    assert "redirects are not followed" in (stored.wait_detail or "")


def test_a_long_answer_is_cut_to_the_column(session, template) -> None:
    task = _waiting(session)
    answer = Answer(500, excerpt="x" * 2000)
    waiting.record_check(session, task_id=task.id, answer=answer, backoff=BACKOFF)
    assert len(_fresh(session, task.id).wait_detail or "") == waiting.DETAIL_MAX


def test_a_2xx_queues_it_records_when_and_hands_it_out(session, template) -> None:
    alice = make_user(session, "alice")
    session.commit()
    task = _waiting(session)
    assert claims.claim_next(session, user=alice) is None  # waiting: not claimable

    outcome = waiting.record_check(session, task_id=task.id, answer=Answer(200), backoff=BACKOFF)

    stored = _fresh(session, task.id)
    assert outcome == "arrived" and stored.status == "queued"
    assert stored.wait_detail is None and stored.wait_next_time is None
    assert stored.wait_attempts == 1 and not stored.dispatch_pending
    assert len(stored.users) == 1
    actions = _history(session, task.id)
    assert [action for action, _ in actions] == ["create", "status", "assign"]
    status = actions[1][1]
    assert (status["old"], status["new"], status["wait_for"]) == ("waiting", "queued", URL)
    assert actions[2][1]["automatic"] is True
    holder = stored.users[0]
    claimed = claims.claim_next(session, user=holder)
    assert claimed is not None and claimed.id == task.id


def test_dispatch_on_arrival_goes_to_the_group_it_was_created_with(session, template) -> None:
    readers = [make_user(session, f"reader{n}") for n in range(2)]
    make_user(session, "outsider", weight=100)
    make_group(session, "readers", readers)
    session.commit()
    tasks = [_waiting(session, distribute_in_group="readers") for _ in range(4)]
    for task in tasks:
        waiting.record_check(session, task_id=task.id, answer=Answer(204), backoff=BACKOFF)
    holders = [[user.username for user in _fresh(session, task.id).users] for task in tasks]
    assert sorted(name for names in holders for name in names) == [
        "reader0",
        "reader0",
        "reader1",
        "reader1",
    ]
    assign = _history(session, tasks[0].id)[-1]
    assert assign[0] == "assign" and assign[1]["distribute_in_group"] == "readers"


def test_nobody_eligible_leaves_it_queued_unassigned_and_says_why(session, template) -> None:
    make_group(session, "empty")
    session.commit()
    task = _waiting(session, distribute_in_group="empty")
    outcome = waiting.record_check(session, task_id=task.id, answer=Answer(200), backoff=BACKOFF)
    stored = _fresh(session, task.id)
    assert outcome == "arrived" and stored.status == "queued" and stored.users == []
    assert (stored.wait_detail or "").startswith("Queued, but not handed out: ")
    assert [action for action, _ in _history(session, task.id)] == ["create", "status"]


def test_a_task_created_for_someone_is_only_queued(session, template) -> None:
    make_user(session, "bob")
    session.commit()
    task = _waiting(session, users=["bob"])
    waiting.record_check(session, task_id=task.id, answer=Answer(200), backoff=BACKOFF)
    stored = _fresh(session, task.id)
    assert stored.status == "queued" and [user.username for user in stored.users] == ["bob"]
    assert [action for action, _ in _history(session, task.id)] == ["create", "status"]


def test_assigned_by_hand_while_it_waited_keeps_that_assignment(session, template) -> None:
    bob = make_user(session, "bob")
    session.commit()
    task = _waiting(session)
    task.users.append(bob)
    session.commit()
    waiting.record_check(session, task_id=task.id, answer=Answer(200), backoff=BACKOFF)
    stored = _fresh(session, task.id)
    assert [user.username for user in stored.users] == ["bob"] and not stored.dispatch_pending


@pytest.mark.parametrize("answer", [Answer(200), Answer(404)])
def test_a_status_changed_by_hand_meanwhile_is_left_alone(session, template, answer) -> None:
    task = _waiting(session)
    (due,) = waiting.due_for_check(session, limit=1, lease=LEASE)
    session.execute(update(Task).where(Task.id == task.id).values(status="aborted"))
    session.commit()
    before = _fresh(session, task.id)
    snapshot = (before.wait_attempts, before.wait_detail, before.update_time, before.users)

    outcome = waiting.record_check(session, task_id=due.task_id, answer=answer, backoff=BACKOFF)

    after = _fresh(session, task.id)
    assert outcome == "left" and after.status == "aborted"
    assert (after.wait_attempts, after.wait_detail, after.update_time, after.users) == snapshot
    assert [action for action, _ in _history(session, task.id)] == ["create"]
    assert waiting.record_check(session, task_id=10**9, answer=answer, backoff=BACKOFF) == "left"


def test_dispatch_on_arrival_keeps_the_project_policy(session, template) -> None:
    admin = make_user(session, "study-admin", roles=("admin",), weight=0.0)
    readers = [make_user(session, f"reader{n}") for n in range(2)]
    make_group(session, "readers", readers)
    policy.put(session, "study", {"distinct_readers": True}, admin)
    session.commit()
    reads = [
        _waiting(session, project="study", subject="case-1", distribute_in_group="readers")
        for _ in range(3)
    ]
    for task in reads:
        waiting.record_check(session, task_id=task.id, answer=Answer(200), backoff=BACKOFF)
    holders = [[user.username for user in _fresh(session, task.id).users] for task in reads]
    # Two readers for the first two reads; the third has nobody left and says so.
    assert sorted(names[0] for names in holders[:2]) == ["reader0", "reader1"]
    third = _fresh(session, reads[2].id)
    assert third.status == "queued" and third.users == [] and third.dispatch_pending
    assert "distinct_readers" in (third.wait_detail or "")


def test_an_answer_for_a_url_changed_meanwhile_is_left_alone(session, template) -> None:
    task = _waiting(session)
    (due,) = waiting.due_for_check(session, limit=1, lease=LEASE)
    session.execute(
        update(Task).where(Task.id == task.id).values(wait_for="http://127.0.0.1:9/data/2")
    )
    session.commit()
    outcome = waiting.record_check(
        session, task_id=task.id, answer=Answer(200), backoff=BACKOFF, url=due.url
    )
    stored = _fresh(session, task.id)
    assert outcome == "left" and stored.status == "waiting" and stored.wait_attempts == 0
