"""`taskmanager remind`: one digest mail a day to each user with overdue or long-locked tasks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from ..config import ConfigurationError, load_settings
from ..wording import counted
from .errors import EXIT_FAILED, EXIT_USAGE, CliError

if TYPE_CHECKING:
    from ..services.tasks.reminders import Digest, Mailer, Result


@click.command("remind", short_help="Mail users their overdue and long-locked tasks, once a day.")
@click.option(
    "--send", is_flag=True, help="Send the mails (without it: a dry run listing what would go)."
)
@click.option(
    "--locked-hours",
    type=click.IntRange(min=1),
    default=None,
    help="A task locked longer than this (hours) is listed (TASKMAN_REMIND_LOCKED_HOURS, 48).",
)
def remind(send: bool, locked_hours: int | None) -> None:
    """Mail each active user one digest of their overdue tasks (due passed; given to them or
    locked by them) and of the tasks they have held locked too long, at most once per UTC day.

    Without --send nothing is sent or stored: each line says what would be sent. Runs the same
    day skip the users already reminded, even when they run at once. Exits 1 when a mail could
    not be sent (a later run retries it).
    """
    from .. import create_app
    from ..models import db, utcnow
    from ..services.tasks import reminders

    try:
        settings = load_settings()
    except ConfigurationError as error:
        raise CliError(str(error), exit_code=EXIT_USAGE) from None
    if send and not settings.mail.get("MAIL_SERVER"):
        raise CliError(
            "No mail server is configured: set MAIL_SERVER to send (or leave out --send)"
        )
    app = create_app(settings.model_copy(update={"auto_migrate": False}))
    options = reminders.Options(
        locked_hours=locked_hours or settings.remind_locked_hours,
        base_url=settings.external_url,
        site_name=settings.instance_name,
    )
    with app.app_context():
        try:
            results = reminders.send_all(
                db.session, utcnow(), _mailer(app), dry_run=not send, options=options
            )
        finally:
            db.remove_session()
            db.engine.dispose()
    for result in results:
        click.echo(_line(result))
    click.echo(_total(results, dry_run=not send))
    if any(result.outcome is reminders.Outcome.FAILED for result in results):
        raise SystemExit(EXIT_FAILED)


def _mailer(app: Any) -> Mailer:
    """Sends through the app's Flask-Mail (MAIL_* settings), from the sender Flask-Security's
    mails use, as the web UI's mail page does."""
    from flask_mail import Message
    from werkzeug.local import LocalProxy

    sender = app.config.get("SECURITY_EMAIL_SENDER")
    if isinstance(sender, LocalProxy):
        sender = sender._get_current_object()

    def send(digest: Digest) -> None:
        message = Message(
            subject=digest.subject,
            recipients=[digest.email],
            body=digest.text,
            html=digest.html,
            sender=sender,
        )
        app.extensions["mail"].send(message)

    return send


def _line(result: Result) -> str:
    said = result.outcome.value
    if result.error:
        said = f"{said}: {result.error}"
    return f"{result.digest.email}: {result.digest.summary} — {said}"


def _total(results: list[Result], *, dry_run: bool) -> str:
    from ..services.tasks.reminders import Outcome, outcome_counts

    counts = outcome_counts(results)
    phrases = {
        Outcome.SENT: "{mails} sent",
        Outcome.WOULD_SEND: "{mails} would be sent",
        Outcome.FAILED: "{mails} not sent",
        Outcome.ALREADY_SENT: "{users} already reminded today",
    }
    parts = [
        phrase.format(
            mails=counted(counts[outcome], "mail"), users=counted(counts[outcome], "user")
        )
        for outcome, phrase in phrases.items()
        if counts[outcome]
    ]
    total = "; ".join(parts) or "nobody to remind"
    if dry_run:
        return f"Dry run: {total}. Nothing was sent; --send sends."
    return f"Total: {total}."
