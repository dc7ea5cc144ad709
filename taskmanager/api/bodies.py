"""How the API reads a body or a query string: its schema, and the one 400 that names each field.

What every request body schema shares: JSON types taken as sent, and the reference type.

Pydantic's default (lax) mode converted what clients never meant: `true` became user id 1,
`"no"` became false, `1.0` an id, `"2"` a weight. A body is JSON, so its types are exact: a
schema of a body derives from `Body`, and names objects with `Reference`. (Query strings are
text by nature; their schemas stay lax.)
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar, cast

from flask import request
from pydantic import BaseModel, ConfigDict, Field, PlainValidator, ValidationError
from pydantic_core import PydanticCustomError

from ..services.kit.errors import InvalidInput
from ..services.kit.references import MAX_ID
from . import v1

F = TypeVar("F", bound=Callable[..., Any])
M = TypeVar("M", bound=BaseModel)


class Body(BaseModel):
    """Base of every request body schema: strict types (no coercion)."""

    model_config = ConfigDict(strict=True)


def _reference(value: Any) -> str | int:
    # bool is an int in Python: checked by type, not isinstance.
    if isinstance(value, str) or (type(value) is int and 0 < value <= MAX_ID):
        return value
    raise PydanticCustomError(
        "reference",
        "Input should be a name, a URL or an id (a whole number from 1 to {max_id})",
        {"max_id": MAX_ID},
    )


# An id, a name or a URL path ending in either; an id beyond any id column is refused (400)
# rather than looked up.
Reference = Annotated[
    str | int,
    PlainValidator(_reference, json_schema_input_type=str | Annotated[int, Field(ge=1, le=MAX_ID)]),
]


def _date_time(value: Any) -> datetime:
    # A date alone is refused: midnight at its start is rarely what "due 31 January" means.
    if isinstance(value, str) and ("T" in value.upper() or " " in value.strip()):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            pass
        else:
            # To the second, as every backend stores it.
            parsed = parsed.replace(microsecond=0)
            return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    raise PydanticCustomError(
        "date_time",
        "Input should be an ISO 8601 date-time, e.g. 2027-01-31T17:00:00Z (UTC without a zone)",
    )


# An ISO 8601 date-time text, as an aware UTC datetime (a time without zone is taken as UTC).
DateTime = Annotated[datetime, PlainValidator(_date_time, json_schema_input_type=datetime)]


def field_errors(
    error: ValidationError, *, prefix: str = "", depth: int | None = None
) -> dict[str, list[str]]:
    """Pydantic's errors keyed by field path (`users.0`), `_schema` for the whole input."""
    errors: dict[str, list[str]] = {}
    for item in error.errors():
        path = ".".join(str(part) for part in item["loc"][:depth]) or "_schema"
        errors.setdefault(prefix + path, []).append(item["msg"])
    return errors


def invalid(errors: Mapping[str, list[str]]) -> InvalidInput:
    """The one 400 of input its schema refuses: every field and its messages, also in `message`."""
    message = "Invalid input: " + "; ".join(
        f"{name}: {', '.join(messages)}" for name, messages in errors.items()
    )
    return InvalidInput(message, errors=dict(errors))


def parse(model: type[M], data: Any, *, prefix: str = "", depth: int | None = None) -> M:
    """`data` as `model`, or the 400 naming every field it refuses."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise invalid(field_errors(exc, prefix=prefix, depth=depth)) from None


def _read(model: type[M], location: str, optional: bool) -> M:
    if location == "query":
        return parse(model, request.args.to_dict(), prefix="query.")
    if not optional:
        # Not JSON: the request class answers 400 saying why (api/errors.py).
        data = request.get_json(force=True)
        return parse(model, {} if data is None else data)
    # Clients send PUT /lock with `Content-Type: application/json` and no body.
    data = request.get_json(force=True) if request.get_data(cache=True).strip() else None
    if not isinstance(data, dict | None):
        raise InvalidInput("The request body must be a JSON object", field="json")
    return parse(model, data or {})


def document(
    model: Any, *, location: str = "json", arg_name: str | None = None, example: Any = None
) -> Callable[[F], F]:
    """Describe the input in OpenAPI as @v1.input does; the view (or `input`) validates it."""

    def decorator(view: F) -> F:
        # Annotates `view`; APIFlask's validating wrapper is not used.
        v1.input(model, location=location, arg_name=arg_name, example=example)(view)
        return view

    return decorator


def input(
    model: type[BaseModel],
    *,
    location: str = "json",
    arg_name: str | None = None,
    example: Any = None,
    optional: bool = False,
) -> Callable[[F], F]:
    """@v1.input for a JSON body or a query string, answering refusals as every API error.

    `optional`: a body that may be absent; empty, `null` or `{}` mean the defaults.
    """
    name = arg_name or f"{location}_data"

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            kwargs[name] = _read(model, location, optional)
            return view(*args, **kwargs)

        return document(model, location=location, arg_name=name, example=example)(cast(F, wrapper))

    return decorator
