"""Fill a TaskManager database with N tasks and the benchmark accounts, straight through SQL.

    python -m benchmarks.seed --tasks 100000

Reads the server's configuration (SQLALCHEMY_DATABASE_URI or DB_*, SECRET_KEY, ...) from the
environment like the server does; migrates first. Creates (once) the template `bench`, the group
`bench` with users bench00..bench31 (password `bench-pass`, role user) and the meta variable
BENCH_HOST, then adds tasks until the database holds --tasks tasks, assigned to group `bench`
(through COPY on PostgreSQL: a million in a few minutes).
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, text

from taskmanager import create_app
from taskmanager.config import load_settings
from taskmanager.models import (
    Group,
    Meta,
    MetaHistory,
    Task,
    TaskTemplate,
    User,
    db,
    task_groups_assigned,
    utcnow,
)
from taskmanager.services.accounts import users

PASSWORD = "bench-pass"
# Rows per transaction: INSERT holds its parameters in memory, COPY streams them.
INSERT_CHUNK = 10_000
COPY_CHUNK = 100_000


def _accounts(count: int) -> Group:
    group = db.session.scalars(select(Group).where(Group.groupname == "bench")).first()
    if group is None:
        group = Group(groupname="bench", name="bench", create_time=utcnow())
        db.session.add(group)
    donor = None
    for n in range(count):
        name = f"bench{n:02}"
        user = db.session.scalars(select(User).where(User.username == name)).first()
        if user is None:
            # One slow password hash, shared by every benchmark account.
            user = users.create(
                db.session,
                username=name,
                password=PASSWORD if donor is None else None,
                email=f"{name}@bench.example",
                roles=["user"],
            )
            donor = donor or user
            user.password = donor.password
        if user not in group.users:
            group.users.append(user)
    if db.session.scalars(select(Meta).where(Meta.label == "BENCH_HOST")).first() is None:
        meta = Meta(label="BENCH_HOST", value="http://bench.example")
        meta.history.append(MetaHistory(timestamp=utcnow(), value=meta.value))
        db.session.add(meta)
    db.session.flush()
    return group


def _task_row(number: int, template_id: int, now: datetime) -> dict[str, Any]:
    return {
        "project": "bench",
        # Two reads of each case, for the claims with a reader policy.
        "subject": f"case-{number // 2}",
        "status": "queued",
        "raw_content": json.dumps({"scan_sources": {"T1": f"$BENCH_HOST/scans/{number}"}}),
        "raw_callback_url": "$BENCH_HOST/done",
        "tracking_id": "unassigned",
        "template_id": template_id,
        "create_time": now,
        "update_time": now,
    }


def _insert_tasks(have: int, size: int, *, template_id: int, group_id: int) -> None:
    """INSERT ... RETURNING in executemany batches (SQLite, MariaDB)."""
    now = utcnow()
    ids = list(
        db.session.scalars(
            insert(Task).returning(Task.id),
            [_task_row(have + i, template_id, now) for i in range(size)],
        )
    )
    db.session.execute(
        insert(task_groups_assigned),
        [{"task_id": task_id, "group_id": group_id} for task_id in ids],
    )


def _copy_tasks(have: int, size: int, *, template_id: int, group_id: int) -> None:
    """PostgreSQL COPY, ten times faster than INSERT: the ids are taken from the sequence in
    one step (setval), so the rows and their group links go in two COPY streams."""
    connection = db.session.connection()
    first = connection.scalar(
        text(
            "SELECT setval(pg_get_serial_sequence('tasks', 'id'), "
            "nextval(pg_get_serial_sequence('tasks', 'id')) + :size - 1) - :size + 1"
        ),
        {"size": size},
    )
    now = utcnow()
    rows = (_task_row(have + i, template_id, now) for i in range(size))
    cursor = connection.connection.driver_connection.cursor()  # psycopg 3
    columns = list(_task_row(0, template_id, now))
    with cursor.copy(f"COPY tasks (id, {', '.join(columns)}) FROM STDIN") as copy:
        for offset, row in enumerate(rows):
            copy.write_row((first + offset, *row.values()))
    with cursor.copy("COPY task_groups_assigned (task_id, group_id) FROM STDIN") as copy:
        for offset in range(size):
            copy.write_row((first + offset, group_id))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, required=True, help="tasks the database should hold")
    parser.add_argument("--users", type=int, default=32, help="benchmark accounts (default 32)")
    args = parser.parse_args()

    settings = load_settings()
    app = create_app(settings.model_copy(update={"auto_migrate": True}))
    with app.app_context():
        group = _accounts(args.users)
        template = db.session.scalars(select(TaskTemplate).where(TaskTemplate.label == "bench"))
        template_row = template.first()
        if template_row is None:
            template_row = TaskTemplate(label="bench", content='{"scans": [{"label": "T1"}]}')
            db.session.add(template_row)
            db.session.flush()
        db.session.commit()
        have = db.session.scalar(select(func.count()).select_from(Task)) or 0
        started = time.perf_counter()
        copying = db.engine.dialect.name == "postgresql"
        add, chunk = (_copy_tasks, COPY_CHUNK) if copying else (_insert_tasks, INSERT_CHUNK)
        while have < args.tasks:
            size = min(chunk, args.tasks - have)
            add(have, size, template_id=template_row.id, group_id=group.id)
            db.session.commit()
            have += size
        # Fresh statistics and no background work left over from the bulk insert, as a database
        # in service has them: otherwise autovacuum and the checkpointer run during the timing.
        backend = db.engine.dialect.name
        if backend == "postgresql":
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as admin:
                admin.execute(text("VACUUM ANALYZE"))
                admin.execute(text("CHECKPOINT"))  # needs a superuser or pg_checkpoint
        elif backend in ("mysql", "mariadb"):
            db.session.execute(text("ANALYZE TABLE tasks, task_users, task_groups_assigned"))
        db.session.commit()
        print(f"{have} tasks ({time.perf_counter() - started:.1f} s to add)")
        db.session.remove()
        db.engine.dispose()


if __name__ == "__main__":
    main()
