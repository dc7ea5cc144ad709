"""Dispensing under concurrency: a real multi-process server (gunicorn, 4 workers) and many
HTTP clients at once. Full size on PostgreSQL and MariaDB; lighter on SQLite (one writer)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from apiflask import APIFlask
from requests.adapters import HTTPAdapter
from sqlalchemy import func, select
from urllib3.util.retry import Retry

from taskmanager import create_app
from taskmanager.config import load_settings
from taskmanager.models import Task, User, db, task_users

from ..conftest import make_env
from ..support import databases, rows
from ..support.servers import ServerProcess, serve
from ..support.task_factories import make_group, make_user
from ..support.threads import run_together

pytestmark = pytest.mark.concurrency

FULL = databases.backend_name() != "sqlite"
CLIENTS = 32
RACES = 1000 if FULL else 100
CONTENDERS = 4  # clients racing for each lock
CLAIM_TASKS = 1000 if FULL else 100
CLAIMS = 2 * CLAIM_TASKS
CREATORS = 8
DISTRIBUTED = 3000 if FULL else 600
PER_REQUEST = 10  # tasks per POST /taskgroups, each assigned on its own
DOOMED = 40 if FULL else 10  # tasks changed, locked and deleted at once
WEIGHTS = {"w1a": 1.0, "w1b": 1.0, "w05": 0.5, "w0": 0.0}
KEYED_ROUNDS = 20 if FULL else 5  # races of clients sending one Idempotency-Key
KEYED_LIST = 50  # tasks in each raced list


@dataclass
class Server:
    url: str
    app: APIFlask
    process: ServerProcess
    tokens: dict[str, str]

    def session(self, username: str) -> requests.Session:
        # Tokens, not basic auth: each worker would verify each password's (deliberately slow)
        # hash once, which on a small CI machine costs more than the races themselves.
        http = requests.Session()
        http.headers["Authentication-Token"] = self.tokens[username]
        # A client waiting at a barrier on a loaded machine can reuse its keep-alive connection
        # just as gunicorn closes it (after 2 idle seconds): the request then fails with a reset
        # before the server saw it. Idempotent requests (GET, a lock PUT) are sent again once,
        # as clients do; POST claims never are.
        retry = Retry(total=1, connect=1, read=1, status=0, allowed_methods={"GET", "PUT"})
        http.mount("http://", HTTPAdapter(max_retries=retry))
        return http


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("concurrency")
    url = databases.create_database(tmp, prefix="tm_conc")
    env = make_env(url, tmp / "instance")
    # Migrates and onboards in this process; the server's own start-up migration is a no-op.
    app = create_app(load_settings(env))
    try:
        with app.app_context():
            _seed(db.session)
            db.session.commit()
            tokens = {
                user.username: user.get_auth_token() for user in db.session.scalars(select(User))
            }
        with serve(env, tmp, workers=4) as process:
            yield Server(url=process.url, app=app, process=process, tokens=tokens)
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        databases.drop_database(url)


def _seed(session: Any) -> None:
    clients = [make_user(session, f"c{n:02}") for n in range(CLIENTS)]
    weighted = [make_user(session, name, weight=weight) for name, weight in WEIGHTS.items()]
    everyone = make_group(session, "everyone", clients)
    make_group(session, "weighted", weighted)
    rows.tasks(session, RACES, groups=[everyone], project="race")
    rows.tasks(session, CLAIM_TASKS, groups=[everyone], project="claim")
    rows.tasks(session, DOOMED, groups=[everyone], project="doomed")


def _ids(server: Server, project: str) -> list[int]:
    with server.app.app_context():
        return list(
            db.session.scalars(select(Task.id).where(Task.project == project).order_by(Task.id))
        )


def _holders(server: Server, project: str) -> dict[int, str]:
    """Who holds each locked task of the project, by task id."""
    with server.app.app_context():
        return {
            task_id: username
            for task_id, username in db.session.execute(
                select(Task.id, User.username)
                .join(User, User.id == Task.lock_id)
                .where(Task.project == project)
            )
        }


def test_every_lock_race_has_exactly_one_winner(server: Server) -> None:
    task_ids = _ids(server, "race")
    teams = CLIENTS // CONTENDERS
    # Each team of CONTENDERS clients races for its share of the tasks, one task at a time.
    barriers = [threading.Barrier(CONTENDERS) for _ in range(teams)]
    results: dict[int, list[tuple[str, int, dict[str, Any]]]] = {t: [] for t in task_ids}

    def client(index: int) -> None:
        username = f"c{index:02}"
        team = index // CONTENDERS
        with server.session(username) as http:
            for task_id in task_ids[team::teams]:
                barriers[team].wait(timeout=120)  # the team's requests start together
                with http.put(f"{server.url}/api/v1/tasks/{task_id}/lock", timeout=60) as r:
                    results[task_id].append((username, r.status_code, r.json()))

    run_together([(i,) for i in range(CLIENTS)], client)

    holders = _holders(server, "race")
    for task_id in task_ids:
        outcomes = results[task_id]
        assert len(outcomes) == CONTENDERS
        winners = [name for name, status, _body in outcomes if status == 200]
        assert len(winners) == 1, (task_id, outcomes)
        for _name, status, body in outcomes:
            assert status in (200, 409), (task_id, outcomes)
            assert body["username"] == winners[0]  # losers are told who holds it
        assert holders[task_id] == winners[0]


def test_claims_hand_out_every_task_exactly_once(server: Server) -> None:
    task_ids = _ids(server, "claim")
    claimed: list[tuple[str, int]] = []
    nothing = Counter[str]()
    barrier = threading.Barrier(CLIENTS)

    def client(index: int) -> None:
        username = f"c{index:02}"
        share = CLAIMS // CLIENTS + (1 if index < CLAIMS % CLIENTS else 0)
        with server.session(username) as http:
            barrier.wait(timeout=120)
            for _ in range(share):
                with http.post(
                    f"{server.url}/api/v1/tasks/next", json={"project": "claim"}, timeout=60
                ) as r:
                    if r.status_code == 204:
                        nothing[username] += 1
                        continue
                    assert r.status_code == 200, r.text
                    body = r.json()
                    assert body["username"] == username
                    claimed.append((username, int(body["id"])))

    run_together([(i,) for i in range(CLIENTS)], client)

    ids = [task_id for _name, task_id in claimed]
    assert len(ids) == len(set(ids)), "a task was handed out twice"
    assert sorted(ids) == task_ids
    assert sum(nothing.values()) == CLAIMS - CLAIM_TASKS
    holders = _holders(server, "claim")
    assert holders == {task_id: name for name, task_id in claimed}


def test_parallel_creation_shares_tasks_by_weight(server: Server) -> None:
    barrier = threading.Barrier(CREATORS)
    task = {
        "project": "weighted",
        "template": "tpl",
        "content": {"scan": 1},
        "distribute_in_group": "weighted",
    }
    body = {"label": "distribution", "tasks": [task] * PER_REQUEST}
    requests_needed = DISTRIBUTED // PER_REQUEST

    def creator(index: int) -> None:
        share = requests_needed // CREATORS + (1 if index < requests_needed % CREATORS else 0)
        with server.session("admin") as http:
            barrier.wait(timeout=120)
            for _ in range(share):
                with http.post(f"{server.url}/api/v1/taskgroups", json=body, timeout=60) as r:
                    assert r.status_code == 201, r.text

    run_together([(i,) for i in range(CREATORS)], creator)

    with server.app.app_context():
        counts = dict(
            db.session.execute(
                select(User.username, func.count())
                .join(task_users, task_users.c.user_id == User.id)
                .join(Task, Task.id == task_users.c.task_id)
                .where(Task.project == "weighted")
                .group_by(User.username)
            ).all()
        )
        passes = dict(
            db.session.execute(
                select(User.username, User.assignment_pass).where(User.username.in_(WEIGHTS))
            ).all()
        )
    assert sum(counts.values()) == DISTRIBUTED
    shares = {name: 100 * counts.get(name, 0) / DISTRIBUTED for name in WEIGHTS}
    for name, expected in {"w1a": 40, "w1b": 40, "w05": 20, "w0": 0}.items():
        assert abs(shares[name] - expected) <= 5, shares
    assert "w0" not in counts
    # No choice was lost to a concurrent one: every pass is exactly the work given / weight.
    for name, weight in WEIGHTS.items():
        if weight:
            assert passes[name] == pytest.approx(counts[name] / weight), (passes, counts)


def test_changing_locking_and_deleting_a_task_at_once_never_fails(server: Server) -> None:
    """A task deleted while others change, lock and move its lock: each request answers what
    happened (200, or 404/409 for a task gone or busy), never 5xx, and the task ends deleted."""
    task_ids = _ids(server, "doomed")
    racers: list[tuple[str, str, str, dict[str, Any] | None]] = [
        ("admin", "PUT", "", {"users": ["c01"], "tags": ["moved"], "project": "doomed2"}),
        ("c00", "PUT", "/lock", None),
        ("admin", "PUT", "/lock", {"lock": "c02"}),
        ("c03", "PUT", "", {"status": "done"}),
        ("admin", "DELETE", "", None),
    ]
    barrier = threading.Barrier(len(racers))
    answers: dict[int, list[tuple[str, str, int, str]]] = {t: [] for t in task_ids}

    def racer(index: int) -> None:
        username, method, suffix, body = racers[index]
        with server.session(username) as http:
            for task_id in task_ids:
                barrier.wait(timeout=120)
                url = f"{server.url}/api/v1/tasks/{task_id}{suffix}"
                with http.request(method, url, json=body, timeout=60) as r:
                    answers[task_id].append((method, suffix, r.status_code, r.text))

    run_together([(i,) for i in range(len(racers))], racer)

    for task_id, outcomes in answers.items():
        for method, suffix, status, text in outcomes:
            assert status in (200, 404, 409), (task_id, method, suffix, status, text)
            assert "message" in text or status == 200, (task_id, method, status, text)
        deleted = [status for method, _s, status, _t in outcomes if method == "DELETE"]
        assert deleted == [200], (task_id, outcomes)
    with server.app.app_context():
        left = db.session.scalars(select(Task.id).where(Task.id.in_(task_ids))).all()
        assert left == []


def test_requests_with_the_same_idempotency_key_at_once_make_each_task_once(
    server: Server,
) -> None:
    """Clients sending the same task, and the same list, with one Idempotency-Key at once: the
    unique key decides; every answer names the same tasks, one of them as created."""
    racers, rounds = 8, KEYED_ROUNDS
    barrier = threading.Barrier(racers)
    task = {"project": "keyed", "template": "tpl", "content": {"n": -1}, "users": ["c00"]}
    batch = [{**task, "content": {"n": n}} for n in range(KEYED_LIST)]
    singles: dict[int, list[tuple[int, str]]] = {r: [] for r in range(rounds)}
    lists: dict[int, list[tuple[int, list[str], list[int]]]] = {r: [] for r in range(rounds)}

    def racer(_index: int) -> None:
        with server.session("admin") as http:
            # Safe to send again now: the key makes a repeated POST answer the same task.
            retry = Retry(total=1, connect=1, read=1, status=0, allowed_methods={"POST"})
            http.mount("http://", HTTPAdapter(max_retries=retry))
            for round_ in range(rounds):
                barrier.wait(timeout=120)
                headers = {"Idempotency-Key": f"one-{round_}"}
                with http.post(f"{server.url}/api/v1/tasks", json=task, headers=headers) as r:
                    singles[round_].append((r.status_code, r.json()["id"]))
                barrier.wait(timeout=120)
                headers = {"Idempotency-Key": f"list-{round_}"}
                with http.post(f"{server.url}/api/v1/tasks", json=batch, headers=headers) as r:
                    assert r.status_code in (200, 201), r.text
                    answer = r.json()
                    ids = [summary["id"] for summary in answer["tasks"]]
                    lists[round_].append((r.status_code, ids, answer["already_present"]))

    run_together([(i,) for i in range(racers)], racer)

    for round_ in range(rounds):
        statuses = sorted(status for status, _id in singles[round_])
        assert statuses == [200] * (racers - 1) + [201], singles[round_]
        assert len({task_id for _status, task_id in singles[round_]}) == 1
        assert len({tuple(ids) for _status, ids, _present in lists[round_]}) == 1
        for n in range(KEYED_LIST):
            created = [present for _status, _ids, present in lists[round_] if n not in present]
            assert len(created) == 1, (round_, n, lists[round_])
    with server.app.app_context():
        stored = db.session.scalar(
            select(func.count()).select_from(Task).where(Task.project == "keyed")
        )
    assert stored == rounds * (1 + KEYED_LIST)


def test_server_log_is_clean(server: Server) -> None:
    """No worker logged an error (deadlocks, serialisation failures) during the runs above."""
    output = server.process.output()
    assert "Traceback" not in output, output[-5000:]
