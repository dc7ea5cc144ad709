"""The environment variables the server reads, found in taskmanager/config.py itself."""

from __future__ import annotations

import ast
from pathlib import Path

from taskmanager import config

# Handed to Flask-Mail through the MAIL_ prefix rather than read one by one.
MAIL_SETTINGS = frozenset(
    {
        "MAIL_SERVER",
        "MAIL_PORT",
        "MAIL_USE_TLS",
        "MAIL_USE_SSL",
        "MAIL_USERNAME",
        "MAIL_PASSWORD",
        "MAIL_DEFAULT_SENDER",
    }
)


def _variable_read(call: ast.Call) -> str | None:
    """NAME in `env.get("NAME", ...)`, or in a helper given `env` (`seconds(env, "NAME", ...)`)."""
    func, args = call.func, call.args
    if (
        isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Name)
        and (func.value.id, func.attr) == ("env", "get")
    ):
        name = args[0] if args else None
    else:
        positions = [
            i for i, arg in enumerate(args) if isinstance(arg, ast.Name) and arg.id == "env"
        ]
        name = args[positions[0] + 1] if positions and positions[0] + 1 < len(args) else None
    if isinstance(name, ast.Constant) and isinstance(name.value, str):
        return name.value
    return None


def known_variables() -> set[str]:
    """Every variable name config.py reads, OTHER_KNOWN and the mail settings."""
    tree = ast.parse(Path(config.__file__).read_text())
    names = set(config.OTHER_KNOWN) | MAIL_SETTINGS
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _variable_read(node)
            if name is not None:
                names.add(name)
    return names
