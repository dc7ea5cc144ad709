"""What every request body schema shares: JSON types taken as sent, and the reference type.

Pydantic's default (lax) mode converted what clients never meant: `true` became user id 1,
`"no"` became false, `1.0` an id, `"2"` a weight. A body is JSON, so its types are exact: a
schema of a body derives from `Body`, and names objects with `Reference`. (Query strings are
text by nature; their schemas stay lax.)
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainValidator
from pydantic_core import PydanticCustomError

from ..services.kit.references import MAX_ID


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
