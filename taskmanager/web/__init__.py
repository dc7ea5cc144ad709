"""Server-rendered web UI (Jinja and a little plain JavaScript): calls services, never the models."""

from __future__ import annotations

import importlib

from flask import Flask

from . import accounts, mail
from .blueprint import bp

# Each module registers its pages on `bp` when imported; one module per area.
VIEW_MODULES = (
    "dashboard",
    "projects",
    "tasks",
    "reassign",
    "taskgroups",
    "task_templates",
    "users",
    "groups",
    "tags",
    "meta",
    "messages",
    "activity",
)


def init_app(app: Flask) -> None:
    for name in VIEW_MODULES:
        importlib.import_module(f"{__name__}.{name}")
    mail.init_app(app)
    accounts.init_app(app)
    app.register_blueprint(bp)
