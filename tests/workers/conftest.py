"""Start this test process's callback thread with test settings; always stopped afterwards."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from taskmanager import workers
from taskmanager.config import Settings


@pytest.fixture
def start_worker(app: Any) -> Iterator[Callable[[Settings], Any]]:
    def start(settings: Settings) -> Any:
        return workers.start(app, settings)

    yield start
    workers.stop(app)
