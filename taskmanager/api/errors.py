"""The one place API errors become JSON: `{"message": ..., "errors": {field: [...]}}`."""

from __future__ import annotations

from typing import Any

from apiflask import APIFlask
from apiflask.exceptions import HTTPError
from flask import Request, current_app
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.routing import IntegerConverter, Map

from ..models import db
from ..services.kit import documents, transactions
from ..services.kit.errors import DomainError, InvalidInput, Throttled, Unavailable
from ..services.kit.references import MAX_ID

# The documented shape of every error answer (OpenAPI).
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "message": {"type": "string"},
        "errors": {
            "type": "object",
            "description": "Per field, what is wrong with it",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        },
    },
    "required": ["message"],
}


def error_body(
    message: str, errors: dict[str, list[str]] | None = None, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"message": message}
    if errors:
        body["errors"] = errors
    body.update(extra)
    return body


class _StrictJson:
    """How every request body is parsed (API, web, /login): services/kit/documents.py's rules, so
    that deep nesting, lone surrogates and NaN fail as a ValueError (`silent` readers get None)."""

    loads = staticmethod(documents.parse_json)


class JsonCheckingRequest(Request):
    """Reads every JSON body strictly, and says why one is refused (werkzeug's answer was a bare
    "Bad Request")."""

    @property
    def json_module(self) -> Any:
        return _StrictJson

    @json_module.setter
    def json_module(self, provider: Any) -> None:
        """Flask hands each request the app's JSON provider; bodies keep the strict parser."""

    def on_json_loading_failed(self, e: ValueError | None) -> Any:
        if e is None:  # not a JSON content type: werkzeug's 415 says so
            return super().on_json_loading_failed(e)
        if isinstance(e, documents.DocumentError):
            raise InvalidInput(e.message, field=e.field or "json") from e
        reason = "it is empty" if not self.get_data(cache=True).strip() else str(e)
        raise InvalidInput(f"The request body is not valid JSON: {reason}", field="json") from e


class IdConverter(IntegerConverter):
    """`<int:...>` in every route: a number no id column holds matches no route (404) instead of
    reaching the database (SQLite cannot even bind one beyond 64 bits)."""

    def __init__(self, url_map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)


def register(app: APIFlask) -> None:
    app.request_class = JsonCheckingRequest
    # Before any blueprint adds its rules: a rule takes its converter when it is added.
    app.url_map.converters["int"] = IdConverter
    app.config["HTTP_ERROR_SCHEMA"] = ERROR_SCHEMA
    app.config["VALIDATION_ERROR_SCHEMA"] = ERROR_SCHEMA

    @app.error_processor
    def http_error(error: HTTPError) -> tuple[dict[str, Any], int, Any]:
        # Input a schema refuses is answered by api/bodies.py, as a domain error.
        errors: dict[str, list[str]] = {}
        if error.status_code == 413:
            limit = current_app.config.get("MAX_CONTENT_LENGTH")
            errors = {"body": [f"The request body is larger than {limit} bytes"]}
        return (
            error_body(error.message or "Error", errors, **dict(error.extra_data)),
            error.status_code,
            error.headers,
        )

    @app.errorhandler(DomainError)
    def domain_error(error: DomainError) -> tuple[dict[str, Any], int, dict[str, str]]:
        # Whatever the request flushed before the refusal is not kept.
        transactions.discard(db.session)
        headers = {}
        if isinstance(error, Throttled | Unavailable):
            headers["Retry-After"] = str(error.retry_after)
        return error_body(error.message, error.errors, **error.extra), error.status_code, headers

    # What the database refused or gave up on, once the request ran as often as it may
    # (application.py): races the services cannot see coming (a concurrent write took the name,
    # removed or changed the row), values it refused, deadlocks, a lost connection. Nothing was
    # stored. A failure services/kit/transactions.py does not name is a bug: 500.
    @app.errorhandler(SQLAlchemyError)
    def database_error(error: SQLAlchemyError) -> tuple[dict[str, Any], int, dict[str, str]]:
        refusal = transactions.as_domain_error(error)
        if refusal is None:
            raise error
        return domain_error(refusal)
