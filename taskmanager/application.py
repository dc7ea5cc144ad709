"""The Flask application class: a request runs again when the database gave up on its transaction
in a way a fresh one may get through, and an API request answers JSON whatever fails.

The unit of work is the request (its views commit at the end): services/transactions.py says
which failures may run again. A deadlock or lock-wait timeout runs the whole request again, up
to `transactions.ATTEMPTS` times with a short jittered pause. A request whose connection died
runs once more on a new one when it is a read (GET, HEAD), or when the connection was dead before
the request ran anything on it (a database restart while it was idle in the pool: what
`pool_pre_ping` would have caught, for a round trip on every request). Never when the attempt
committed something, which running it again could do twice. The same request object serves
every attempt, so its body is read once.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

from apiflask import APIFlask
from flask import Response, g, has_request_context, request
from sqlalchemy import Engine, Pool, event
from sqlalchemy.engine import ExceptionContext
from werkzeug.exceptions import HTTPException

from .models import db
from .services.kit import transactions

log = logging.getLogger(__name__)

READS = frozenset({"GET", "HEAD"})
_ATTEMPT = "taskman.attempt"
_COMMITS_BEFORE = "taskman.commits_before_attempt"
_LOST = "taskman.connection_lost"  # "before use", or "in use"
_UNUSED = "taskman_unused"  # in a pooled connection's info: nothing ran on it since its checkout


class _RunAgain(Exception):
    """The request's transaction failed in a way a fresh one may not (the cause says how)."""


class TaskManager(APIFlask):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        transactions.count_commits(db.session)
        for target, name, listener in (
            (Engine, "handle_error", _note_lost_connection),
            (Pool, "checkout", _checked_out),
            (Engine, "after_cursor_execute", _used),
        ):
            if not event.contains(target, name, listener):
                event.listen(target, name, listener)
        self.wsgi_app = _ApiErrorsAsJson(self, self.wsgi_app)  # type: ignore[method-assign]

    def full_dispatch_request(self) -> Response:
        # What an attempt leaves on the request and on `g` (the caller, once authenticated or
        # found missing) is dropped before the next one, which starts as the request arrived.
        arrived = set(request.environ), set(g)
        attempt = 1
        while True:
            request.environ[_ATTEMPT] = attempt
            request.environ[_COMMITS_BEFORE] = transactions.commits(db.session)
            request.environ.pop(_LOST, None)
            try:
                return super().full_dispatch_request()
            except _RunAgain as again:
                log.warning(
                    "%s %s: %s; running it again (attempt %d)",
                    request.method,
                    request.path,
                    again,
                    attempt + 1,
                )
                transactions.discard(db.session)
                for key in set(request.environ) - arrived[0]:
                    del request.environ[key]
                for name in set(g) - arrived[1]:
                    g.pop(name)
                time.sleep(transactions.backoff(attempt))
                attempt += 1

    def handle_user_exception(self, e: Exception) -> HTTPException | Any:
        # Before any error handler turns the failure into an answer.
        lost = request.environ.get(_LOST)
        if _may_run_again(e, lost):
            raise _RunAgain(f"connection lost {lost}" if lost else transactions.describe(e)) from e
        if lost and not transactions.is_disconnect(e):
            # The connection died under the request, but the error was caught on its way (by
            # Flask-Security's token loader, which reads any error as "no such token"): what
            # followed from it (a 401, a PendingRollbackError) says nothing.
            log.error("%s %s: connection lost, answered as %r", request.method, request.path, e)
            e = transactions.unavailable()
        return super().handle_user_exception(e)


def _may_run_again(error: Exception, lost: str | None) -> bool:
    attempt = request.environ.get(_ATTEMPT)
    if attempt is None or transactions.commits(db.session) != request.environ[_COMMITS_BEFORE]:
        return False
    if transactions.is_contention(error):
        return bool(attempt < transactions.ATTEMPTS)
    if lost or transactions.is_disconnect(error):
        return attempt == 1 and (request.method in READS or lost == "before use")
    return False


def _note_lost_connection(context: ExceptionContext) -> None:
    """Every database error passes here, also one that some code then catches itself."""
    if context.is_disconnect and has_request_context():
        unused = context.connection is not None and context.connection.info.get(_UNUSED)
        request.environ.setdefault(_LOST, "before use" if unused else "in use")


def _checked_out(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    record.info[_UNUSED] = True


def _used(conn: Any, *_args: Any) -> None:
    conn.info[_UNUSED] = False


WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _ApiErrorsAsJson:
    """What escapes Flask's own error handling on an API path (a failing teardown, a failing
    error handler) answers the API's error shape, not the WSGI server's HTML page."""

    def __init__(self, app: APIFlask, wsgi_app: WsgiApp) -> None:
        self.app = app
        self.wsgi_app = wsgi_app

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        started = False

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            nonlocal started
            started = True
            return start_response(status, headers, exc_info)

        try:
            return self.wsgi_app(environ, start)
        except Exception:
            if not environ.get("PATH_INFO", "").startswith("/api/") or self._propagates():
                raise
            log.exception(
                "Exception on %s [%s]", environ.get("PATH_INFO"), environ.get("REQUEST_METHOD")
            )
            body = json.dumps({"message": "Internal Server Error"}).encode()
            headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
            # Flask may have started its answer before the failure: replacing it says why.
            start_response(
                "500 INTERNAL SERVER ERROR", headers, sys.exc_info() if started else None
            )
            return [body]

    def _propagates(self) -> bool:
        """Flask's rule: tests and the debugger see the exception itself."""
        propagate = self.app.config["PROPAGATE_EXCEPTIONS"]
        return bool(self.app.testing or self.app.debug if propagate is None else propagate)
