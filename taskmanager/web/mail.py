"""Outgoing mail through Flask-Mail; without MAIL_SERVER, each message is written to the log.

Flask-Security's own mail (confirmation, password reset) goes through the same Flask-Mail
extension, so both paths behave alike.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from flask import Flask, current_app
from flask_mail import Mail, Message, email_dispatched
from werkzeug.local import LocalProxy

log = logging.getLogger(__name__)

mail = Mail()


def init_app(app: Flask) -> None:
    if isinstance(app.config.get("MAIL_PORT"), str):
        app.config["MAIL_PORT"] = int(app.config["MAIL_PORT"])
    if not app.config.get("MAIL_SERVER"):
        # Nowhere to send to: Flask-Mail skips the SMTP step and the log gets the message.
        app.config["MAIL_SUPPRESS_SEND"] = True
        email_dispatched.connect(_log_message, sender=app)
    mail.init_app(app)


def configured() -> bool:
    """Whether mail really leaves the server (MAIL_SERVER is set)."""
    return bool(current_app.config.get("MAIL_SERVER"))


def _log_message(app: Any, message: Message, **_: Any) -> None:
    log.warning(
        "MAIL_SERVER is not set; mail not sent.\nFrom: %s\nTo: %s\nSubject: %s\n\n%s",
        message.sender,
        ", ".join(str(r) for r in message.recipients),
        message.subject,
        message.body,
    )


def send(*, subject: str, recipients: Sequence[str], body: str) -> None:
    """Send one plain-text message; each recipient sees only their own address."""
    # Flask-Security's sender setting defaults to MAIL_DEFAULT_SENDER; one sender for all mail.
    sender = current_app.config.get("SECURITY_EMAIL_SENDER")
    if isinstance(sender, LocalProxy):
        sender = sender._get_current_object()
    with mail.connect() as connection:
        for recipient in recipients:
            connection.send(
                Message(subject=subject, recipients=[recipient], body=body, sender=sender)
            )
