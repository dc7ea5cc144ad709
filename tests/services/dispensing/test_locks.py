import json
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from taskmanager.models import Tag, Task, TaskHistory, utcnow
from taskmanager.services.dispensing import claims, locks
from taskmanager.services.kit.errors import Forbidden, InvalidInput

from ..support import rows
from ..support.task_factories import make_group, make_user


@pytest.fixture
def people(session):
    return {
        "ann": make_user(session, "ann"),
        "bob": make_user(session, "bob"),
        "sue": make_user(session, "sue", roles=["superuser"]),
    }


def _history(session, task_id: int) -> list[tuple[str, str | None, dict]]:
    entries = session.scalars(
        select(TaskHistory).where(TaskHistory.task_id == task_id).order_by(TaskHistory.id)
    )
    return [(e.action, e.actor.username, json.loads(e.detail or "{}")) for e in entries]


def test_lock_is_taken_when_free_renewed_by_holder_and_refused_to_others(session, people):
    ann, bob = people["ann"], people["bob"]
    task = rows.task(session, assignees=[ann, bob])
    assert locks.lock(session, task=task, actor=ann) is ann
    first_time = task.lock_time
    assert locks.lock(session, task=task, actor=ann) is ann  # idempotent, renews
    assert task.lock_time >= first_time
    with pytest.raises(locks.LockHeld) as held:
        locks.lock(session, task=task, actor=bob)
    assert held.value.holder is ann
    assert locks.holder(session, task=task, timeout=None) is ann
    # Only changes of hands are history, not renewals.
    assert _history(session, task.id) == [("lock", "ann", {"user": "ann"})]


def test_naming_another_user_needs_lock_all_rights(session, people):
    ann, bob, sue = people["ann"], people["bob"], people["sue"]
    task = rows.task(session, assignees=[ann, bob])
    with pytest.raises(Forbidden):
        locks.lock(session, task=task, actor=ann, target=bob)
    # Naming oneself is allowed (and refused only when someone else holds it).
    assert locks.lock(session, task=task, actor=ann, target=ann) is ann
    with pytest.raises(locks.LockHeld):
        locks.lock(session, task=task, actor=bob, target=bob)
    # A superuser without a body is refused like anyone; naming a user moves the lock.
    with pytest.raises(locks.LockHeld):
        locks.lock(session, task=task, actor=sue)
    assert locks.lock(session, task=task, actor=sue, target=bob) is bob
    assert task.lock is bob
    assert _history(session, task.id)[-1] == ("lock", "sue", {"user": "bob"})


def test_locking_to_an_inactive_user_is_refused(session, people):
    gone = make_user(session, "gone", active=False)
    task = rows.task(session)
    with pytest.raises(InvalidInput):
        locks.lock(session, task=task, actor=people["sue"], target=gone)


def test_release_by_holder_or_lock_all_rights_only(session, people):
    ann, bob, sue = people["ann"], people["bob"], people["sue"]
    task = rows.task(session, assignees=[ann, bob])
    locks.lock(session, task=task, actor=ann)
    with pytest.raises(Forbidden):
        locks.release(session, task=task, actor=bob)
    locks.release(session, task=task, actor=ann)
    assert task.lock_id is None
    locks.release(session, task=task, actor=bob)  # releasing a free lock is fine
    locks.lock(session, task=task, actor=bob)
    locks.release(session, task=task, actor=sue)
    assert locks.holder(session, task=task, timeout=None) is None
    assert [(action, actor, detail) for action, actor, detail in _history(session, task.id)] == [
        ("lock", "ann", {"user": "ann"}),
        ("unlock", "ann", {"user": "ann"}),
        ("lock", "bob", {"user": "bob"}),
        ("unlock", "sue", {"user": "bob"}),
    ]


def _age_lock(session, task: Task, seconds: float) -> None:
    session.execute(
        update(Task)
        .where(Task.id == task.id)
        .values(lock_time=utcnow() - timedelta(seconds=seconds))
    )
    session.expire(task)


def test_leases_lapse_without_renewal(session, people):
    ann, bob = people["ann"], people["bob"]
    task = rows.task(session, assignees=[ann, bob])
    locks.lock(session, task=task, actor=ann, timeout=60)
    _age_lock(session, task, 30)
    assert locks.holder(session, task=task, timeout=60) is ann
    with pytest.raises(locks.LockHeld):
        locks.lock(session, task=task, actor=bob, timeout=60)
    locks.lock(session, task=task, actor=ann, timeout=60)  # renewal restarts the lease
    _age_lock(session, task, 61)
    assert locks.holder(session, task=task, timeout=60) is None
    # Without a timeout locks never lapse.
    assert locks.holder(session, task=task, timeout=None) is ann
    # A lapsed lock is free: bob may not release it, but may take it.
    locks.release(session, task=task, actor=bob, timeout=60)
    assert locks.lock(session, task=task, actor=bob, timeout=60) is bob


