"""Three `taskmanager serve` instances (gunicorn, two workers each) behind HAProxy
(resources/haproxy/taskmanager.cfg), two `taskmanager worker` processes on RabbitMQ delivering
callbacks to a local receiver; clients only talk to the load balancer.

First in normal operation: lock races and claims spread over the instances have one winner each,
and every callback of a task marked done arrives exactly once. Then under load: an instance is
killed (-9), a Celery worker is killed, the test's RabbitMQ connections are closed, every database
connection is terminated, and an instance is stopped (SIGTERM) while a slow request runs on it.
Afterwards the counts are printed and written to test-artefacts/scaleout-report.md: no callback
lost, no task claimed twice, no HTML error page, failures only for requests in flight on a killed
process (each a JSON 5xx or a connection error).
"""

from __future__ import annotations

import collections
import json
import signal
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from kombu import Connection
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from taskmanager import create_app
from taskmanager.config import load_settings
from taskmanager.models import CallbackDelivery, Task, User, db

from ..conftest import make_env
from ..support import databases, needs, rows
from ..support.callbacks import quick_env
from ..support.cluster import (
    INSTANCE_HEADER,
    Cluster,
    amqp_client_ports,
    close_amqp_connections,
)
from ..support.connections import admin_engine, kill_ids, server_connections
from ..support.receiver import Receiver, wait_until
from ..support.task_factories import make_group, make_user
from ..support.threads import run_together

pytestmark = pytest.mark.concurrency

INSTANCES = 3
CLIENTS = 12
CONTENDERS = 4  # clients racing for each lock
RACE_TASKS = 45
CLAIM_TASKS = 90
LOAD_CLIENTS = 4
LOAD_TASKS = 3000  # more than the load can claim: it runs until told to stop
REPORT = Path(__file__).parents[2] / "test-artefacts" / "scaleout-report.md"


