"""The secrets a database was set up with stay the secrets it is served with.

`SECURITY_PASSWORD_SALT` is mixed into every stored password hash and `SECRET_KEY` signs every
session, token and link sent by mail: served with other values, no old password verifies or no
one stays signed in. The database keeps a fingerprint of each (a slow, salted hash: never the
secret), recorded at the first start; a start with other secrets is refused, naming which.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...config import Settings
from ...models import SiteFact, utcnow


@dataclass(frozen=True)
class Secret:
    variable: str
    fact: str
    protects: str


SECRETS = (
    Secret(
        "SECURITY_PASSWORD_SALT",
        "fingerprint:security_password_salt",
        "every stored password would fail to verify",
    ),
    Secret(
        "SECRET_KEY",
        "fingerprint:secret_key",
        "every session, token and confirmation or reset link would be void",
    ),
)


class SecretsChanged(Exception):
    """The configured secrets differ from those the database was set up with."""


# PBKDF2 costs time, not memory: scrypt's 16 MiB, taken in the gunicorn master before it forks,
# stayed resident in every worker.
FINGERPRINT_ROUNDS = 200_000


def fingerprint(value: str, purpose: str) -> str:
    """A slow salted hash of the secret: comparing is cheap once per start; guessing the secret
    back from it is not."""
    digest = hashlib.pbkdf2_hmac(
        "sha256", value.encode("utf-8"), f"taskmanager:{purpose}".encode(), FINGERPRINT_ROUNDS
    )
    return f"pbkdf2-sha256${FINGERPRINT_ROUNDS}$" + base64.b64encode(digest).decode("ascii")


def _value(settings: Settings, secret: Secret) -> str:
    return str(
        {"SECRET_KEY": settings.secret_key, "SECURITY_PASSWORD_SALT": settings.password_salt}[
            secret.variable
        ]
    )


def check(session: Session, settings: Settings) -> None:
    """Record the secrets' fingerprints at the first start; refuse (SecretsChanged) others."""
    stored = {
        fact.name: fact
        for fact in session.scalars(
            select(SiteFact).where(SiteFact.name.in_([s.fact for s in SECRETS]))
        )
    }
    changed = []
    for secret in SECRETS:
        value = fingerprint(_value(settings, secret), secret.fact)
        if secret.fact not in stored:
            session.add(SiteFact(name=secret.fact, value=value, updated_at=utcnow()))
        elif stored[secret.fact].value != value:
            changed.append(secret)
    if changed:
        session.rollback()
        names = " and ".join(s.variable for s in changed)
        harm = "; ".join(f"with another {s.variable} {s.protects}" for s in changed)
        raise SecretsChanged(
            f"{names} differ{'s' if len(changed) == 1 else ''} from the one this database was set "
            f"up with ({harm}): set the old value again, or, if the change is deliberate, run "
            "`taskmanager db accept-secrets`"
        )
    session.commit()


def accept(session: Session, settings: Settings) -> None:
    """Record the configured secrets as the database's own (after a deliberate change)."""
    for secret in SECRETS:
        value = fingerprint(_value(settings, secret), secret.fact)
        fact = session.get(SiteFact, secret.fact)
        if fact is None:
            session.add(SiteFact(name=secret.fact, value=value, updated_at=utcnow()))
        else:
            fact.value, fact.updated_at = value, utcnow()
    session.commit()
