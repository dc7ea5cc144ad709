"""`taskmanager test-tasks` / `test-taskgroup`: demo data, the same for the same seed."""

import pytest

from .conftest import Cli, ok, unique


def _contents(cli: Cli, project: str) -> list[str]:
    return [
        row[0]
        for row in cli.rows(
            "SELECT raw_content FROM tasks WHERE project = :p ORDER BY id", p=project
        )
    ]


@pytest.mark.parametrize("database", [False, True], ids=["http", "database"])
def test_demo_tasks_and_taskgroup(cli: Cli, database: bool) -> None:
    first, second, third = unique("demo"), unique("demo"), unique("demo")
    ok(cli.run("test-tasks", "-n", "4", "--seed", "7", "-p", first, database=database))
    ok(cli.run("test-tasks", "-n", "4", "--seed", "7", "-p", second, database=database))
    ok(cli.run("test-tasks", "-n", "4", "--seed", "8", "-p", third, database=database))
    assert len(_contents(cli, first)) == 4
    assert _contents(cli, first) == _contents(cli, second) != _contents(cli, third)

    label = unique("group")
    result = ok(cli.run("test-taskgroup", "-n", "3", "-l", label, "-p", label, database=database))
    assert f"Created task group {label!r}" in result.output
    assert (
        cli.scalar(
            "SELECT count(*) FROM tasks JOIN taskgroups ON taskgroups.id = tasks.taskgroup_id "
            "WHERE taskgroups.label = :l",
            l=label,
        )
        == 3
    )