def test_claim_next_takes_oldest_free_queued_visible_task(session, people):
    ann, bob = people["ann"], people["bob"]
    others = rows.tasks(session, 2, assignees=[bob])
    done = rows.tasks(session, 1, assignees=[ann], status="done")
    mine = rows.tasks(session, 3, assignees=[ann])
    assert others and done
    locks.lock(session, task=session.get(Task, mine[0]), actor=bob)  # (as a superuser would)
    first = claims.claim_next(session, user=ann)
    session.expire_all()
    claimed = session.get(Task, first.id)
    assert first == claims.Claim(id=mine[1], project="p", template_id=claimed.template_id)
    assert claimed.lock is ann
    second = claims.claim_next(session, user=ann)
    assert second is not None and second.id == mine[2]
    assert claims.claim_next(session, user=ann) is None
    assert _history(session, mine[1]) == [("lock", "ann", {"user": "ann", "claimed": True})]


def test_a_task_locked_for_a_moment_by_someone_not_claiming_it_is_still_claimed(session, people):
    """A request that edits a task, or (MariaDB) a claim that only looked at it, holds its row
    lock for a moment; a claim then must wait for that lock, not answer "nothing to do"."""
    ann = people["ann"]
    (only,) = rows.tasks(session, 1, assignees=[ann])
    session.commit()
    engine = session.get_bind()
    locked, release = threading.Event(), 0.6

    def look_at_it_for_a_moment() -> None:
        with engine.connect() as other:
            other.execute(select(Task.id).where(Task.id == only).with_for_update())
            locked.set()
            time.sleep(release)
            other.rollback()

    looker = threading.Thread(target=look_at_it_for_a_moment)
    looker.start()
    try:
        assert locked.wait(10)
        claim = claims.claim_next(session, user=ann)
        session.commit()
    finally:
        looker.join(10)
    assert claim is not None and claim.id == only
    assert _history(session, only) == [("lock", "ann", {"user": "ann", "claimed": True})]


def test_claim_next_filters(session, people):
    ann = people["ann"]
    plain = rows.tasks(session, 1, assignees=[ann], project="a", label="t1")
    wanted = rows.tasks(session, 1, assignees=[ann], project="b", label="t2")
    tagged = rows.task(session, assignees=[ann], project="a", label="t1")
    tagged.tags.extend([Tag(name="x"), Tag(name="y")])
    session.flush()
    assert claims.claim_next(session, user=ann, project="c") is None
    assert claims.claim_next(session, user=ann, template="t2").id == wanted[0]
    assert claims.claim_next(session, user=ann, tags=["x", "z"]) is None
    assert claims.claim_next(session, user=ann, project="a", tags=["x", "y"]).id == tagged.id
    assert claims.claim_next(session, user=ann, template=str(tagged.template_id)).id == plain[0]
    assert claims.claim_next(session, user=ann, template="9" * 30) is None  # no such id, no error


def test_claim_next_sees_tasks_through_groups(session, people):
    ann, bob = people["ann"], people["bob"]
    team = make_group(session, "team", [ann])
    rows.tasks(session, 1, assignees=[bob])
    via_group = rows.tasks(session, 1, groups=[team])
    assert claims.claim_next(session, user=ann).id == via_group[0]
    assert claims.claim_next(session, user=ann) is None


def test_claim_next_takes_lapsed_locks_in_id_order(session, people):
    ann, bob = people["ann"], people["bob"]
    task = rows.task(session, assignees=[ann, bob])
    locks.lock(session, task=task, actor=bob, timeout=10)
    assert claims.claim_next(session, user=ann, timeout=10) is None
    newer = rows.tasks(session, 1, assignees=[ann])
    _age_lock(session, task, 11)
    # The lapsed task is older than the never-locked one: it goes first.
    assert claims.claim_next(session, user=ann, timeout=10).id == task.id
    session.expire_all()
    assert session.get(Task, task.id).lock is ann
    assert claims.claim_next(session, user=ann, timeout=10).id == newer[0]
