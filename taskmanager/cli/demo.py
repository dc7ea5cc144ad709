"""`taskmanager test-tasks` and `test-taskgroup`: demo data to try a server with.

With --seed the same data comes out every time (subject names, scans, field values).
"""

from __future__ import annotations

import random
from typing import Any

import click

from ..wording import counted
from .backends import Backend, BatchRejected, backend_options
from .errors import CliError, describe
from .tasks import MAX_BATCH

DEMO_TEMPLATE = "demo"
DEMO_TEMPLATE_CONTENT = """\
template_name: demo
scans:
  - label: T1
    modality: MR
    protocol: T1-weighted
  - label: FLAIR
    modality: MR
    protocol: FLAIR
fields:
  - name: lesion_count
    type: int
  - name: quality
    type: choice
    options: [good, usable, unusable]
"""
DEMO_SCANS = ("T1", "FLAIR")


def demo_contents(count: int, seed: int | None, *, template: str) -> list[dict[str, Any]]:
    """`count` task contents for the demo template; the same for the same seed."""
    rng = random.Random(seed)
    contents = []
    for _ in range(count):
        subject = f"SUBJ{rng.randrange(10**6):06d}"
        session = f"{subject}_MR{rng.randrange(1, 4)}"
        contents.append(
            {
                "template": template,
                "name": session,
                "scan_sources": {
                    scan: f"http://xnat.example.org/data/{subject}/{session}/{scan}.nii.gz"
                    for scan in DEMO_SCANS
                },
                "_vars": {"subject": subject, "session": session},
                "fields_file": f"results/{session}_{{timestamp}}.json",
                "windowing": {"T1": [0, rng.choice((600, 800, 1000))]},
            }
        )
    return contents


def ensure_demo_template(backend: Backend) -> None:
    if backend.get_template(DEMO_TEMPLATE) is None:
        backend.create_template(DEMO_TEMPLATE, DEMO_TEMPLATE_CONTENT)
        click.echo(f"Added template {DEMO_TEMPLATE!r}")


def _bodies(count: int, seed: int | None, project: str) -> list[dict[str, Any]]:
    return [
        {"project": project, "template": DEMO_TEMPLATE, "content": content}
        for content in demo_contents(count, seed, template=DEMO_TEMPLATE)
    ]


DEMO_GROUP = "demo"
NOBODY_TO_ASSIGN = "assignment weight above 0"  # what the server says when no user can take one


def _nobody_to_assign(reasons: object) -> bool:
    return NOBODY_TO_ASSIGN in str(reasons)


def _to_demo_group(backend: Backend, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """On a fresh database nobody can be given a task yet: give the demo tasks to a group."""
    backend.import_config(
        {"groups": [{"groupname": DEMO_GROUP, "name": "Demo tasks"}]}, overwrite=False
    )
    click.echo(
        "No user can be given tasks yet (none active with an assignment weight above 0): the "
        f"demo tasks go to group {DEMO_GROUP!r}. Add users first (taskmanager-config FILE) to "
        "have them assigned."
    )
    return [{**body, "groups": [DEMO_GROUP]} for body in bodies]


def _create_tasks(backend: Backend, bodies: list[dict[str, Any]]) -> int:
    try:
        return backend.create_tasks(bodies).created
    except BatchRejected as rejection:
        errors = dict(rejection.general)
        if not rejection.by_index and _nobody_to_assign(errors.get("users")):
            return _create_tasks(backend, _to_demo_group(backend, bodies))
        for index, fields in rejection.by_index.items():
            errors.update({f"{index}.{field}": reasons for field, reasons in fields.items()})
        raise CliError(describe(rejection.message, errors)) from None


SEED = click.option("--seed", type=int, help="Make the demo data reproducible.")
PROJECT = click.option("-p", "--project", default="demo", show_default=True, help="Project name.")


@click.command("test-tasks", short_help="Create demo tasks.")
@click.option(
    "-n",
    "count",
    type=click.IntRange(1, MAX_BATCH),
    default=10,
    show_default=True,
    help="How many tasks.",
)
@PROJECT
@SEED
@backend_options()
def test_tasks(count: int, project: str, seed: int | None, backend: Backend) -> None:
    """Create demo tasks (and the demo template when missing)."""
    ensure_demo_template(backend)
    created = _create_tasks(backend, _bodies(count, seed, project))
    click.echo(
        f"Created {counted(created, 'demo task')} in project {project!r} on {backend.description}."
    )


@click.command("test-taskgroup", short_help="Create a demo task group.")
@click.option(
    "-n",
    "count",
    type=click.IntRange(1, MAX_BATCH),
    default=3,
    show_default=True,
    help="How many tasks in the group.",
)
@click.option("-l", "--label", default="demo-taskgroup", show_default=True, help="Group label.")
@PROJECT
@SEED
@backend_options()
def test_taskgroup(
    count: int, label: str, project: str, seed: int | None, backend: Backend
) -> None:
    """Create a demo task group (and the demo template when missing)."""
    ensure_demo_template(backend)
    body = {"label": label, "callback_content": '{"demo": true}'}
    tasks = _bodies(count, seed, project)
    try:
        group = backend.create_taskgroup({**body, "tasks": tasks})
    except CliError as error:
        if not _nobody_to_assign(error.format_message()):
            raise
        group = backend.create_taskgroup({**body, "tasks": _to_demo_group(backend, tasks)})
    click.echo(
        f"Created task group {group.get('label', label)!r} (id {group.get('id')}) with "
        f"{counted(count, 'task')} on {backend.description}."
    )
