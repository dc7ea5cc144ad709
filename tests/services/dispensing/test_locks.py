from typing import Any

import pytest

from taskmanager.services.dispensing import locks
from taskmanager.services.kit.errors import Forbidden, InvalidInput

from ...support import rows
from ...support.dispensing import age_lock, history
from ...support.task_factories import make_user
from ...web.seed import seed


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
    assert history(session, task.id) == [("lock", "ann", {"user": "ann"})]


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
    assert history(session, task.id)[-1] == ("lock", "sue", {"user": "bob"})


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
    assert [(action, actor, detail) for action, actor, detail in history(session, task.id)] == [
        ("lock", "ann", {"user": "ann"}),
        ("unlock", "ann", {"user": "ann"}),
        ("lock", "bob", {"user": "bob"}),
        ("unlock", "sue", {"user": "bob"}),
    ]


def test_leases_lapse_without_renewal(session, people):
    ann, bob = people["ann"], people["bob"]
    task = rows.task(session, assignees=[ann, bob])
    locks.lock(session, task=task, actor=ann, timeout=60)
    age_lock(session, task, 30)
    assert locks.holder(session, task=task, timeout=60) is ann
    with pytest.raises(locks.LockHeld):
        locks.lock(session, task=task, actor=bob, timeout=60)
    locks.lock(session, task=task, actor=ann, timeout=60)  # renewal restarts the lease
    age_lock(session, task, 61)
    assert locks.holder(session, task=task, timeout=60) is None
    # Without a timeout locks never lapse.
    assert locks.holder(session, task=task, timeout=None) is ann
    # A lapsed lock is free: bob may not release it, but may take it.
    locks.release(session, task=task, actor=bob, timeout=60)
    assert locks.lock(session, task=task, actor=bob, timeout=60) is bob


def test_held_locks_leave_out_lapsed_leases(session: Any) -> None:
    world = seed(session)
    locked = world.tasks[0]
    assert locks.held_locks(session, task_ids=[locked.id], timeout=None) == {locked.id}
    assert locks.held_locks(session, task_ids=[locked.id], timeout=-1) == set()
    locks.release(session, task=locked, actor=world.admin)
    assert locks.held_locks(session, task_ids=[locked.id], timeout=None) == set()
