"""docs/architecture.md names only files that exist, and describes every service package."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "architecture.md"


def test_every_path_it_names_exists() -> None:
    named = set(re.findall(r"`((?:taskmanager|tests|scripts)/[\w/.-]+)`", PAGE.read_text()))
    assert len(named) > 20
    missing = sorted(path for path in named if not (ROOT / path).exists())
    assert missing == [], missing


def test_every_service_package_is_described() -> None:
    text = PAGE.read_text()
    packages = sorted(
        path.name
        for path in (ROOT / "taskmanager" / "services").iterdir()
        if path.is_dir() and (path / "__init__.py").exists()
    )
    assert len(packages) >= 10
    undescribed = [name for name in packages if f"| `{name}/` |" not in text]
    assert undescribed == [], undescribed
