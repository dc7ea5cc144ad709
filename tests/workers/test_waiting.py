"""Tasks waiting for their data, checked by the callback workers against a real HTTP server:
still waiting on 404, queued and claimable within one check interval of a 200."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from taskmanager import workers
from taskmanager.config import Settings
from taskmanager.models import Task, User, db, utcnow
from taskmanager.services.dispensing import claims
from taskmanager.workers.dispatcher import Dispatcher, LocalDispatcher

from ..conftest import make_env
from ..support.callbacks import quick, quick_env, worker_process
from ..support.receiver import Receiver, wait_until
from ..support.task_factories import make_group, make_task, make_template, make_user

INTERVAL = 0.3


def quick_waits(settings: Settings, **changes: Any) -> Settings:
    """Checks every INTERVAL seconds, without doubling (the longest interval is the interval)."""
    values = {"wait_for_interval": INTERVAL, "wait_for_max_interval": INTERVAL, **changes}
    return quick(settings, **values)


def _reader_and_task(session, url: str) -> tuple[User, Task]:
    make_template(session, "tpl")
    reader = make_user(session, "reader")
    make_group(session, "readers", [reader])
    task = make_task(session, users=[], distribute_in_group="readers", wait_for=url)
    session.commit()
    return reader, task


def _fresh(session, task_id: int) -> Task:
    session.rollback()  # another thread or process writes it
    task = session.get(Task, task_id, populate_existing=True)
    assert task is not None
    return task


def _gets(receiver: Receiver, path: str) -> int:
    return sum(1 for got in receiver.requests if got.method == "GET" and got.path == path)


def test_stays_waiting_on_404_and_is_claimable_within_an_interval_of_200(
    client, admin_headers, session, settings, start_worker
) -> None:
    # A long poll interval: the checks keep their own interval, not the poll's rhythm.
    start_worker(quick_waits(settings, callback_poll_interval=5.0))
    with Receiver(status=404) as receiver:
        reader, task = _reader_and_task(session, f"{receiver.url}/scan/1")
        # Checked at once (never checked), then every interval.
        assert receiver.wait_for(lambda got: _gets(receiver, "/scan/1") >= 3, timeout=30)
        stored = _fresh(session, task.id)
        assert stored.status == "waiting" and stored.users == []
        assert stored.wait_attempts >= 2
        assert (stored.wait_detail or "").startswith("GET answered 404 at")
        assert claims.claim_next(session, user=reader) is None
        session.rollback()
        # What is stuck, and why.
        listed = client.get("/api/v1/tasks?status=waiting", headers=admin_headers).get_json()
        (item,) = listed["tasks"]
        assert (item["id"], item["wait_for"]) == (str(task.id), f"{receiver.url}/scan/1")
        assert item["wait_detail"].startswith("GET answered 404 at")

        receiver.status = 200
        answered = time.monotonic()

        def claimed() -> bool:
            session.rollback()
            found = claims.claim_next(session, user=reader)
            session.commit()
            return found is not None and found.id == task.id

        assert wait_until(claimed, timeout=30, interval=0.02)
        elapsed = time.monotonic() - answered
    print(f"claimable {elapsed:.2f} s after the data server answered 200 (interval {INTERVAL} s)")
    # One interval, and a margin for the check itself, a loaded machine, and MariaDB, whose
    # whole seconds put the next check up to a second later.
    assert elapsed < INTERVAL + 2.0
    stored = _fresh(session, task.id)
    assert stored.status == "queued" and stored.wait_detail is None
    assert [user.username for user in stored.users] == ["reader"]


def test_checks_back_off_until_the_longest_interval(session, settings, start_worker) -> None:
    start_worker(quick_waits(settings, wait_for_interval=0.2, wait_for_max_interval=0.8))
    arrivals: list[float] = []
    with Receiver(status=503) as receiver:
        record = receiver._record

        def timed(request: Any) -> None:
            arrivals.append(time.monotonic())
            record(request)

        receiver._record = timed  # type: ignore[method-assign]
        _reader_and_task(session, f"{receiver.url}/scan/2")
        assert receiver.wait_for(lambda got: len(got) >= 5, timeout=30)
    gaps = [later - earlier for earlier, later in zip(arrivals, arrivals[1:], strict=False)][:4]
    # 0.2, 0.4, 0.8, 0.8: never early (MariaDB keeps whole seconds: up to one later there).
    for gap, expected in zip(gaps, [0.2, 0.4, 0.8, 0.8], strict=True):
        assert expected - 0.05 <= gap <= expected + 1.5, gaps


def test_the_separate_worker_command_checks_too(
    database_url, session, settings, tmp_path: Path
) -> None:
    env = make_env(
        database_url,
        tmp_path / "instance",
        **quick_env(TASKMAN_WAIT_FOR_INTERVAL=str(INTERVAL), TASKMAN_WAIT_FOR_MAX_INTERVAL="1"),
    )
    with Receiver(status=404) as receiver:
        reader, task = _reader_and_task(session, f"{receiver.url}/scan/3")
        process = worker_process(env, tmp_path, "worker")
        try:
            assert receiver.wait_for(lambda got: len(got) >= 1, timeout=60), process.output()
            assert _fresh(session, task.id).status == "waiting"
            receiver.status = 200
            assert wait_until(lambda: _fresh(session, task.id).status == "queued", timeout=30), (
                process.output()
            )
        finally:
            process.stop()
    assert [user.username for user in _fresh(session, task.id).users] == ["reader"]


def test_only_the_threads_that_poll_check(app, session, settings) -> None:
    polling = Dispatcher(session_factory=lambda: session, settings=settings, poll=True, app=app)
    woken_by_commits = Dispatcher(
        session_factory=lambda: session, settings=settings, poll=False, app=app
    )
    assert polling.waits is not None and woken_by_commits.waits is None


def test_waiting_tasks_are_listed_with_their_status(
    client, admin_headers, session, settings
) -> None:
    make_template(session, "tpl")
    waiting_task = make_task(session, users=["admin"], wait_for="http://127.0.0.1:9/scan")
    make_task(session, users=["admin"])
    session.commit()
    answer = client.get("/api/v1/tasks?status=waiting", headers=admin_headers)
    assert answer.status_code == 200
    listed = answer.get_json()["tasks"]
    assert [(item["id"], item["status"]) for item in listed] == [(str(waiting_task.id), "waiting")]
    stored = session.scalars(select(Task).where(Task.status == "waiting")).all()
    assert [task.id for task in stored] == [waiting_task.id]


def test_the_idle_sleep_ends_when_the_next_check_falls_due(app, session, settings) -> None:
    make_template(session, "tpl")
    task = make_task(session, users=["admin"], wait_for="http://127.0.0.1:9/scan")
    task.wait_next_time = utcnow() + timedelta(seconds=1)
    session.commit()
    dispatcher = LocalDispatcher(
        session_factory=workers.session_factory_for(db.engine),
        settings=quick_waits(settings, callback_poll_interval=5.0),
        app=app,
    )
    try:
        assert dispatcher.waits is not None
        assert dispatcher.waits.step() == 0  # not due yet
        # The next check (in 1 s; MariaDB keeps whole seconds, rounded up) ends the sleep,
        # not the 5 s poll interval; a slow machine may have used part of that second already.
        assert 0 < dispatcher.idle_timeout() <= 2.0
        task.status = "queued"  # by hand: nothing waits any more
        session.commit()
        time.sleep(2.0)  # the check it knew of falls due: it looks again, finds none
        assert dispatcher.waits.step() == 0
        assert dispatcher.idle_timeout() == 5.0  # the poll interval
    finally:
        dispatcher.stop()
