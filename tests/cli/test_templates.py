"""`taskmanager add-template` / `update-template`, over HTTP and directly."""

from pathlib import Path

import pytest

from .conftest import Cli, ok, unique
from .test_tasks import write_template


@pytest.mark.parametrize("database", [False, True], ids=["http", "database"])
def test_add_then_update_a_template(cli: Cli, tmp_path: Path, database: bool) -> None:
    label = unique("tpl")
    path = write_template(tmp_path, label, scans=("T1",))
    result = ok(cli.run("add-template", str(path), database=database))
    assert f"Added template {label!r}" in result.output
    stored = "SELECT content FROM task_templates WHERE label = :label"
    assert cli.scalar(stored, label=label) == path.read_text()

    again = cli.run("add-template", str(path), database=database)
    assert again.exit_code == 1
    assert "already exists" in again.stderr and "update-template" in again.stderr

    path.write_text(f"# revised\ntemplate_name: {label}\nscans:\n  - label: FLAIR\n")
    ok(cli.run("update-template", str(path), database=database))
    assert cli.scalar(stored, label=label) == path.read_text()


def test_template_file_problems(cli: Cli, tmp_path: Path) -> None:
    nameless = tmp_path / "nameless.yaml"
    nameless.write_text("scans: []\n")
    result = cli.run("add-template", str(nameless))
    assert result.exit_code == 3
    assert f"{nameless}: template_name: required" in result.stderr

    missing = write_template(tmp_path, unique("absent"))
    result = cli.run("update-template", str(missing))
    assert result.exit_code == 1
    assert "does not exist" in result.stderr and "add-template" in result.stderr
