"""Callback delivery throughput with the `local` backend, and what the outbox row costs a commit.

    .venv/bin/python -m benchmarks.callbacks [--count 2000] [--concurrency 4]

Uses a fresh database (SQLite, or TASKMAN_TEST_DATABASE_URL's server) and a receiver on
127.0.0.1 that answers at once; prints deliveries per second and the cost of the outbox row.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select, text

from taskmanager import create_app, workers
from taskmanager.config import load_settings
from taskmanager.models import CallbackDelivery, db
from taskmanager.services.callbacks import outbox as callbacks
from tests.support import databases
from tests.support.receiver import Receiver, wait_until


def _commit_cost(session, *, rounds: int, with_callback: bool) -> float:
    """Mean seconds of a small transaction, with or without an outbox row in it."""
    started = time.perf_counter()
    for _ in range(rounds):
        session.execute(text("SELECT 1"))
        if with_callback:
            callbacks.enqueue(session, url="http://127.0.0.1:9/x", body='{"a": 1}')
        session.commit()
    return (time.perf_counter() - started) / rounds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        url = databases.create_database(Path(folder), prefix="tm_bench")
        try:
            settings = load_settings(
                {
                    "SQLALCHEMY_DATABASE_URI": url,
                    "SECRET_KEY": "bench",
                    "SECURITY_PASSWORD_SALT": "bench",
                    "TASKMAN_INSTANCE_PATH": folder,
                    "TASKMAN_CALLBACK_SECRET": "bench",
                }
            )
            app = create_app(settings)
            with app.app_context():
                session = db.session
                plain = _commit_cost(session, rounds=200, with_callback=False)
                outbox = _commit_cost(session, rounds=200, with_callback=True)
                session.execute(CallbackDelivery.__table__.delete())
                session.commit()
                print(
                    f"{databases.backend_name()}: commit {plain * 1000:.2f} ms, with an outbox "
                    f"row {outbox * 1000:.2f} ms (+{(outbox - plain) * 1000:.2f} ms)"
                )

                with Receiver() as receiver:
                    for number in range(args.count):
                        callbacks.enqueue(session, url=f"{receiver.url}/{number}", body="{}")
                    session.commit()
                    started = time.perf_counter()
                    workers.start(
                        app,
                        settings.model_copy(update={"callback_concurrency": args.concurrency}),
                    )
                    delivered = select(func.count()).where(CallbackDelivery.status == "delivered")

                    def done() -> bool:
                        session.rollback()
                        return session.scalar(delivered) == args.count

                    finished = wait_until(done, timeout=600, interval=0.05)
                    elapsed = time.perf_counter() - started
                    workers.stop(app)
                print(
                    f"local, concurrency {args.concurrency}: {args.count} deliveries in "
                    f"{elapsed:.2f} s = {args.count / elapsed:.0f}/s"
                    + ("" if finished else " (NOT all delivered)")
                )
                db.session.remove()
                db.engine.dispose()
        finally:
            databases.drop_database(url)


if __name__ == "__main__":
    main()
