"""`taskmanager config FILE`: create-only by default, --overwrite, --dry-run."""

from pathlib import Path

import pytest

from .conftest import Cli, ok, unique
from .test_tasks import write_template


def write_config(directory: Path, names: dict[str, str], *, email: str) -> Path:
    (directory / "templates").mkdir(exist_ok=True)
    write_template(directory / "templates", names["template"])
    path = directory / "config.yaml"
    path.write_text(
        f"""roles:
  - name: {names["role"]}
    description: reads tasks
    permissions: [task_read]
users:
  - username: {names["user"]}
    name: Ann Otator
    email: {email}
    password: a-long-password
    roles: [{names["role"]}]
groups:
  - groupname: {names["group"]}
    members: [{names["user"]}]
tags: [{names["tag"]}]
templates:
  - templates/{names["template"]}.yaml
"""
    )
    return path


@pytest.mark.parametrize("database", [False, True], ids=["http", "database"])
def test_config_create_only_overwrite_and_dry_run(cli: Cli, tmp_path: Path, database: bool) -> None:
    names = {kind: unique(kind) for kind in ("role", "user", "group", "tag", "template")}
    path = write_config(tmp_path, names, email=f"{names['user']}@example.org")

    preview = ok(cli.run("config", str(path), "--dry-run", database=database))
    assert f"would create user {names['user']!r}" in preview.output
    assert f"would create template {names['template']!r}" in preview.output
    assert cli.scalar("SELECT count(*) FROM users WHERE username = :u", u=names["user"]) == 0

    result = ok(cli.run("config", str(path), database=database))
    assert f"users: {names['user']}" in result.output
    assert (
        cli.scalar(
            "SELECT count(*) FROM group_membership JOIN groups ON groups.id = group_id "
            "JOIN users ON users.id = user_id WHERE groupname = :g AND username = :u",
            g=names["group"],
            u=names["user"],
        )
        == 1
    )
    assert cli.scalar("SELECT count(*) FROM tags WHERE name = :t", t=names["tag"]) == 1
    assert (
        cli.scalar("SELECT content FROM task_templates WHERE label = :l", l=names["template"])
        == (tmp_path / "templates" / f"{names['template']}.yaml").read_text()
    )

    email = "SELECT email FROM users WHERE username = :u"
    path = write_config(tmp_path, names, email=f"new-{names['user']}@example.org")
    preview = ok(cli.run("config", str(path), "--dry-run", database=database))
    assert f"would skip user {names['user']!r}" in preview.output
    ok(cli.run("config", str(path), database=database))
    assert cli.scalar(email, u=names["user"]) == f"{names['user']}@example.org"

    preview = ok(cli.run("config", str(path), "--dry-run", "--overwrite", database=database))
    assert f"would update user {names['user']!r}" in preview.output
    ok(cli.run("config", str(path), "--overwrite", database=database))
    assert cli.scalar(email, u=names["user"]) == f"new-{names['user']}@example.org"


def test_config_problems_name_file_and_entry(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("tags: [a]\ntemplates:\n  - missing.yaml\n")
    result = cli.run("config", str(path))
    assert result.exit_code == 3
    assert f"{path}: templates.0: no such file" in result.stderr

    path.write_text(f"users:\n  - username: {unique('x')}\n    email: not-an-email\n")
    result = cli.run("config", str(path))
    assert result.exit_code == 1
    assert "users[0]" in result.stderr
