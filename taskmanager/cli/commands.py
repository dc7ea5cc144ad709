"""The data-manager commands: registered on `taskmanager`, and the old console-script names.

The old scripts that wrote to the database (all but taskmanager-add-task, which posted to a
server) still do, unless a server or credentials are named (--url or TASKMAN_URL, --user,
--token or TASKMAN_TOKEN). Each shows its own name in its usage line.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable
from typing import Any

import click

from .config_file import config
from .demo import test_taskgroup, test_tasks
from .errors import database_errors
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


class OldScript(click.Command):
    """An old console-script name, run on its own: database problems end it in one line, as
    under `taskmanager`."""

    def invoke(self, ctx: click.Context) -> Any:
        with database_errors():
            return super().invoke(ctx)


def _as_script(param: click.Parameter, *, prefer_database: bool) -> click.Parameter:
    """The help of --url and -db where the database, not a server, is the default."""
    if not prefer_database or param.name not in SCRIPT_HELP:
        return param
    param = copy.copy(param)
    assert isinstance(param, click.Option)
    param.help = SCRIPT_HELP[str(param.name)]
    param.show_default = False
    return param


SCRIPT_HELP = {
    "url": "Send to this server (also TASKMAN_URL) instead of the configured database.",
    "database_insert": (
        "Write to the configured database (the default, unless a server, credentials or a "
        "token are named)."
    ),
}


# Each old console script's command, by script name.
SCRIPTS: dict[str, click.Command] = {}


def old_script(
    command: click.Command,
    name: str,
    *,
    prefer_database: bool,
    translate: Callable[[list[str]], list[str]] = list,
) -> Callable[[], None]:
    """The entry point of an old console script: `command` under its own name and usage."""
    script = OldScript(
        name,
        params=[_as_script(p, prefer_database=prefer_database) for p in command.params],
        callback=command.callback,
        help=command.help,
        short_help=command.short_help,
        epilog=command.epilog,
        context_settings={"help_option_names": ["-h", "--help"]},
    )

    SCRIPTS[name] = script

    def entry() -> None:
        script.main(
            args=translate(sys.argv[1:]),
            prog_name=name,
            obj={"prefer_database": prefer_database},
        )

    return entry


add_task_script = old_script(
    add_task, "taskmanager-add-task", prefer_database=False, translate=several_after_one_flag
)
add_template_script = old_script(add_template, "taskmanager-add-template", prefer_database=True)
update_template_script = old_script(
    update_template, "taskmanager-update-template", prefer_database=True
)
add_user_script = old_script(add_user, "taskmanager-add-user", prefer_database=True)
config_script = old_script(config, "taskmanager-config", prefer_database=True)
db_clean_script = old_script(db_clean, "taskmanager-db-clean", prefer_database=True)
test_tasks_script = old_script(test_tasks, "taskmanager-test-tasks", prefer_database=True)
test_taskgroup_script = old_script(
    test_taskgroup, "taskmanager-test-taskgroup", prefer_database=True
)
