import threading
import time

from sqlalchemy import select

from taskmanager.models import Tag, Task
from taskmanager.services.dispensing import claims, locks

from ...support import rows
from ...support.dispensing import age_lock, history
from ...support.task_factories import make_group


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
    assert history(session, mine[1]) == [("lock", "ann", {"user": "ann", "claimed": True})]


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
    assert history(session, only) == [("lock", "ann", {"user": "ann", "claimed": True})]


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
    age_lock(session, task, 11)
    # The lapsed task is older than the never-locked one: it goes first.
    assert claims.claim_next(session, user=ann, timeout=10).id == task.id
    session.expire_all()
    assert session.get(Task, task.id).lock is ann
    assert claims.claim_next(session, user=ann, timeout=10).id == newer[0]
