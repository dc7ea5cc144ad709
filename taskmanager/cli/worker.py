"""`taskmanager worker`: deliver callbacks outside the server processes."""

from __future__ import annotations

import logging

import click


@click.command(short_help="Deliver callbacks (queue or outbox).")
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=None,
    help="Deliveries in flight at once (default: TASKMAN_CALLBACK_CONCURRENCY or 4).",
)
def worker(concurrency: int | None) -> None:
    """Deliver callbacks: consume the Celery or RQ queue (TASKMAN_CALLBACK_METHOD), or with
    `local` drain the outbox in this process. Runs until stopped (SIGTERM or Ctrl-C)."""
    from .. import workers
    from . import _app, _settings

    settings = _settings()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app = _app(settings, migrate=False)
    click.echo(f"Callback worker ({settings.callback_method}) starting")
    workers.run_worker(app, concurrency=concurrency)
