"""`taskmanager test-tasks` and `test-taskgroup`: demo data to try a server with.

With --seed the same data comes out every time (subject names, scans, field values).
"""

from __future__ import annotations

import random
from typing import Any

import click

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


SEED = click.option("--seed", type=int, help="Make the demo data reproducible.")
PROJECT = click.option("-p", "--project", default="demo", show_default=True, help="Project name.")


@click.command("test-tasks")
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
    try:
        created = backend.create_tasks(_bodies(count, seed, project))
    except BatchRejected as rejection:
        errors = dict(rejection.general)
        for index, fields in rejection.by_index.items():
            errors.update({f"{index}.{field}": reasons for field, reasons in fields.items()})
        raise CliError(describe(rejection.message, errors)) from None
    click.echo(f"Created {created} demo tasks in project {project!r} on {backend.description}.")


@click.command("test-taskgroup")
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
    group = backend.create_taskgroup(
        {
            "label": label,
            "callback_content": '{"demo": true}',
            "tasks": _bodies(count, seed, project),
        }
    )
    click.echo(
        f"Created task group {group.get('label', label)!r} (id {group.get('id')}) with "
        f"{count} tasks on {backend.description}."
    )
