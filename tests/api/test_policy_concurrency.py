"""Project policies under concurrency: a real multi-process server (gunicorn, 4 workers) and 32
clients claiming and creating at once. No reader rule may be broken by two requests at once.
Full size on PostgreSQL and MariaDB; lighter on SQLite (one writer)."""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select, update

from taskmanager import create_app
from taskmanager.config import load_settings
from taskmanager.models import Task, User, db, task_users
from taskmanager.services.tasks import policy

from ..conftest import make_env
from ..support import databases, rows
from ..support.servers import serve
from ..support.task_factories import make_group, make_user
from ..support.threads import run_together
from .test_concurrency import Server

pytestmark = pytest.mark.concurrency

FULL = databases.backend_name() != "sqlite"
READERS = 8
CLIENTS_PER_READER = 4  # 32 clients
SUBJECTS = 60 if FULL else 20  # each read 3 times, by 3 different readers
READS = 3
SERIES = 20 if FULL else 8  # each of 5 tasks, all for one reader
SERIES_TASKS = 5
CAP = 5
CAPPED_TASKS = 100 if FULL else 60
CREATORS = 8
CHOSEN_SUBJECTS = 20  # each of 3 tasks, which 32 clients lock by id (PUT /lock) in any order
CHOSEN_CAP = 4
CREATED_SUBJECTS = 30 if FULL else 12  # each sent by 3 creators at once
# A claim may answer 409 when it lost every race of its attempts; clients then try again.
RETRIES = 20


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("policy-concurrency")
    url = databases.create_database(tmp, prefix="tm_polc")
    env = make_env(url, tmp / "instance")
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
    admin = session.scalar(select(User).where(User.username == "admin"))
    admin.assignment_weight = 0.0
    readers = [make_user(session, f"r{n}") for n in range(READERS)]
    group = make_group(session, "readers", readers)
    _keyed_tasks(session, group, "blind", SUBJECTS * READS, subject=lambda n: f"s{n // READS}")
    _keyed_tasks(
        session, group, "long", SERIES * SERIES_TASKS, series=lambda n: f"p{n // SERIES_TASKS}"
    )
    rows.tasks(session, CAPPED_TASKS, groups=[group], project="capped")
    _keyed_tasks(
        session, group, "chosen", CHOSEN_SUBJECTS * READS, subject=lambda n: f"c{n // READS}"
    )
    for project, values in {
        "blind": {"distinct_readers": True},
        "long": {"consistent_series": True},
        "capped": {"max_open_per_user": CAP},
        "chosen": {"distinct_readers": True, "max_open_per_user": CHOSEN_CAP},
        "auto": {"distinct_readers": True},
    }.items():
        policy.put(session, project, values, admin)


def _keyed_tasks(session: Any, group: Any, project: str, count: int, **keys: Any) -> None:
    ids = rows.tasks(session, count, groups=[group], project=project)
    for index, task_id in enumerate(ids):
        values = {name: key(index) for name, key in keys.items()}
        session.execute(update(Task).where(Task.id == task_id).values(**values))


def _claim(http: Any, server: Server, project: str) -> dict[str, Any] | None:
    """The task claimed, or None when there is none for this reader."""
    for _ in range(RETRIES):
        with http.post(
            f"{server.url}/api/v1/tasks/next", json={"project": project}, timeout=60
        ) as answer:
            if answer.status_code == 204:
                return None
            if answer.status_code == 409:
                continue
            assert answer.status_code == 200, answer.text
            return dict(answer.json())
    raise AssertionError(f"{RETRIES} claims in a row lost every race")


def _work(server: Server, projects: tuple[str, ...], *, finish: bool) -> None:
    """32 clients (4 per reader) claim from the projects until none is left for them, marking
    each task done (finish) or keeping it."""
    barrier = threading.Barrier(READERS * CLIENTS_PER_READER)

    def client(index: int) -> None:
        username = f"r{index % READERS}"
        with server.session(username) as http:
            barrier.wait(timeout=120)
            left = list(projects)
            while left:
                project = left[index % len(left)]
                claimed = _claim(http, server, project)
                if claimed is None:
                    left.remove(project)
                    continue
                assert claimed["username"] == username
                if finish:
                    with http.put(
                        f"{server.url}/api/v1/tasks/{claimed['id']}",
                        json={"status": "done"},
                        timeout=60,
                    ) as answer:
                        assert answer.status_code == 200, answer.text

    run_together([(i,) for i in range(READERS * CLIENTS_PER_READER)], client)


def _done_by(server: Server, project: str, key: Any) -> dict[str, list[str]]:
    with server.app.app_context():
        found = db.session.execute(
            select(key, User.username)
            .join(User, User.id == Task.done_by_id)
            .where(Task.project == project, Task.status == "done")
        ).all()
    readers: dict[str, list[str]] = defaultdict(list)
    for value, username in found:
        readers[value].append(username)
    return readers


