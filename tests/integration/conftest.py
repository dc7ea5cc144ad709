"""Tests that need routes built elsewhere are deselected (not skipped) until those routes exist.

Mark them `@pytest.mark.requires_routes(("GET", "/api/v1/tasks/1/lock"), ...)`; once every route
is registered, they run without any change.
"""

from __future__ import annotations

import pytest

from ..support.routes import missing_routes


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "requires_routes(*routes): run only when these (method, path) routes exist"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    waiting = []
    for item in items:
        marker = item.get_closest_marker("requires_routes")
        if marker is not None and missing_routes(marker.args):
            waiting.append(item)
    if waiting:
        config.hook.pytest_deselected(items=waiting)
        items[:] = [item for item in items if item not in waiting]
