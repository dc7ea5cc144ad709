"""The environment variables the server reads, as declared on taskmanager.config's models."""

from __future__ import annotations

from taskmanager.config import environment_variables

# Handed to Flask-Mail through the MAIL_ prefix rather than read one by one.
MAIL_SETTINGS = frozenset(
    {
        "MAIL_SERVER",
        "MAIL_PORT",
        "MAIL_USE_TLS",
        "MAIL_USE_SSL",
        "MAIL_USERNAME",
        "MAIL_PASSWORD",
        "MAIL_DEFAULT_SENDER",
    }
)


def known_variables() -> set[str]:
    """Every variable the settings declare, and the mail settings."""
    return set(environment_variables()) | MAIL_SETTINGS