def test_claims_keep_readers_distinct_and_series_with_one_reader(server: Server) -> None:
    _work(server, ("blind", "long"), finish=True)
    blind = _done_by(server, "blind", Task.subject)
    assert len(blind) == SUBJECTS
    for subject, names in blind.items():
        assert len(names) == READS, (subject, names)  # every read was done...
        assert len(set(names)) == READS, (subject, names)  # ...by three different readers
    long = _done_by(server, "long", Task.series)
    assert len(long) == SERIES
    for series, names in long.items():
        assert len(names) == SERIES_TASKS, (series, names)
        assert len(set(names)) == 1, (series, names)
    # The series were still shared out among the readers.
    assert len({names[0] for names in long.values()}) > 1


def test_claims_never_pass_the_cap(server: Server) -> None:
    _work(server, ("capped",), finish=False)
    with server.app.app_context():
        held = Counter(
            db.session.scalars(
                select(User.username)
                .join(Task, Task.lock_id == User.id)
                .where(Task.project == "capped")
            )
        )
    assert held == {f"r{n}": CAP for n in range(READERS)}


def test_locks_readers_choose_keep_the_rules(server: Server) -> None:
    """The ViewR's way: a reader picks a task from the list and locks it (PUT /lock). 32 clients
    lock every task of the project in their own order; the rules hold as for claims."""
    with server.app.app_context():
        task_ids = list(db.session.scalars(select(Task.id).where(Task.project == "chosen")))
    barrier = threading.Barrier(READERS * CLIENTS_PER_READER)
    answers: Counter[int] = Counter()
    count_lock = threading.Lock()

    def client(index: int) -> None:
        order = task_ids[index:] + task_ids[:index]
        with server.session(f"r{index % READERS}") as http:
            barrier.wait(timeout=120)
            for task_id in order:
                with http.put(f"{server.url}/api/v1/tasks/{task_id}/lock", timeout=60) as answer:
                    assert answer.status_code in (200, 409), answer.text
                    refusal = answer.json()["error"] if answer.status_code == 409 else ""
                with count_lock:
                    answers[answer.status_code] += 1
                if "open tasks" in refusal:
                    return  # at the cap, where the reader stays: nothing more for them

    run_together([(i,) for i in range(READERS * CLIENTS_PER_READER)], client)
    with server.app.app_context():
        held = db.session.execute(
            select(User.username, Task.subject)
            .join(Task, Task.lock_id == User.id)
            .where(Task.project == "chosen")
        ).all()
    by_reader: dict[str, list[str]] = defaultdict(list)
    for username, subject in held:
        by_reader[username].append(subject)
    assert answers[200] > 0 and answers[409] > 0, answers
    assert {name: len(subjects) for name, subjects in by_reader.items()} == {
        f"r{n}": CHOSEN_CAP for n in range(READERS)
    }
    for name, subjects in by_reader.items():
        assert len(set(subjects)) == len(subjects), (name, subjects)


def test_concurrent_distribution_keeps_readers_distinct(server: Server) -> None:
    """8 creators at once, each subject sent by 3 of them: 3 different readers per subject."""
    barrier = threading.Barrier(CREATORS)

    def creator(index: int) -> None:
        # Creators i, i+1, i+2 (mod 8) send the same subjects, in different orders.
        subjects = [n for n in range(CREATED_SUBJECTS) if (n % CREATORS - index) % CREATORS < 3]
        if index % 2:
            subjects.reverse()
        tasks = [
            {
                "project": "auto",
                "template": "tpl",
                "content": {"subject": n},
                "subject": f"a{n}",
                "distribute_in_group": "readers",
            }
            for n in subjects
        ]
        with server.session("admin") as http:
            barrier.wait(timeout=120)
            for _ in range(RETRIES):
                with http.post(f"{server.url}/api/v1/tasks", json=tasks, timeout=120) as answer:
                    if answer.status_code == 409:
                        continue  # lost a race for a reader: the request changed nothing
                    assert answer.status_code == 201, answer.text
                    return
            raise AssertionError("creation lost every race")

    run_together([(i,) for i in range(CREATORS)], creator)
    with server.app.app_context():
        found = db.session.execute(
            select(Task.subject, User.username)
            .join(task_users, task_users.c.task_id == Task.id)
            .join(User, User.id == task_users.c.user_id)
            .where(Task.project == "auto")
        ).all()
    readers: dict[str, list[str]] = defaultdict(list)
    for subject, username in found:
        readers[subject].append(username)
    assert len(readers) == CREATED_SUBJECTS
    for subject, names in readers.items():
        assert len(names) == 3 and len(set(names)) == 3, (subject, names)


def test_server_log_is_clean(server: Server) -> None:
    output = server.process.output()
    assert "Traceback" not in output, output[-5000:]
