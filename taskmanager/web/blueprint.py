"""The web blueprint: every page needs a signed-in user; every POST is CSRF-checked."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from apiflask import APIBlueprint
from flask import (
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from flask_security import url_for_security
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from .. import __version__
from ..models import User, db
from ..security import csrf
from ..services.accounts import onboarding, permissions
from ..services.accounts import users as user_service
from ..services.kit import transactions
from ..services.kit.errors import DomainError, Unavailable
from ..wording import counted

F = TypeVar("F", bound=Callable[..., Any])

# An APIBlueprint only so that APIFlask's OpenAPI generation, which inspects every blueprint,
# knows to leave these HTML pages out of the API document.
bp = APIBlueprint("web", __name__, enable_openapi=False)


def me() -> User:
    """The signed-in user (every page of the blueprint requires one)."""
    return current_user._get_current_object()  # type: ignore[no-any-return]


def can(*wanted: str) -> bool:
    """Whether the signed-in user holds at least one of these permissions."""
    if not current_user.is_authenticated:
        return False
    return not permissions.of(me()).isdisjoint(wanted)


def require(*wanted: str) -> None:
    if not can(*wanted):
        abort(403)


def permission_required(*wanted: str) -> Callable[[F], F]:
    """Refuse with 403 unless the signed-in user holds one of the permissions."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            require(*wanted)
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


@bp.before_request
def _signed_in_and_csrf_checked() -> Response | None:
    if not current_user.is_authenticated:
        return redirect(url_for("security.login", next=request.full_path.rstrip("?")))
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()
    return None


@bp.app_context_processor
def _layout_globals() -> dict[str, Any]:
    return {
        "instance_name": current_app.config["TASKMAN_INSTANCE_NAME"],
        "project_name": current_app.config["TASKMAN_PROJECT_NAME"],
        "taskman_version": __version__,
        "can": can,
        "default_password_accounts": _default_password_accounts,
    }


def _default_password_accounts() -> list[tuple[str, str]]:
    """For the banner admins see while an admin account still has the password admin/admin:
    each such account and the page that changes its password (one's own: the change-password
    page; another's: its edit page)."""
    settings = current_app.extensions["taskman_settings"]
    changeable = current_app.extensions["security"].changeable
    linked = []
    for name in onboarding.accounts_with_default_password(db.session, settings):
        if changeable and name == current_user.username:
            linked.append((name, url_for_security("change_password")))
        else:
            account = user_service.get_or_raise(db.session, reference=name)
            linked.append((name, url_for("web.user_edit", user_id=account.id)))
    return linked


def _error_page(status: int, message: str | None) -> tuple[str, int]:
    return render_template("error.html", status=status, message=message), status


@bp.errorhandler(DomainError)
def _domain_error(error: DomainError) -> tuple[str, int]:
    return _error_page(error.status_code, error.message)


@bp.errorhandler(SQLAlchemyError)
def _database_error(error: SQLAlchemyError) -> tuple[str, int, dict[str, str]]:
    """What the database refused or gave up on (services/kit/transactions.py); else a 500."""
    refusal = transactions.as_domain_error(error)
    if refusal is None:
        raise error
    transactions.discard(db.session)
    if isinstance(refusal, Unavailable):
        # The layout reads the signed-in user from the database: this page does without it.
        headers = {"Retry-After": str(refusal.retry_after)}
        return render_template("unavailable.html"), refusal.status_code, headers
    page, status = _error_page(refusal.status_code, refusal.message)
    return page, status, {}


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> tuple[str, int] | HTTPException:
    if error.code is None or error.code < 400:
        return error
    # Werkzeug's stock descriptions say less than the page itself; show only specific ones.
    specific = error.description if error.description != type(error).description else None
    return _error_page(error.code, specific)


def _utc(value: datetime) -> datetime:
    # Values Flask-Security just set (login tracking) are naive UTC until they are reloaded.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@bp.app_template_filter("counted")
def _counted(count: int, singular: str, plural: str | None = None) -> str:
    return counted(count, singular, plural).replace(str(count), _number(count), 1)


@bp.app_template_filter("number")
def _number(value: int | float | None) -> str:
    """A count as pages show it: thousands separated ("12,345")."""
    if value is None:
        return ""
    return f"{value:,}" if isinstance(value, int) else f"{value:,.1f}"


@bp.app_template_filter("datetime")
def _format_datetime(value: datetime | None) -> str:
    if value is None:
        return ""
    return _utc(value).strftime("%Y-%m-%d %H:%M UTC")


@bp.app_template_filter("ago")
def _format_ago(value: datetime | None) -> str:
    """A short relative time ("5 min ago"); older than a week shows the date."""
    if value is None:
        return ""
    value = _utc(value)
    seconds = (datetime.now(UTC) - value).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    if seconds < 7 * 86400:
        return f"{int(seconds // 86400)} d ago"
    return value.strftime("%Y-%m-%d")


@bp.app_template_filter("iso")
def _format_iso(value: datetime | None) -> str:
    return "" if value is None else _utc(value).isoformat()
