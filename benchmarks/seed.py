"""Fill a TaskManager database with N tasks and the benchmark accounts, straight through SQL.

    python -m benchmarks.seed --tasks 100000

Reads the server's configuration (SQLALCHEMY_DATABASE_URI or DB_*, SECRET_KEY, ...) from the
environment like the server does; migrates first. Creates (once) the template `bench`, the group
`bench` with users bench00..bench31 (password `bench-pass`, role user) and the meta variable
BENCH_HOST, then adds tasks until the database holds --tasks tasks, assigned to group `bench`.
"""

from __future__ import annotations

import argparse
import json
import time

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
CHUNK = 10_000


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
        while have < args.tasks:
            now = utcnow()
            size = min(CHUNK, args.tasks - have)
            ids = list(
                db.session.scalars(
                    insert(Task).returning(Task.id),
                    [
                        {
                            "project": "bench",
                            # Two reads of each case, for the claims with a reader policy.
                            "subject": f"case-{(have + i) // 2}",
                            "status": "queued",
                            "raw_content": json.dumps(
                                {"scan_sources": {"T1": f"$BENCH_HOST/scans/{have + i}"}}
                            ),
                            "raw_callback_url": "$BENCH_HOST/done",
                            "tracking_id": "unassigned",
                            "template_id": template_row.id,
                            "create_time": now,
                            "update_time": now,
                        }
                        for i in range(size)
                    ],
                )
            )
            db.session.execute(
                insert(task_groups_assigned),
                [{"task_id": task_id, "group_id": group.id} for task_id in ids],
            )
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
