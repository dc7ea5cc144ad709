"""Flask-Security wiring: accounts, password hashing, tokens and the credential cache."""

from __future__ import annotations

from typing import Any

from flask import Flask, Request, Response, current_app, g, request
from flask_principal import AnonymousIdentity
from flask_security import Security, SQLAlchemyUserDatastore
from flask_security.utils import get_request_attr, parse_auth_token, set_request_attr
from flask_wtf import CSRFProtect

from .config import Settings
from .models import Role, User, db
from .services.accounts import authentication, throttling
from .services.accounts.authentication import CredentialCache

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
    app.login_manager.request_loader(_user_from_token_header)  # type: ignore[attr-defined]
    app.before_request(_reserve_web_login_attempt)
    app.after_request(_settle_web_login_attempt)
    _skip_identity_loading_for_api_basic_auth(app)


def _user_from_token_header(req: Request) -> User | None:
    """A token authenticates only in its header: Flask-Security's own loader also took it from
    the query string (which access logs record) and the JSON body."""
    if get_request_attr("fs_authn_via") == "token":
        return g._login_user  # type: ignore[no-any-return]
    token = req.headers.get(current_app.config["SECURITY_TOKEN_AUTHENTICATION_HEADER"])
    if not token:
        return None
    try:
        data = parse_auth_token(token)
        store = security.datastore
        found = store.find_user(fs_token_uniquifier=data["uid"]) or store.find_user(
            fs_uniquifier=data["uid"]
        )
        user = found if isinstance(found, User) else None
    except Exception:  # a malformed, forged or expired token: simply not signed in
        return None
    if user is None or not authentication.may_sign_in(user) or not user.verify_auth_token(data):
        return None
    set_request_attr("fs_authn_via", "token")
    return user


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


def _reserve_web_login_attempt() -> None:
    keys = _web_login_keys()
    if keys is not None:
        settings: Settings = current_app.extensions["taskman_settings"]
        throttling.reserve(
            db.session,
            keys=keys,
            max_failures=settings.login_max_failures,
            window=settings.login_window_seconds,
        )
        g.taskman_login_keys = keys


def _settle_web_login_attempt(response: Response) -> Response:
    keys = g.pop("taskman_login_keys", None)
    if keys is not None:
        # Set by the login form once the password matched (web.accounts.IdentityLoginForm):
        # a refusal for another reason (unconfirmed, deactivated) is not a failure.
        failed = not g.pop("taskman_password_matched", False)
        throttling.settle(db.session, keys=keys, failed=failed)
    return response


def datastore() -> Any:
    return security.datastore