@dataclass
class Outcomes:
    """Every answer the clients got (or the connection error instead), counted."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    in_flight: int = 0
    statuses: collections.Counter[str] = field(default_factory=collections.Counter)
    instances: collections.Counter[str] = field(default_factory=collections.Counter)
    not_json: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def start(self) -> None:
        with self.lock:
            self.in_flight += 1

    def finish(self, what: str, response: requests.Response | None, error: str = "") -> None:
        with self.lock:
            self.in_flight -= 1
            if response is None:
                self.statuses["connection error"] += 1
                self.failures.append(f"{what}: {error}")
                return
            self.statuses[str(response.status_code)] += 1
            self.instances[response.headers.get(INSTANCE_HEADER, "(none)")] += 1
            if response.status_code != 204 and not _is_json(response):
                self.not_json.append(f"{what}: {response.status_code} {response.text[:200]}")
            if response.status_code >= 500:
                self.failures.append(f"{what}: {response.status_code} {response.text[:200]}")

    def snapshot(self) -> int:
        with self.lock:
            return self.in_flight


def _is_json(response: requests.Response) -> bool:
    if not response.headers.get("Content-Type", "").startswith("application/json"):
        return False
    try:
        response.json()
    except ValueError:
        return False
    return True


class Client:
    """One user talking to a base URL (the load balancer, unless told otherwise)."""

    def __init__(self, url: str, token: str, outcomes: Outcomes) -> None:
        self.url = url
        self.outcomes = outcomes
        self.http = requests.Session()
        self.http.headers["Authentication-Token"] = token

    def call(self, method: str, path: str, body: Any = None) -> requests.Response | None:
        what = f"{method} {path}"
        self.outcomes.start()
        try:
            response = self.http.request(method, f"{self.url}/api/v1{path}", json=body, timeout=60)
        except requests.ConnectionError as error:
            self.outcomes.finish(what, None, f"{type(error).__name__} {str(error)[-120:]}")
            return None
        self.outcomes.finish(what, response)
        return response

    def finish_task(self, task_id: int, attempts: int = 6) -> bool:
        """Mark the task done; a failure (connection, 5xx) is retried, as the change is the
        same each time."""
        for _ in range(attempts):
            response = self.call("PUT", f"/tasks/{task_id}", {"status": "done"})
            if response is not None and response.status_code == 200:
                return True
            if response is not None and response.status_code < 500:
                raise AssertionError(f"done for {task_id}: {response.status_code} {response.text}")
            time.sleep(0.3)
        return False

    def close(self) -> None:
        self.http.close()


@dataclass
class Harness:
    cluster: Cluster
    database_url: str
    tokens: dict[str, str]
    receiver: Receiver
    outcomes: Outcomes = field(default_factory=Outcomes)

    def client(self, username: str, url: str | None = None) -> Client:
        return Client(url or self.cluster.url, self.tokens[username], self.outcomes)

    def task_ids(self, project: str) -> list[int]:
        with self._session() as session:
            return list(
                session.scalars(select(Task.id).where(Task.project == project).order_by(Task.id))
            )

    def holders(self, project: str) -> dict[int, str]:
        with self._session() as session:
            return dict(
                session.execute(  # type: ignore[arg-type]
                    select(Task.id, User.username)
                    .join(User, User.id == Task.lock_id)
                    .where(Task.project == project)
                ).all()
            )

    def callbacks_due(self) -> dict[str, str]:
        """Idempotency key -> status of every callback the done tasks made."""
        with self._session() as session:
            return dict(
                session.execute(  # type: ignore[arg-type]
                    select(CallbackDelivery.idempotency_key, CallbackDelivery.status)
                ).all()
            )

    def done_tasks(self) -> int:
        with self._session() as session:
            return len(session.scalars(select(Task.id).where(Task.status == "done")).all())

    def _session(self) -> Session:
        # A connection of its own each time: the test terminates every connection of the
        # database on purpose.
        return Session(admin_engine(self.database_url))

    def wait_for_callbacks(self, timeout: float) -> bool:
        def all_arrived() -> bool:
            due = self.callbacks_due()
            return bool(due) and set(due) <= set(self.receiver.delivered())

        return wait_until(all_arrived, timeout=timeout, interval=0.5)


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    haproxy = needs.program("haproxy", "`apt-get install haproxy` (Debian)")
    tmp = tmp_path_factory.mktemp("scaleout")
    queue = f"tm_scaleout_{uuid.uuid4().hex[:12]}"
    url = databases.create_database(tmp, prefix="tm_scale")
    receiver = Receiver().start()
    env = make_env(
        url,
        tmp / "instance",
        **quick_env(
            TASKMAN_CALLBACK_METHOD="celery",
            TASKMAN_CELERY_QUEUE=queue,
            # A killed worker's claims lapse after 2 x timeout + 5 s.
            TASKMAN_CALLBACK_TIMEOUT="2",
            # A message lost with a killed instance or a closed broker connection is published
            # again after this (60 s by default).
            TASKMAN_CALLBACK_REPUBLISH_AFTER="8",
        ),
    )
    settings = load_settings(env)
    needs.rabbitmq(settings.celery_broker)
    app = create_app(settings)  # migrates and onboards; the instances' own migration is a no-op
    cluster = Cluster(env, tmp, haproxy=haproxy, count=INSTANCES)
    try:
        with app.app_context():
            tokens = _seed(db.session, f"{receiver.url}/done")
        cluster.start()
        yield Harness(cluster=cluster, database_url=url, tokens=tokens, receiver=receiver)
    finally:
        cluster.stop()
        receiver.stop()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        with Connection(settings.celery_broker, connect_timeout=5) as connection:
            connection.default_channel.queue_delete(queue)
        databases.drop_database(url)


def _seed(session: Session, callback_url: str) -> dict[str, str]:
    clients = [make_user(session, f"c{n:02}") for n in range(CLIENTS)]
    everyone = make_group(session, "everyone", clients)
    rows.tasks(session, RACE_TASKS, groups=[everyone], project="race")
    rows.tasks(session, CLAIM_TASKS, groups=[everyone], project="claim", callback_url=callback_url)
    rows.tasks(session, LOAD_TASKS, groups=[everyone], project="load", callback_url=callback_url)
    rows.tasks(session, 1, groups=[everyone], project="drain", callback_url=callback_url)
    session.commit()
    return {user.username: user.get_auth_token() for user in session.scalars(select(User))}


def test_lock_races_over_three_instances_have_one_winner_each(harness: Harness) -> None:
    task_ids = harness.task_ids("race")
    teams = CLIENTS // CONTENDERS
    barriers = [threading.Barrier(CONTENDERS) for _ in range(teams)]
    results: dict[int, list[tuple[str, int, str]]] = {t: [] for t in task_ids}
    served = collections.Counter[str]()

    def contender(index: int) -> None:
        username, team = f"c{index:02}", index // CONTENDERS
        client = harness.client(username)
        try:
            for task_id in task_ids[team::teams]:
                barriers[team].wait(timeout=60)
                response = client.call("PUT", f"/tasks/{task_id}/lock")
                assert response is not None, f"lock {task_id}: connection failed"
                results[task_id].append((username, response.status_code, response.text))
                served[response.headers.get(INSTANCE_HEADER, "")] += 1
        finally:
            client.close()

    run_together([(i,) for i in range(CLIENTS)], contender)

    holders = harness.holders("race")
    for task_id, outcomes in results.items():
        winners = [name for name, status, _ in outcomes if status == 200]
        assert len(winners) == 1, (task_id, outcomes)
        assert {status for _, status, _ in outcomes} <= {200, 409}, outcomes
        assert all(json.loads(body)["username"] == winners[0] for _, _, body in outcomes)
        assert holders[task_id] == winners[0]
    print(f"lock races: {len(task_ids)} tasks x {CONTENDERS}; answered by {dict(served)}")
    assert len(served) == INSTANCES and min(served.values()) >= len(task_ids) // INSTANCES


def test_claims_over_three_instances_hand_out_each_task_once_and_call_back_once(
    harness: Harness,
) -> None:
    claimed: list[tuple[str, int]] = []
    served = collections.Counter[str]()
    barrier = threading.Barrier(CLIENTS)

    def claimer(index: int) -> None:
        username = f"c{index:02}"
        client = harness.client(username)
        try:
            barrier.wait(timeout=60)
            while True:
                response = client.call("POST", "/tasks/next", {"project": "claim"})
                assert response is not None, "claim: connection failed"
                if response.status_code == 204:
                    return
                assert response.status_code == 200, response.text
                served[response.headers.get(INSTANCE_HEADER, "")] += 1
                task_id = int(response.json()["id"])
                claimed.append((username, task_id))
                assert client.finish_task(task_id)
        finally:
            client.close()

    run_together([(i,) for i in range(CLIENTS)], claimer)

    ids = [task_id for _, task_id in claimed]
    assert len(ids) == len(set(ids)), "a task was handed out twice"
    assert sorted(ids) == harness.task_ids("claim")
    assert len(served) == INSTANCES, served
    assert harness.wait_for_callbacks(timeout=60), harness.cluster.logs()
    due = harness.callbacks_due()
    assert len(due) == CLAIM_TASKS and set(due.values()) == {"delivered"}
    assert harness.receiver.duplicates() == 0 and harness.receiver.double_sends() == 0
    print(
        f"claims: {len(ids)} tasks claimed and done, served by {dict(served)}; "
        f"{len(due)} callbacks delivered once each"
    )


@dataclass
class Event:
    name: str
    in_flight: int  # client requests in flight (on every instance) at that moment
    detail: str = ""


def test_failures_during_load_lose_nothing_and_answer_json(harness: Harness) -> None:
    cluster = harness.cluster
    outcomes = harness.outcomes = Outcomes()  # this test's answers only
    stop = threading.Event()
    claimed: list[int] = []
    unfinished: list[int] = []

    def load(index: int) -> None:
        client = harness.client(f"c{index:02}")
        try:
            while not stop.is_set():
                response = client.call("POST", "/tasks/next", {"project": "load"})
                if response is None or response.status_code >= 500:
                    time.sleep(0.2)  # a claim is not sent again blindly: claim anew
                    continue
                assert response.status_code == 200, response.text
                task_id = int(response.json()["id"])
                claimed.append(task_id)
                if not client.finish_task(task_id):
                    unfinished.append(task_id)
                time.sleep(0.02)  # CPU left for the restarts on a small machine
        finally:
            client.close()

    loaders = [threading.Thread(target=load, args=(i,)) for i in range(LOAD_CLIENTS)]
    events: list[Event] = []
    started = time.monotonic()
    for thread in loaders:
        thread.start()
    try:
        time.sleep(3)
        events.append(Event("kill -9 instance 1", outcomes.snapshot()))
        cluster.instances[0].kill()
        time.sleep(1)
        restarted = cluster.restart(0)  # ready (and back in the rotation) while the rest runs

        events.append(Event("kill -9 Celery worker 1", outcomes.snapshot()))
        cluster.workers[0].kill()
        time.sleep(1)
        cluster.restart_worker(0)

        # The restarted worker first connects to the broker, so that both lose a connection.
        assert wait_until(
            lambda: all(amqp_client_ports(worker.pids()) for worker in cluster.workers),
            timeout=30,
        ), cluster.logs()
        pids = [pid for process in [*cluster.instances, *cluster.workers] for pid in process.pids()]
        closed = close_amqp_connections(
            needs.program("rabbitmqctl", "install rabbitmq-server"), pids
        )
        events.append(Event("RabbitMQ connections closed", outcomes.snapshot(), f"{closed} closed"))
        assert closed >= len(cluster.workers), "the Celery workers hold no connection to close"
        time.sleep(2)

        connections = server_connections(harness.database_url)
        events.append(
            Event("pg_terminate_backend", outcomes.snapshot(), f"{len(connections)} connections")
        )
        kill_ids(harness.database_url, connections)
        time.sleep(2)

        restarted.wait_ready()
        drained, seconds_to_exit = _sigterm_with_a_slow_request_in_flight(harness, events)
        time.sleep(1)
    finally:
        stop.set()
        for thread in loaders:
            thread.join(timeout=90)
    load_seconds = time.monotonic() - started

    callbacks_complete = harness.wait_for_callbacks(timeout=60)
    callbacks_seconds = time.monotonic() - started - load_seconds
    due = harness.callbacks_due()
    delivered = harness.receiver.delivered()
    lost = sorted(key for key in due if key not in delivered)
    counts = {
        "tasks claimed": len(claimed),
        "tasks claimed twice": len(claimed) - len(set(claimed)),
        "tasks done (all tests)": harness.done_tasks(),
        "callbacks due (all tests)": len(due),
        "callbacks lost": len(lost),
        "callbacks delivered more than once": harness.receiver.duplicates(),
        "callback claims sent twice": harness.receiver.double_sends(),
        "requests": sum(outcomes.statuses.values()),
        "answers by status": dict(sorted(outcomes.statuses.items())),
        "answers by instance": dict(sorted(outcomes.instances.items())),
        "answers not JSON": len(outcomes.not_json),
        "failed requests (5xx or connection error)": len(outcomes.failures),
        "requests in flight at the kills": sum(
            e.in_flight for e in events if e.name.startswith(("kill -9 instance", "pg_"))
        ),
        "tasks left unfinished after retries": len(unfinished),
        "slow request during SIGTERM": drained,
        "seconds from SIGTERM to exit": round(seconds_to_exit, 1),
        "load seconds": round(load_seconds, 1),
        "seconds until every callback arrived": round(callbacks_seconds, 1),
    }
    _report(counts, events, outcomes)

    assert callbacks_complete and not lost, (lost[:10], harness.cluster.logs())
    assert counts["tasks claimed twice"] == 0
    assert counts["callback claims sent twice"] == 0
    assert not outcomes.not_json, outcomes.not_json[:10]
    assert drained.startswith("200"), drained
    assert seconds_to_exit < 8
    assert (
        counts["failed requests (5xx or connection error)"]
        <= counts["requests in flight at the kills"]
    ), outcomes.failures
    assert not unfinished
    assert len(claimed) > 100, "the load hardly ran"


def _sigterm_with_a_slow_request_in_flight(
    harness: Harness, events: list[Event]
) -> tuple[str, float]:
    """A request on instance 2 waits for a row the test holds; the instance gets SIGTERM; the
    row is released a second later. The request's answer, and how long the instance took to
    exit."""
    instance = harness.cluster.instances[1]
    drain_task = harness.task_ids("drain")[0]
    answer: list[str] = []
    # Not autocommit: the row stays locked until the rollback below.
    holder = create_engine(harness.database_url, poolclass=NullPool).connect()
    try:
        holder.begin()
        holder.execute(text("SELECT id FROM tasks WHERE id = :id FOR UPDATE"), {"id": drain_task})
        client = harness.client("admin", url=instance.url)

        def slow() -> None:
            response = client.call("PUT", f"/tasks/{drain_task}", {"status": "done"})
            answer.append(
                "connection error"
                if response is None
                else f"{response.status_code} {response.text.strip()[:120]}"
            )

        thread = threading.Thread(target=slow)
        thread.start()
        assert wait_until(lambda: _waiting_for_a_lock(harness.database_url), timeout=20)
        events.append(Event("SIGTERM instance 2", harness.outcomes.snapshot(), "1 slow request"))
        signalled = time.monotonic()
        instance.signal(signal.SIGTERM)
        time.sleep(1.0)
        still_running = instance.process.poll() is None
        # Closed at once, not after the drain: the load balancer's connections are refused (and
        # sent elsewhere) instead of queueing on a socket nobody will accept them from.
        refused = _refused(instance.url)
        holder.rollback()
    finally:
        holder.close()
    thread.join(timeout=60)
    client.close()
    instance.process.wait(timeout=60)
    exited = time.monotonic() - signalled
    assert still_running, "the instance exited with a request in flight"
    assert refused, "the stopping instance still took connections"
    return (answer[0] if answer else "no answer"), exited


def _refused(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return False
    except ConnectionRefusedError:
        return True


def _waiting_for_a_lock(database_url: str) -> bool:
    with admin_engine(database_url).connect() as connection:
        return bool(
            connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
            ).scalar()
        )


def _report(counts: dict[str, Any], events: list[Event], outcomes: Outcomes) -> None:
    lines = ["# Scale-out run", "", "| | |", "|---|---|"]
    lines += [f"| {name} | {value} |" for name, value in counts.items()]
    lines += ["", "## Events", ""]
    lines += [f"- {e.name}: {e.in_flight} requests in flight {e.detail}".rstrip() for e in events]
    lines += ["", "## Failed requests", ""] + [f"- {f}" for f in outcomes.failures[:50]]
    text_ = "\n".join(lines) + "\n"
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(text_)
    print("\n" + text_)
