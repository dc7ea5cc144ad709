"""The old console-script names, run as real processes."""

import json
import subprocess
import sys
from pathlib import Path

from .conftest import ADMIN, Cli, ok, unique
from .test_tasks import content, write_template

BIN = Path(sys.executable).parent


def _script(name: str, *args: str, cli: Cli, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / name), *args],
        env={"PATH": "/usr/bin:/bin", "HOME": str(cli.home), **cli.env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_old_scripts_write_to_the_database_or_post_to_the_server(cli: Cli, tmp_path: Path) -> None:
    username = unique("old")
    added = _script(
        "taskmanager-add-user", "-u", username, "-p", "long-enough-pw", "-n", "Old Style",
        "-e", f"{username}@example.org", "-f", cli=cli, cwd=tmp_path,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "the " in added.stdout and "database" in added.stdout
    assert cli.scalar("SELECT count(*) FROM users WHERE username = :u", u=username) == 1

    label = unique("old-tpl")
    ok(cli.run("add-template", str(write_template(tmp_path, label))))

    task = tmp_path / "task.json"
    task.write_text(json.dumps(content(label, 1)))
    project = unique("old-project")
    posted = _script(
        "taskmanager-add-task", str(task), "-p", project, "--url", cli.url,
        "--user", ADMIN[0], "--password", ADMIN[1], cli=cli, cwd=tmp_path,
    )  # fmt: skip
    assert posted.returncode == 0, posted.stderr
    assert f"Tasks created 1, skipped 0, failed 0 ({cli.url})" in posted.stdout

    usage = _script("taskmanager-db-clean", "-h", cli=cli, cwd=tmp_path)
    assert usage.returncode == 0 and "Usage: taskmanager-db-clean [OPTIONS]" in usage.stdout
