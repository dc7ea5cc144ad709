"""Status query parameters as Literal types built from the domain's enums.

A Literal of the values keeps the OpenAPI schema an inline enum and the error message of a
bad value ("Input should be 'queued', 'done' or 'aborted'") as they were when written out.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

from ..models import TASKGROUP_STATUSES, DeliveryStatus


def literal_of(statuses: Iterable[StrEnum]) -> Any:
    return Literal[tuple(status.value for status in statuses)]


if TYPE_CHECKING:
    TaskGroupStatusName = str
    DeliveryStatusName = str
else:
    TaskGroupStatusName = literal_of(TASKGROUP_STATUSES)
    DeliveryStatusName = literal_of(DeliveryStatus)
