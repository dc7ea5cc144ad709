"""scripts/run and scripts/test on a machine with the wrong Python: one line saying which
Python they need and how to choose one, and no broken .venv left behind."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# A stand-in interpreter: answers the version probe as the given Python would, and makes a
# half-built .venv before failing when asked to create one (as Debian's python3 without
# python3-venv does).
FAKE_PYTHON = """#!/usr/bin/env bash
case "$*" in
  *"sys.version_info"*) exit {too_old} ;;
  *"python_version"*) echo "{version}" ;;
  "-m venv .venv") mkdir -p .venv/bin && exit 1 ;;
  *) exit 1 ;;
esac
"""


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """The scripts and pyproject.toml of a fresh clone, without a .venv."""
    target = tmp_path / "clone"
    shutil.copytree(ROOT / "scripts", target / "scripts")
    shutil.copy(ROOT / "pyproject.toml", target)
    return target


def fake_python(folder: Path, version: str, too_old: bool) -> Path:
    path = folder / f"python-{version}"
    path.write_text(FAKE_PYTHON.format(version=version, too_old=int(too_old)))
    path.chmod(0o755)
    return path


def run_script(clone: Path, script: str, python: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(clone / "scripts" / script)],
        env={"PATH": "/usr/bin:/bin", "PYTHON": python, "HOME": str(clone)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("script", ["run", "test"])
def test_an_old_python_is_named_with_how_to_choose_another(clone: Path, script: str) -> None:
    python = fake_python(clone, "3.9.2", too_old=True)
    result = run_script(clone, script, str(python))
    assert result.returncode == 1
    message = result.stderr.strip().splitlines()[-1]
    assert "needs Python 3.11 or newer" in message and "is 3.9.2" in message, message
    assert f"PYTHON=python3.12 {clone}/scripts/{script}" in message
    assert not (clone / ".venv").exists()


def test_a_missing_python_is_named(clone: Path) -> None:
    result = run_script(clone, "test", "python3.99")
    assert result.returncode == 1
    assert "'python3.99' is not installed" in result.stderr and "PYTHON=" in result.stderr
    assert not (clone / ".venv").exists()


def test_a_failed_virtualenv_leaves_nothing_behind(clone: Path) -> None:
    python = fake_python(clone, "3.11.2", too_old=False)
    result = run_script(clone, "test", str(python))
    assert result.returncode == 1
    assert "python3-venv" in result.stderr and "nothing was left behind" in result.stderr
    assert not (clone / ".venv").exists()


def test_a_venv_of_an_older_python_is_made_again(clone: Path) -> None:
    # A .venv whose interpreter no longer runs (its Python was removed or is too old) is
    # removed before the new one is made: here the new one fails too, and says why.
    (clone / ".venv" / "bin").mkdir(parents=True)
    (clone / ".venv" / "bin" / "python").symlink_to("/nonexistent/python3.9")
    python = fake_python(clone, "3.9.2", too_old=True)
    result = run_script(clone, "test", str(python))
    assert "making it again" in result.stderr
    assert result.returncode == 1 and not (clone / ".venv").exists()
