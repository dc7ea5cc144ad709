"""Which API routes this build has: lets tests that need routes from other work wait for them."""

from __future__ import annotations

import importlib
from collections.abc import Iterable

from apiflask import APIFlask
from werkzeug.exceptions import MethodNotAllowed, NotFound

Route = tuple[str, str]  # (method, path), e.g. ("PUT", "/api/v1/tasks/1/lock")


def missing_routes(routes: Iterable[Route]) -> list[Route]:
    """The routes no registered view answers (checked on a throwaway app, without a database)."""
    from taskmanager import api

    for name in api.ROUTE_MODULES:
        importlib.import_module(f"taskmanager.api.{name}")
    probe = APIFlask("route-probe", spec_path=None, docs_path=None)
    probe.register_blueprint(api.v1)
    adapter = probe.url_map.bind("localhost")
    missing = []
    for method, path in routes:
        try:
            adapter.match(path, method=method)
        except (NotFound, MethodNotAllowed):
            missing.append((method, path))
    return missing
