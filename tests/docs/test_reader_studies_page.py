"""docs/reader-studies.md, run as written against a real server: its three set-ups, then what
each promises, checked in the database (and, for the washout, 28 days later)."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, select, update
from sqlalchemy.engine import Engine

from taskmanager.models import SubjectReader, Task, User, task_users, utcnow

from ..conftest import make_env
from ..support import databases, docpages
from ..support.servers import TASKMANAGER, ServerProcess, free_port
from .test_walkthrough import block_output, reader_environment, run_page

PAGE = Path(__file__).resolve().parents[2] / "docs" / "reader-studies.md"
SERVER_LINE = "export TASKMAN_URL=http://localhost:5000"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Engine]]:
    workdir = tmp_path_factory.mktemp("reader-studies-server")
    database_url = databases.create_database(workdir)
    env = make_env(database_url, workdir / "instance")
    port = free_port()
    engine = create_engine(database_url)
    try:
        with ServerProcess(
            [TASKMANAGER, "run", "--port", str(port)], port=port, env=env, cwd=workdir
        ) as process:
            yield process, engine
    finally:
        engine.dispose()
        databases.drop_database(database_url)


def _readers_by(engine: Engine, project: str, key: object) -> dict[str, list[str]]:
    with engine.connect() as connection:
        found = connection.execute(
            select(key, User.username)
            .join(task_users, task_users.c.task_id == Task.id)
            .join(User, User.id == task_users.c.user_id)
            .where(Task.project == project)
        ).all()
    readers: dict[str, list[str]] = defaultdict(list)
    for value, username in found:
        readers[value].append(username)
    return readers


def test_reader_studies_page_runs_as_written(
    server: tuple[ServerProcess, Engine], tmp_path: Path
) -> None:
    process, engine = server
    text = PAGE.read_text()
    assert text.count(SERVER_LINE) == 1
    port = process.url.rsplit(":", 1)[1]
    page = docpages.blocks(text.replace(SERVER_LINE, f"export TASKMAN_URL=http://localhost:{port}"))
    workdir, home = tmp_path / "study", tmp_path / "home"
    workdir.mkdir()
    home.mkdir()
    transcript = run_page("reader-studies", page, workdir, reader_environment(home))

    # 1. Blinded double reading: every case read twice, by two different readers; the split
    # printed by the dry run is the one made, and is what the page shows.
    blind = _readers_by(engine, "BLIND", Task.subject)
    assert len(blind) == 10
    assert all(len(names) == 2 and len(set(names)) == 2 for names in blind.values()), blind
    shown = next(b.body for b in page if b.language == "text" and "per_user" not in b.body)
    printed = block_output(page, transcript, "dry_run=true", "field per_user")
    assert printed.strip() == shown.strip()
    shares = dict(
        re.findall(r"^(\w+): (\d+)$", block_output(page, transcript, "for reader in"), re.M)
    )
    assert shares == {"rita": "7", "rob": "7", "rose": "6"}
    assert block_output(page, transcript, "subject=case-01").strip().endswith("2")
    assert block_output(page, transcript, "rita:rita-secret-1").strip() == shares["rita"]
    assert "Rita's list holds her seven" in text and shares["rita"] == "7"

    # 2. Longitudinal: both visits of each patient with one reader; patients still shared.
    longi = _readers_by(engine, "LONGI", Task.series)
    assert len(longi) == 6
    assert all(len(names) == 2 and len(set(names)) == 1 for names in longi.values()), longi
    assert len({names[0] for names in longi.values()}) == 3
    predicted = block_output(page, transcript, "visit2.json", "dry_run=true")
    assert predicted.strip() == str([[longi[f"P{n}"][0]] for n in range(1, 7)])

    # 3. Repeat after 28 days: five first reads done, then nothing for now.
    claims = block_output(page, transcript, "for read in")
    assert claims.count("done") == 5 and "claim 6: nothing for now" in claims
    with engine.connect() as connection:
        done = connection.execute(
            select(Task.subject, Task.priority).where(
                Task.project == "REPEAT", Task.status == "done"
            )
        ).all()
    assert sorted(done) == [(f"case-{n}", 1) for n in range(1, 6)]

    # 28 days later (the ledger moved back in time), the repeats are Ruth's to claim.
    with engine.begin() as connection:
        connection.execute(
            update(SubjectReader)
            .where(SubjectReader.project == "REPEAT")
            .values(last_time=utcnow() - timedelta(days=28, minutes=1))
        )
    answer = requests.post(
        f"{process.url}/api/v1/tasks/next",
        json={"project": "REPEAT"},
        auth=("ruth", "ruth-secret-1"),
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    with engine.connect() as connection:
        repeat = connection.execute(
            select(Task.subject, Task.priority).where(Task.id == int(answer.json()["id"]))
        ).one()
    assert repeat.priority == 0 and repeat.subject.startswith("case-")
