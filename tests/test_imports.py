"""Every service module imports on its own, whichever is imported first: no import cycle that
only works in the order the test suite happens to use (`import taskmanager.services.tasks` once
failed while the suite passed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import taskmanager

CHECK = """
import importlib, sys
for name in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m == "taskmanager" or m.startswith("taskmanager.")]:
        del sys.modules[loaded]
    importlib.import_module(name)
"""


def test_every_module_imports_first() -> None:
    services = Path(taskmanager.__file__).parent / "services"
    names = sorted(
        ".".join(("taskmanager", "services", *path.relative_to(services).with_suffix("").parts))
        for path in services.rglob("[!_]*.py")
    )
    assert len(names) > 20
    result = subprocess.run(
        [sys.executable, "-c", CHECK, *names], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
