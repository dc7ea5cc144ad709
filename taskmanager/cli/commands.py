"""The data-manager commands: registered on `taskmanager`, and the old console-script names.

The old scripts that wrote to the database (all but taskmanager-add-task, which posted to a
server) still do, unless a server or credentials are named (--url, --user, --token).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import click

from .config_file import config
from .demo import test_taskgroup, test_tasks
from .export import export
from .legacy import import_legacy
from .maintenance import db_clean
from .tasks import add_task, several_after_one_flag
from .templates import add_template, update_template
from .users import add_user

COMMANDS = (
    add_task,
    add_template,
    update_template,
    add_user,
    config,
    export,
    import_legacy,
    test_tasks,
    test_taskgroup,
)


def register(main: click.Group) -> None:
    for command in COMMANDS:
        main.add_command(command)
    db_group = main.commands["db"]
    assert isinstance(db_group, click.Group)
    db_group.add_command(db_clean)


def _script(
    command: click.Command,
    name: str,
    *,
    prefer_database: bool,
    translate: Callable[[list[str]], list[str]] = list,
) -> Callable[[], None]:
    def entry() -> None:
        command.main(
            args=translate(sys.argv[1:]),
            prog_name=name,
            obj={"prefer_database": prefer_database},
            help_option_names=["-h", "--help"],
        )

    return entry


add_task_script = _script(
    add_task, "taskmanager-add-task", prefer_database=False, translate=several_after_one_flag
)
add_template_script = _script(add_template, "taskmanager-add-template", prefer_database=True)
update_template_script = _script(
    update_template, "taskmanager-update-template", prefer_database=True
)
add_user_script = _script(add_user, "taskmanager-add-user", prefer_database=True)
config_script = _script(config, "taskmanager-config", prefer_database=True)
db_clean_script = _script(db_clean, "taskmanager-db-clean", prefer_database=True)
test_tasks_script = _script(test_tasks, "taskmanager-test-tasks", prefer_database=True)
test_taskgroup_script = _script(test_taskgroup, "taskmanager-test-taskgroup", prefer_database=True)
