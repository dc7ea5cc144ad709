"""The built wheel is the old server's distribution, `task-manager`, with every old command."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import venv
import zipfile
from email.parser import Parser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The console scripts 6.6.0 installed (../shared/spec/cli.md), and ours.
OLD_COMMANDS = {
    "taskmanager-db-init",
    "taskmanager-db-clean",
    "taskmanager-onboarding",
    "taskmanager-config",
    "taskmanager-add-task",
    "taskmanager-add-template",
    "taskmanager-update-template",
    "taskmanager-add-user",
    "taskmanager-test-tasks",
    "taskmanager-test-taskgroup",
}


def test_a_built_wheel_installs_as_task_manager_7_with_the_old_commands(tmp_path: Path) -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--quiet",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("*.whl")
    assert wheel.name == f"task_manager-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        info = f"task_manager-{version}.dist-info"
        metadata = Parser().parsestr(archive.read(f"{info}/METADATA").decode())
        entry_points = archive.read(f"{info}/entry_points.txt").decode()
        names = archive.namelist()
    assert metadata["Name"] == "task-manager" and version.startswith("7.")
    assert "sentry" in metadata.get_all("Provides-Extra")
    scripts = {line.split("=")[0].strip() for line in entry_points.splitlines() if "=" in line}
    assert OLD_COMMANDS | {"taskmanager"} <= scripts, scripts
    # The package's data (migrations, templates, static files) travels in the wheel.
    assert any(name.startswith("taskmanager/migrations/versions/") for name in names)
    assert any(name.startswith("taskmanager/templates/") for name in names)
    # Chart.js is served from the package (no CDN), with its licence.
    assert {
        "taskmanager/static/vendor/chartjs/chart.umd.js",
        "taskmanager/static/vendor/chartjs/LICENSE.md",
        "taskmanager/static/web/charts.js",
    } <= set(names)

    # Installed (without its dependencies, which the suite's environment already proves), pip
    # knows it by the old name.
    target = tmp_path / "venv"
    venv.create(target, with_pip=True)
    installed = subprocess.run(
        [str(target / "bin" / "pip"), "install", "--no-deps", "--quiet", str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert installed.returncode == 0, installed.stderr
    shown = subprocess.run(
        [str(target / "bin" / "pip"), "show", "task-manager"], capture_output=True, text=True
    )
    assert f"Version: {version}" in shown.stdout
    for command in OLD_COMMANDS:
        assert (target / "bin" / command).exists(), command
