"""docs/configuration.md names every variable the server reads, with its default, names no
variable the server does not read, and names every Helm value."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic_core import PydanticUndefined

from taskmanager.config import environment_variables

from ..support.variables import MAIL_SETTINGS, known_variables

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "configuration.md"
VALUES = ROOT / "charts" / "taskmanager" / "values.yaml"
# Sections whose tables are not the server's variables: the chart's values, and the two
# variables the data-manager commands read for themselves (taskmanager/cli).
OTHER_SECTIONS = ("Helm values", "Commands that talk to a server")


def value_keys(values: dict[str, Any], prefix: str = "") -> set[str]:
    """Dotted paths of the chart's values down to the leaves (a map left empty is a leaf)."""
    keys = set()
    for key, value in values.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            keys |= value_keys(value, f"{path}.")
        else:
            keys.add(path)
    return keys


def documented_defaults() -> dict[str, str]:
    """Each variable in the page's variable tables, with the default column of its row."""
    rows: dict[str, str] = {}
    for section in PAGE.read_text().split("\n## ")[1:]:
        if section.startswith(OTHER_SECTIONS):
            continue
        for line in section.splitlines():
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            if line.startswith("| `") and len(cells) == 3:
                rows.update(dict.fromkeys(re.findall(r"`([A-Z][A-Z0-9_]+)`", cells[0]), cells[2]))
    return rows


def as_documented(default: Any) -> str | None:
    """The default as the page writes it, or None for one the page describes in words."""
    if isinstance(default, bool):
        return str(default).lower()
    if isinstance(default, float) and default.is_integer():
        return str(int(default))
    if isinstance(default, int | float) or (isinstance(default, str) and default):
        return str(default)
    return None


def test_every_variable_the_server_reads_is_on_the_page() -> None:
    page = PAGE.read_text()
    missing = sorted(name for name in known_variables() if f"`{name}`" not in page)
    assert not missing


def test_every_variable_on_the_page_is_read_by_the_server() -> None:
    documented = set(documented_defaults())
    assert {"SQLALCHEMY_DATABASE_URI", "DB_SCHEMA", "MAIL_SERVER"} <= documented
    unknown = sorted(documented - set(environment_variables()) - MAIL_SETTINGS)
    assert not unknown


def test_every_default_on_the_page_is_the_declared_one() -> None:
    documented = documented_defaults()
    declared = {
        name: as_documented(info.default)
        for name, info in environment_variables().items()
        if info.default is not PydanticUndefined
    }
    assert declared["TASKMAN_DB_WAIT_TIMEOUT"] == "60"  # 60.0 reads as the page writes it
    wrong = sorted(
        (name, default, documented[name])
        for name, default in declared.items()
        if default is not None and f"`{default}`" not in documented[name]
    )
    assert not wrong


def test_every_helm_value_is_on_the_page() -> None:
    page = PAGE.read_text()
    keys = value_keys(yaml.safe_load(VALUES.read_text()))
    assert "taskmanager.security.changable" in keys  # the walk reaches the leaves
    missing = sorted(key for key in keys if f"`{key}`" not in page)
    assert not missing
