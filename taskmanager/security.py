"""Flask-Security wiring: accounts, password hashing, tokens and the credential cache."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, g, request
from flask_principal import AnonymousIdentity
from flask_security import Security, SQLAlchemyUserDatastore, current_user
from flask_wtf import CSRFProtect

from .config import Settings
from .models import Role, User, db
from .services import throttling
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
    app.before_request(_refuse_throttled_login)
    app.after_request(_count_failed_login)
    _skip_identity_loading_for_api_basic_auth(app)


def _skip_identity_loading_for_api_basic_auth(app: Flask) -> None:
    """API calls with basic credentials skip Flask-Principal's per-request identity loading.

    It looks for a session cookie or a token (clients with basic credentials send neither) and
    cost a tenth of a request's CPU; api.auth checks the credentials and its own permissions.
    """
    principal = security.principal
    handlers = app.before_request_funcs.setdefault(None, [])
    index = handlers.index(principal._on_before_request)

    def load_identity() -> None:
        auth = request.authorization
        if auth is not None and auth.type == "basic" and request.blueprint == "api_v1":
            g.identity = AnonymousIdentity()
            return
        principal._on_before_request()

    handlers[index] = load_identity


def _web_login_keys() -> list[tuple[str, str]] | None:
    """The throttling counters of a web login attempt (None for anything else)."""
    if request.endpoint != "security.login" or request.method != "POST":
        return None
    data = request.get_json(silent=True) if request.is_json else request.form
    if not isinstance(data, dict):  # a JSON object or the form (a MultiDict is a dict)
        return None
    identity = data.get("username") or data.get("email") or data.get("identity")
    if not isinstance(identity, str) or not identity:
        return None
    return throttling.login_keys(identity=identity, address=request.remote_addr)


def _refuse_throttled_login() -> None:
    keys = _web_login_keys()
    if keys is not None:
        settings: Settings = current_app.extensions["taskman_settings"]
        throttling.check(
            db.session,
            keys=keys,
            max_failures=settings.login_max_failures,
            window=settings.login_window_seconds,
        )


def _count_failed_login(response: Response) -> Response:
    keys = _web_login_keys()
    refused = response.status_code >= 500 or response.status_code == 429
    if keys is not None and not refused and not current_user.is_authenticated:
        settings: Settings = current_app.extensions["taskman_settings"]
        throttling.record_failure(db.session, keys=keys, window=settings.login_window_seconds)
    return response


def datastore() -> Any:
    return security.datastore
