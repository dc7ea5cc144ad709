"""Status query parameters as Literal types built from the domain's enums.

A Literal of the values keeps the OpenAPI schema an inline enum and the error message of a
bad value ("Input should be 'queued', 'done' or 'aborted'") as they were when written out.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

from ..models import DeliveryStatus, TaskStatus


def literal_of(statuses: type[StrEnum]) -> Any:
    return Literal[tuple(status.value for status in statuses)]


if TYPE_CHECKING:
    TaskStatusName = str
    DeliveryStatusName = str
else:
    TaskStatusName = literal_of(TaskStatus)
    DeliveryStatusName = literal_of(DeliveryStatus)
