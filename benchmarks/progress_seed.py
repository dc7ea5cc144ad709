"""Give a database seeded by benchmarks.seed the history the progress pages read.

    python -m benchmarks.progress_seed --done-share 0.4 --days 30

Every `bench` task is assigned directly to one of the bench users as well (in turn), and a share
of them is marked done by that user, their done times spread over the last --days days, each
with the history row a status change writes (so the activity feed has operations to show); the
users' weights differ (1, 2 or 3) so that shares mean something. Straight through SQL, like
benchmarks.seed; run it once after that (it refuses a second time).
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import timedelta

from sqlalchemy import bindparam, insert, select, update

from taskmanager import create_app
from taskmanager.config import load_settings
from taskmanager.models import Task, TaskHistory, User, db, task_users, utcnow

CHUNK = 10_000
STATUS_DETAIL = json.dumps({"old": "queued", "new": "done"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--done-share", type=float, default=0.4, help="share marked done (0.4)")
    parser.add_argument("--days", type=int, default=30, help="done times over these days (30)")
    args = parser.parse_args()
    app = create_app(load_settings())
    with app.app_context():
        session = db.session
        if session.scalar(select(task_users.c.task_id).limit(1)) is not None:
            raise SystemExit("tasks are assigned to users already: run this once, after the seed")
        people = list(
            session.scalars(select(User.id).where(User.username.like("bench%")).order_by(User.id))
        )
        for index, user_id in enumerate(people):
            session.execute(
                update(User).where(User.id == user_id).values(assignment_weight=1 + index % 3)
            )
        ids = list(
            session.scalars(select(Task.id).where(Task.project == "bench").order_by(Task.id))
        )
        started, now = time.perf_counter(), utcnow()
        done_every = round(1 / args.done_share) if args.done_share > 0 else 0
        span = timedelta(days=args.days).total_seconds()
        for first in range(0, len(ids), CHUNK):
            chunk = ids[first : first + CHUNK]
            session.execute(
                insert(task_users),
                [
                    {"task_id": task_id, "user_id": people[task_id % len(people)]}
                    for task_id in chunk
                ],
            )
            done = [
                {
                    "task_id": task_id,
                    "doer": people[task_id % len(people)],
                    "when": now - timedelta(seconds=span * (n / len(ids))),
                }
                for n, task_id in enumerate(chunk, start=first)
                if done_every and n % done_every == 0
            ]
            if done:
                session.execute(
                    insert(TaskHistory),
                    [
                        {
                            "task_id": row["task_id"],
                            "timestamp": row["when"],
                            "actor_id": row["doer"],
                            "action": "status",
                            "detail": STATUS_DETAIL,
                        }
                        for row in done
                    ],
                )
                session.connection().execute(
                    update(Task.__table__)
                    .where(Task.__table__.c.id == bindparam("task_id"))
                    .values(
                        status="done", done_by_id=bindparam("doer"), done_time=bindparam("when")
                    ),
                    done,
                )
            session.commit()
        print(
            f"{len(ids)} tasks assigned, every {done_every}th done ({time.perf_counter() - started:.1f} s)"
        )
        db.session.remove()
        db.engine.dispose()


if __name__ == "__main__":
    main()
