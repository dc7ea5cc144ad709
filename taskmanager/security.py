"""Flask-Security wiring: accounts, password hashing, tokens and the credential cache."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_security import Security, SQLAlchemyUserDatastore
from flask_wtf import CSRFProtect

from .config import Settings
from .models import Role, User, db
from .services.authentication import CredentialCache

security = Security()
csrf = CSRFProtect()


def init_app(app: Flask, settings: Settings) -> None:
    # Session-authenticated requests are CSRF-checked; basic and token auth need no check.
    csrf.init_app(app)
    datastore = SQLAlchemyUserDatastore(db, User, Role)
    security.init_app(app, datastore, register_blueprint=True)
    app.extensions["taskman_credential_cache"] = CredentialCache(
        settings.secret_key, settings.auth_cache_seconds
    )


def datastore() -> Any:
    return security.datastore
