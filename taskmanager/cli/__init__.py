"""The `taskmanager` command and the old console-script names."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import click

from ..config import ConfigurationError, Settings, load_settings
from ..wording import counted
from .confirm import confirm_destructive, shown, yes_option
from .errors import database_errors, domain_errors


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from exc


@contextlib.contextmanager
def _startup_errors() -> Iterator[None]:
    """A bad project repository or config file stops start-up with a message, not a traceback."""
    from ..services.accounts.site_secrets import SecretsChanged
    from ..services.kit.errors import DomainError
    from ..services.legacy.legacy_upgrade import LegacyUpgradeError
    from ..services.projects.project_repo import ProjectRepoError

    try:
        yield
    except ProjectRepoError as exc:
        raise click.ClickException(f"Project repository: {exc}") from exc
    except LegacyUpgradeError as exc:
        raise click.ClickException(f"Database: {exc}") from exc
    except SecretsChanged as exc:
        raise click.ClickException(f"Secrets: {exc}") from exc
    except DomainError as exc:
        raise click.ClickException(f"Project config: {exc}") from exc


def _app(settings: Settings, *, migrate: bool) -> Any:
    from .. import create_app

    return create_app(settings.model_copy(update={"auto_migrate": migrate}))


class _Commands(click.Group):
    """Database problems end a command with one line saying why and what fixes it."""

    def invoke(self, ctx: click.Context) -> Any:
        with database_errors():
            return super().invoke(ctx)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="task-manager")
def main() -> None:
    """TaskManager: keeps lists of human tasks and dispenses them to the people who do them."""


@main.group()
def db() -> None:
    """Database schema migrations."""


@db.command("upgrade", short_help="Migrate the schema up (default: newest).")
@click.argument("revision", default="head")
@click.option(
    "--dry-run", is_flag=True, help="Say what the upgrade would do (tables, rows); change nothing."
)
def db_upgrade(revision: str, dry_run: bool) -> None:
    """Migrate the database schema up to REVISION (default: the newest).

    An old TaskManager's database (task-manager 6.6) is converted in place, keeping every row.
    """
    from .. import database
    from ..services.legacy import legacy_upgrade

    settings = _settings()
    with domain_errors():
        schema = database.upgrade(settings.database_uri, revision, dry_run=dry_run)
    if dry_run:
        for line in schema.describe():
            click.echo(line)
        click.echo("Dry run: nothing was changed.")
        return
    if schema.kind == legacy_upgrade.LEGACY:
        rows = counted(sum(schema.counts.values()), "row")
        click.echo(f"Converted the old TaskManager's tables ({rows}).")
    click.echo(f"Database at revision {database.current_revision(settings.database_uri)}")


@db.command("downgrade", short_help="Migrate the schema down (data is lost).")
@click.argument("revision", default="base")
@yes_option
def db_downgrade(revision: str, yes: bool) -> None:
    """Migrate the database schema down to REVISION (default: empty; data is lost)."""
    from .. import database

    settings = _settings()
    where = shown(settings.database_uri)
    if revision == "base":
        confirm_destructive(f"drop every table and all data in {where}", yes=yes)
    else:
        confirm_destructive(
            f"migrate {where} down to revision {revision}, dropping what newer revisions added",
            yes=yes,
        )
    database.downgrade(settings.database_uri, revision)
    click.echo(f"Database at revision {database.current_revision(settings.database_uri)}")


@db.command("wait", short_help="Wait until the database accepts connections.")
@click.option(
    "--timeout",
    type=float,
    default=None,
    help="Give up after this long (s; TASKMAN_DB_WAIT_TIMEOUT).",
)
def db_wait(timeout: float | None) -> None:
    """Wait until the database accepts connections (container start-up)."""
    from sqlalchemy import create_engine

    from .. import database

    settings = _settings()
    timeout = settings.db_wait_timeout if timeout is None else timeout
    engine = create_engine(settings.database_uri)
    try:
        database.wait_for_database(engine, timeout=timeout)
    finally:
        engine.dispose()
    click.echo("Database is reachable")


@db.command("accept-secrets", short_help="Adopt the configured secrets (after a change).")
@yes_option
def db_accept_secrets(yes: bool) -> None:
    """Record this SECRET_KEY and SECURITY_PASSWORD_SALT as the database's (after a change).

    Passwords stored under another salt stop verifying, and sessions and tokens signed with
    another secret key end.
    """
    from ..models import db as database_handle
    from ..services.accounts import site_secrets

    settings = _settings()
    where = shown(settings.database_uri)
    confirm_destructive(f"make the configured secrets those of {where}", yes=yes)
    app = _app(settings, migrate=False)
    with app.app_context():
        site_secrets.accept(database_handle.session, settings)
        database_handle.engine.dispose()
    click.echo(f"The configured secrets are now those of {where}.")


@db.command("current")
def db_current() -> None:
    """Show the schema revision the database is at."""
    from .. import database

    click.echo(database.current_revision(_settings().database_uri) or "empty (no revision)")


@main.command(short_help="Create the roles and the admin account.")
def onboarding() -> None:
    """Create the roles and the TASKMAN_ADMIN_* account (idempotent); migrates first.

    With PROJECT_REPO set, also fetches that repository and loads its config file and templates.
    """
    from .. import database
    from ..models import db as database_handle
    from ..services.accounts import onboarding as onboarding_service
    from ..services.projects import project_config

    settings = _settings()
    with domain_errors():
        database.upgrade(settings.database_uri)
    app = _app(settings, migrate=False)
    with app.app_context(), _startup_errors():
        admin = onboarding_service.run(database_handle.session, settings)
        click.echo("Roles admin, superuser and user are in place.")
        if admin is not None:
            click.echo(f"Admin account: {admin.username}")
        counts = project_config.load_from_repository(database_handle.session, settings)
        if counts is not None:
            summary = ", ".join(f"{n} {what}" for what, n in sorted(counts.items()))
            click.echo(f"Project config loaded: {summary or 'nothing new'}")
        database_handle.remove_session()
        database_handle.engine.dispose()


@main.command(short_help="Run the development server.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=None, help="Port (default: TASKMANAGER_PORT or 5000).")
@click.option("--debug", is_flag=True, help="Reload on code changes and show tracebacks.")
def run(host: str, port: int | None, debug: bool) -> None:
    """Run the development server (migrates and onboards first)."""
    from .. import workers as callback_workers

    settings = _settings()
    with _startup_errors():
        app = _app(settings, migrate=True)
    if not debug and settings.callback_worker:
        # With the reloader this process only watches files; the child starts on first request.
        callback_workers.start(app)
    port = port or settings.port
    click.echo(
        f"TaskManager on http://{'localhost' if host in ('127.0.0.1', '0.0.0.0') else host}:{port}"
    )
    app.run(host=host, port=port, debug=debug, use_reloader=debug, threaded=True)


@main.command(short_help="Run the production server (gunicorn).")
@click.option("--host", default="0.0.0.0", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=None, help="Port (default: TASKMANAGER_PORT or 5000).")
@click.option(
    "--workers", type=int, default=None, help="Worker processes (default: GUNICORN_WORKERS or 4)."
)
def serve(host: str, port: int | None, workers: int | None) -> None:
    """Run the production server (gunicorn), honouring GUNICORN_* and TASKMANAGER_PORT."""
    from ..serving import GunicornServer, gunicorn_options, prepare_metrics_dir

    settings = _settings()
    if settings.metrics_enabled:
        # Before the app (and prometheus-client) is imported: every worker writes its counts there.
        settings = settings.model_copy(
            update={
                "prometheus_multiproc_dir": prepare_metrics_dir(settings.prometheus_multiproc_dir)
            }
        )
    from .. import create_app, prepare_database
    from .. import workers as callback_workers

    if settings.auto_migrate:
        # Migrate once in the master, so workers never race each other to do it.
        with _startup_errors():
            prepare_database(create_app(settings.model_copy(update={"auto_migrate": False})))
    options = gunicorn_options(settings, host=host, port=port, workers=workers)
    worker_settings = settings.model_copy(update={"auto_migrate": False})

    def worker_app() -> Any:
        # Runs in each gunicorn worker after the fork: its callback thread belongs to it.
        app = create_app(worker_settings)
        if worker_settings.callback_worker:
            callback_workers.start(app)
        return app

    GunicornServer(worker_app, options).run()


from .worker import worker  # noqa: E402  (registered on `main`, defined beside it)

main.add_command(worker)

from .remind import remind  # noqa: E402

main.add_command(remind)


# The data-manager commands (tasks, templates, users, config, export, demo data, db clean).
from . import commands  # noqa: E402

commands.register(main)

db_init_alias = commands.old_script(db_upgrade, "taskmanager-db-init", prefer_database=True)
onboarding_alias = commands.old_script(onboarding, "taskmanager-onboarding", prefer_database=True)
