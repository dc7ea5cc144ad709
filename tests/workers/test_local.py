"""TASKMAN_CALLBACK_METHOD=local: the thread in a server process, and several processes at once."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from sqlalchemy import update

from taskmanager import workers
from taskmanager.models import CallbackDelivery, db, utcnow
from taskmanager.services.callbacks import outbox
from taskmanager.workers.dispatcher import LocalDispatcher

from ..conftest import make_env
from ..support.callbacks import (
    assert_signed,
    count,
    make_tasks,
    quick,
    quick_env,
    refused_port,
    worker_process,
)
from ..support.receiver import Receiver, wait_until
from ..support.servers import TASKMANAGER, ServerProcess, free_port


def test_200_done_tasks_give_200_signed_deliveries(session, settings, start_worker) -> None:
    # A long poll interval: only the wake-up after each commit can get them out this fast.
    start_worker(quick(settings, callback_poll_interval=300.0))
    with Receiver() as receiver:
        make_tasks(session, 200, receiver.url)
        assert receiver.wait_for(lambda got: len(got) >= 200, timeout=60)
        assert wait_until(lambda: count(session, "delivered") == 200, timeout=30)

    rows = {d.idempotency_key: d for d in outbox.list_deliveries(session, limit=1000)[0]}
    assert len(receiver.requests) == 200 and receiver.duplicates() == 0
    assert receiver.double_sends() == 0
    for request in receiver.requests:
        row = rows[request.key]
        number = json.loads(request.body)["task"]
        assert request.method == "PUT" and request.path == f"/done/{number}"
        assert request.body == row.body.encode()
        assert request.headers["content-type"] == "application/json"
        assert_signed(request)
        assert row.status == "delivered" and row.attempts == 1


def test_receiver_down_then_up_delivers_everything_once(session, settings, start_worker) -> None:
    port = refused_port()
    start_worker(quick(settings, callback_backoff=0.1, callback_max_attempts=30))
    make_tasks(session, 50, f"http://127.0.0.1:{port}", commit_each=False)

    def attempted(times: int) -> bool:
        session.rollback()
        rows, _ = outbox.list_deliveries(session, limit=100)
        return all(row.attempts >= times and row.last_error for row in rows)

    assert wait_until(lambda: attempted(2), timeout=30)  # refused, and retried
    receiver = Receiver(status=503).start(port)
    try:
        assert receiver.wait_for(lambda got: len({r.key for r in got}) >= 50, timeout=30)
        assert count(session, "delivered") == 0
        receiver.status = 200
        assert wait_until(lambda: count(session, "delivered") == 50, timeout=60)
    finally:
        receiver.stop()
    duplicates = receiver.duplicates()
    print(f"receiver down then up: 50 delivered, {duplicates} duplicate deliveries")
    assert len(receiver.delivered()) == 50 and duplicates == 0
    assert receiver.double_sends() == 0
    assert count(session, "failed") == 0


def test_after_the_last_attempt_failed_is_visible_and_retryable(
    app, client, admin_headers, session, settings, start_worker
) -> None:
    port = refused_port()
    start_worker(quick(settings, callback_max_attempts=2))
    make_tasks(session, 3, f"http://127.0.0.1:{port}")
    assert wait_until(lambda: count(session, "failed") == 3, timeout=30)

    failed = client.get("/api/v1/callbacks?status=failed", headers=admin_headers).get_json()
    assert failed["total"] == 3
    assert all(item["attempts"] == 2 and item["last_error"] for item in failed["callbacks"])
    with Receiver().start(port) as receiver:
        for item in failed["callbacks"]:
            response = client.post(f"/api/v1/callbacks/{item['id']}/retry", headers=admin_headers)
            assert response.status_code == 200
        assert wait_until(lambda: count(session, "delivered") == 3, timeout=30)
    assert len(receiver.delivered()) == 3 and receiver.duplicates() == 0


def test_several_processes_never_send_a_row_twice(
    database_url, session, settings, start_worker, tmp_path: Path
) -> None:
    env = make_env(database_url, tmp_path / "instance", **quick_env())
    processes = [worker_process(env, tmp_path, f"worker-{n}") for n in range(2)]
    try:
        for process in processes:
            assert wait_until(lambda p=process: "running" in p.output(), timeout=60), (
                process.output()
            )
        start_worker(quick(settings))  # and this process too
        with Receiver(delay=0.002) as receiver:
            make_tasks(session, 300, receiver.url, commit_each=False)
            assert wait_until(lambda: count(session, "delivered") == 300, timeout=90)
    finally:
        for process in processes:
            process.stop()
    assert receiver.double_sends() == 0
    assert set(receiver.delivered()) == {
        row.idempotency_key for row in outbox.list_deliveries(session, limit=1000)[0]
    }


def test_server_killed_mid_delivery_the_next_one_delivers(
    database_url, session, tmp_path: Path
) -> None:
    receiver = Receiver()
    receiver.released.clear()  # the first server's request is never answered
    receiver.start()
    # A short timeout, so the killed server's claim lapses soon (lease: 2 x timeout + 5 s).
    env = make_env(database_url, tmp_path / "instance", **quick_env(TASKMAN_CALLBACK_TIMEOUT="1"))
    servers = []
    try:
        make_tasks(session, 1, receiver.url)
        port = free_port()
        first = ServerProcess(
            [TASKMANAGER, "run", "--port", str(port)], port=port, env=env, cwd=tmp_path
        )
        servers.append(first)
        first.wait_ready()
        assert receiver.wait_for(lambda got: len(got) == 1, timeout=30), first.output()
        first.kill()
        session.rollback()
        assert outbox.list_deliveries(session)[0][0].status == "delivering"

        receiver.released.set()
        port = free_port()
        second = ServerProcess(
            [TASKMANAGER, "run", "--port", str(port)], port=port, env=env, cwd=tmp_path
        )
        servers.append(second)
        second.wait_ready()
        assert wait_until(lambda: count(session, "delivered") == 1, timeout=60), second.output()
    finally:
        for server in servers:
            server.stop()
        receiver.stop()
    first_try, second_try = receiver.requests
    assert first_try.key == second_try.key and first_try.answered is None
    assert second_try.answered == 200 and second_try.headers["x-taskmanager-attempt"] == "2"
    assert json.loads(second_try.body) == {"task": 0, "result": "ok"}
    assert second_try.path == "/done/0"


def test_a_process_exiting_stops_the_thread_quietly(session, settings) -> None:
    """At exit Python shuts the send pool down before it stops daemon threads: the dispatcher
    then stops, and what it had claimed goes back to pending when the lease lapses."""
    dispatcher = LocalDispatcher(
        session_factory=workers.session_factory_for(db.engine), settings=quick(settings)
    )
    make_tasks(session, 1, "http://127.0.0.1:9")
    dispatcher._pool.shutdown()
    assert dispatcher.step() == 0
    assert dispatcher._stopping.is_set()
    assert count(session, "delivering") == 1
    session.execute(update(CallbackDelivery).values(claimed_until=utcnow() - timedelta(seconds=1)))
    session.commit()
    assert outbox.reap_expired(session, settings=quick(settings)) == 1
    assert count(session, "pending") == 1
