"""docs/configuration.md names every variable the server reads and every Helm value."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ..support.variables import known_variables

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "configuration.md"
VALUES = ROOT / "charts" / "taskmanager" / "values.yaml"


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


def test_every_variable_the_server_reads_is_on_the_page() -> None:
    page = PAGE.read_text()
    missing = sorted(name for name in known_variables() if f"`{name}`" not in page)
    assert not missing


def test_every_helm_value_is_on_the_page() -> None:
    page = PAGE.read_text()
    keys = value_keys(yaml.safe_load(VALUES.read_text()))
    assert "taskmanager.security.changable" in keys  # the walk reaches the leaves
    missing = sorted(key for key in keys if f"`{key}`" not in page)
    assert not missing
