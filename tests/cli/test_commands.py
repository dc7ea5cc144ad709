"""The old console-script names, run as real processes."""

import json
import re
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path
from urllib.parse import urlsplit

import click
import pytest
from click.testing import CliRunner

from taskmanager.cli import main
from taskmanager.cli.commands import SCRIPTS

from .conftest import ADMIN, Cli, ok, unique
from .test_tasks import content, write_template

BIN = Path(sys.executable).parent


def _script(
    name: str, *args: str, cli: Cli, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / name), *args],
        env={"PATH": "/usr/bin:/bin", "HOME": str(cli.home), **cli.env, **(env or {})},
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


def _console_scripts() -> list[str]:
    return sorted(
        entry.name
        for entry in entry_points(group="console_scripts")
        if entry.dist is not None and entry.dist.name == "task-manager"
    )


def _listed_options(help_text: str) -> list[tuple[str, bool]]:
    """Each option name the help lists, and whether it takes a value."""
    listed = []
    for line in help_text.split("Options:", 1)[1].splitlines():
        match = re.match(r"\s{2}(-[^ ,]+(?:, -[^ ,]+)*)( [A-Z][A-Z.|\[\]0-9:-]*)?(?:\s|$)", line)
        if match:
            names = match.group(1).split(", ")
            listed += [(name, bool(match.group(2))) for name in names]
    return listed


@pytest.mark.parametrize("name", _console_scripts())
def test_every_console_script_shows_its_own_usage_and_accepts_what_it_lists(
    name: str, tmp_path: Path
) -> None:
    shown = subprocess.run(
        [str(BIN / name), "--help"],
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "COLUMNS": "200"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith(f"Usage: {name} "), shown.stdout.splitlines()[0]
    command = main if name == "taskmanager" else SCRIPTS[name]
    listed = _listed_options(shown.stdout)
    assert ("--help", False) in listed
    for option, takes_value in listed:
        args = [option, "x"] if takes_value else [option]
        # Parsing happens before the eager --help: an option the command refuses fails here.
        result = CliRunner().invoke(command, [*args, "--help"], prog_name=name)
        assert result.exit_code == 0 and "Error" not in result.output, (option, result.output)


def test_old_scripts_go_to_the_server_that_taskman_url_names(cli: Cli, tmp_path: Path) -> None:
    netrc = tmp_path / "netrc"
    host = urlsplit(cli.url).hostname
    netrc.write_text(f"machine {host} login {ADMIN[0]} password {ADMIN[1]}\n")
    netrc.chmod(0o600)
    label = unique("env-url")
    environment = {"TASKMAN_URL": cli.url, "NETRC": str(netrc)}
    added = _script(
        "taskmanager-add-template", str(write_template(tmp_path, label)), cli=cli, cwd=tmp_path,
        env=environment,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert f"Added template {label!r}" in added.stdout
    assert cli.scalar("SELECT count(*) FROM task_templates WHERE label = :l", l=label) == 1

    refused = _script(
        "taskmanager-add-template", str(write_template(tmp_path, unique("token"))), cli=cli,
        cwd=tmp_path, env={"TASKMAN_URL": cli.url, "TASKMAN_TOKEN": "not-a-token"},
    )  # fmt: skip
    assert refused.returncode == 4
    assert f"server at {cli.url} refused the credentials of the token" in refused.stderr


def test_the_command_lists_show_whole_summaries() -> None:
    groups = [([], main), *[([name], group) for name, group in main.commands.items()
                             if isinstance(group, click.Group)]]  # fmt: skip
    for path, group in groups:
        shown = CliRunner().invoke(main, [*path, "--help"], env={"COLUMNS": "80"})
        assert shown.exit_code == 0
        commands = shown.output.split("Commands:", 1)[1]
        assert "..." not in commands, commands
        assert len(commands.strip().splitlines()) == len(group.commands)
