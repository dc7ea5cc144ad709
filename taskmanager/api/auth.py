"""API authentication (HTTP basic or a Flask-Security token) and permission checks."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from apiflask import HTTPError
from flask import current_app, request
from flask_login import current_user
from flask_security.utils import get_request_attr

from ..models import User, db
from ..security import csrf
from ..services.accounts import authentication, permissions
from ..services.kit.errors import Forbidden

F = TypeVar("F", bound=Callable[..., Any])


def _unauthorised() -> HTTPError:
    realm = current_app.config["TASKMAN_INSTANCE_NAME"]
    return HTTPError(
        401,
        "Authentication required: send valid HTTP basic credentials or an auth token",
        headers={"WWW-Authenticate": f'Basic realm="{realm}"'},
    )


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _login(user: User) -> None:
    # current_user for this request. No Flask-Principal identity: the API checks permissions
    # itself (services.permissions), and loading one cost more than checking the credentials.
    current_app.login_manager._update_request_context_with_user(user)  # type: ignore[attr-defined]


def authenticated_user() -> User | None:
    """The caller, from basic credentials, a token header or a session; None unless the account
    may sign in (services.authentication.may_sign_in, the web login's rule)."""
    # Kept on the request, not on `g`: an app context can outlive one request (tests, CLI).
    if "taskman.api_user" in request.environ:
        return request.environ["taskman.api_user"]  # type: ignore[no-any-return]
    user: User | None = None
    auth = request.authorization
    if auth is not None and auth.type == "basic":
        settings = current_app.extensions["taskman_settings"]
        user = authentication.authenticate_basic(
            db.session,
            identity=auth.username or "",
            password=auth.password or "",
            cache=current_app.extensions["taskman_credential_cache"],
            address=request.remote_addr,
            max_failures=settings.login_max_failures,
            window=settings.login_window_seconds,
        )
        if user is not None:
            _login(user)
    elif current_user.is_authenticated and authentication.may_sign_in(current_user):
        # A browser session is sent by other sites' requests too: changes need the CSRF token.
        if get_request_attr("fs_authn_via") == "session" and request.method not in SAFE_METHODS:
            csrf.protect()
        user = current_user._get_current_object()  # type: ignore[attr-defined]
    request.environ["taskman.api_user"] = user
    return user


def require_credentials_first() -> None:
    """Every v1 route needs a caller: an anonymous request is answered 401 before its body is
    read, not 400 for a body it was never allowed to send."""
    if request.method != "OPTIONS" and authenticated_user() is None:
        raise _unauthorised()


def login_required(view: F) -> F:
    """Refuse with 401 and a WWW-Authenticate challenge unless the caller authenticates."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if authenticated_user() is None:
            raise _unauthorised()
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def caller() -> User:
    user = authenticated_user()
    assert user is not None, "caller() used outside login_required"
    return user


def permissions_of(user: User) -> frozenset[str]:
    return permissions.of(user)


def has_any(user: User, *permissions: str) -> bool:
    return not permissions_of(user).isdisjoint(permissions)


def require_any(user: User, *permissions: str) -> None:
    if not has_any(user, *permissions):
        raise Forbidden(f"Requires one of the permissions: {', '.join(permissions)}")


def permission_required(*permissions: str) -> Callable[[F], F]:
    """Authenticate, then refuse with 403 unless the caller has at least one permission."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = authenticated_user()
            if user is None:
                raise _unauthorised()
            require_any(user, *permissions)
            return view(*args, **kwargs)

        # Read by the OpenAPI processor (api/__init__.py), which documents the 403 answer.
        wrapper.taskman_permissions = permissions  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorator
