"""`taskmanager add-task`: validate a pile of task files, then create them in batches."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from ..wording import counted
from .backends import Backend, BatchRejected, backend_options
from .documents import DocumentError, discover, load
from .errors import (
    EXIT_FAILED,
    EXIT_INVALID_INPUT,
    EXIT_USAGE,
    CliError,
    Problem,
    describe,
    report_problems,
)
from .progress import progress_bar

MAX_BATCH = 10_000  # what one bulk request may carry


@dataclass(frozen=True)
class TaskFile:
    path: Path
    content: dict[str, Any]

    @property
    def template(self) -> str:
        return str(self.content["template"])


@dataclass
class Summary:
    created: int = 0
    skipped: int = 0
    failed: int = 0
    not_sent: int = 0

    def __str__(self) -> str:
        text = f"created {self.created}, skipped {self.skipped}, failed {self.failed}"
        return text + (f", not sent {self.not_sent}" if self.not_sent else "")


def split_names(values: Iterable[str]) -> list[str]:
    """`-u a -u b` and `-u a,b` both name a and b."""
    return [name.strip() for value in values for name in value.split(",") if name.strip()]


NAME_LIST_FLAGS = frozenset({"-u", "--users", "-g", "--groups", "-t", "--tags"})


def several_after_one_flag(args: Sequence[str]) -> list[str]:
    """The old taskmanager-add-task read `-u alice bob` as two users (and so -g and -t): every
    word after such a flag, up to the next option, is one more of its names, so the task files
    come first, as the old command needed."""
    translated: list[str] = []
    flag: str | None = None
    for index, arg in enumerate(args):
        if arg == "--":
            translated.extend(args[index:])
            break
        if arg.startswith("-") and arg != "-":
            flag = arg if arg in NAME_LIST_FLAGS else None
        elif flag is not None and translated[-1] != flag:
            translated.append(flag)
        translated.append(arg)
    return translated


def content_problems(path: Path, document: Any) -> list[Problem]:
    """A task file holds the task's content: a mapping naming its `template`."""
    where = str(path)
    if not isinstance(document, dict):
        kind = "empty" if document is None else type(document).__name__
        return [Problem(where, f"must be a mapping (the task's content), not {kind}")]
    problems: list[Problem] = []
    template = document.get("template")
    if template is None:
        problems.append(Problem(where, "required: the label of the task's template", "template"))
    elif not isinstance(template, str) or not template.strip():
        problems.append(Problem(where, "must be a template label (text)", "template"))
    return problems


def read_task_files(paths: Sequence[Path]) -> tuple[list[TaskFile], list[Problem]]:
    files: list[TaskFile] = []
    problems: list[Problem] = []
    for path in paths:
        try:
            _text, document = load(path)
        except DocumentError as error:
            problems.append(error.problem)
            continue
        found = content_problems(path, document)
        if found:
            problems.extend(found)
        else:
            files.append(TaskFile(path, document))
    return files, problems


def scan_problem(path: Path, label: str, missing: list[str], extra: list[str]) -> Problem:
    parts = []
    if missing:
        parts.append(f"missing {', '.join(missing)}")
    if extra:
        parts.append(f"not in the template: {', '.join(extra)}")
    return Problem(
        str(path),
        f"scan names do not match template {label!r}: {'; '.join(parts)}",
        "scan_sources",
    )


def template_problems(backend: Backend, files: Sequence[TaskFile]) -> list[Problem]:
    """Each template must exist where the tasks go, and the scan names in a task's
    `scan_sources` must be the scans its template declares (the server's own rule)."""
    from ..services.reference.templates import declared_scans
    from ..services.tasks.checks import scan_mismatch

    by_label: dict[str, list[TaskFile]] = {}
    for task_file in files:
        by_label.setdefault(task_file.template, []).append(task_file)
    problems: list[Problem] = []
    for label, group in by_label.items():
        template = backend.get_template(label)
        if template is None:
            problems.extend(
                Problem(
                    str(f.path),
                    f"template {label!r} does not exist on {backend.description}",
                    "template",
                )
                for f in group
            )
            continue
        declared = declared_scans(template["content"])
        if declared is None:
            continue
        for task_file in group:
            mismatch = scan_mismatch(declared, task_file.content)
            if mismatch is not None:
                problems.append(scan_problem(task_file.path, label, *mismatch))
    return problems


def batches(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def report_rejection(rejection: BatchRejected, batch: Sequence[tuple[Path, Any]]) -> None:
    click.echo(describe(f"Refused: {rejection.message}", rejection.general), err=True)
    for index, errors in sorted(rejection.by_index.items()):
        source = str(batch[index][0]) if 0 <= index < len(batch) else f"task {index}"
        for field, reasons in errors.items():
            click.echo(str(Problem(source, "; ".join(reasons), field)), err=True)


def upload(
    backend: Backend,
    items: Sequence[tuple[Path, dict[str, Any]]],
    *,
    batch_size: int,
    continue_on_error: bool,
    summary: Summary,
) -> None:
    """Send the tasks in all-or-nothing batches; with continue_on_error, retry a refused batch
    without the tasks the server named."""
    with progress_bar("Uploading tasks", total=len(items)) as advance:
        for batch in batches(items, batch_size):
            try:
                summary.created += backend.create_tasks([body for _path, body in batch])
            except BatchRejected as rejection:
                report_rejection(rejection, batch)
                if not continue_on_error:
                    summary.failed += len(batch)
                    summary.not_sent = len(items) - summary.created - summary.failed
                    return
                retry = [item for i, item in enumerate(batch) if i not in rejection.by_index]
                summary.failed += len(batch) - len(retry)
                if retry and rejection.by_index:
                    try:
                        summary.created += backend.create_tasks([body for _path, body in retry])
                    except BatchRejected as second:
                        report_rejection(second, retry)
                        summary.failed += len(retry)
                else:
                    summary.failed += len(retry)
            advance(len(batch))


def checked_files(
    backend: Backend, taskfiles: Sequence[str], *, continue_on_error: bool
) -> tuple[list[Path], list[TaskFile], list[Problem]]:
    """Every path the arguments name, the task files without problems, and the problems (reported
    here); any problem stops the command unless continue_on_error."""
    paths, problems = discover(taskfiles)
    files, file_problems = read_task_files(paths)
    problems += file_problems
    problems += template_problems(backend, files)
    bad_paths = {problem.path for problem in problems}
    valid = [f for f in files if str(f.path) not in bad_paths]
    if problems:
        report_problems(problems)
        invalid = len(bad_paths)
        click.echo(
            f"{invalid} of {counted(len(paths), 'file')} {'has' if invalid == 1 else 'have'} problems.",
            err=True,
        )
        if not continue_on_error:
            summary = Summary(skipped=len(paths) - len(valid))
            raise CliError(
                f"Nothing uploaded: fix the files above (or pass --continue-on-error); {summary}",
                exit_code=EXIT_INVALID_INPUT,
            )
    return paths, valid, problems


def shared_fields(**fields: Any) -> dict[str, Any]:
    """The fields every task of one add-task run carries; what was not given is left out."""
    return {key: value for key, value in fields.items() if value is not None and value != []}


@click.command("add-task", short_help="Create tasks from task files.")
@click.argument("taskfiles", nargs=-1, required=True, metavar="TASKFILE...")
@click.option("-p", "--project", required=True, help="Project the tasks belong to.")
@click.option("-u", "--users", multiple=True, help="Assign to these users (repeat, or a,b).")
@click.option("-g", "--groups", multiple=True, help="Assign to these groups (repeat, or a,b).")
@click.option("-t", "--tags", multiple=True, help="Tag the tasks (repeat, or a,b).")
@click.option("-d", "--distribute-in-group", help="Give each task to one member of this group.")
@click.option("-gen", "--generator-url", help="Who made the tasks (a URL).")
@click.option("-an", "--application-name", help="The client that should open the tasks.")
@click.option("-av", "--application-version", help="The client's minimum version.")
@click.option("-cu", "--callback-url", help="Called (PUT) when a task is done.")
@click.option("-cc", "--callback-content", help="Body of that call (JSON text).")
@click.option(
    "--batch-size",
    type=click.IntRange(1, MAX_BATCH),
    default=500,
    show_default=True,
    help="Tasks per request.",
)
@click.option(
    "--continue-on-error",
    is_flag=True,
    help="Skip invalid files and refused tasks instead of uploading nothing.",
)
@click.option("--dry-run", is_flag=True, help="Validate every file; upload nothing.")
@backend_options()
def add_task(
    taskfiles: tuple[str, ...],
    project: str,
    users: tuple[str, ...],
    groups: tuple[str, ...],
    tags: tuple[str, ...],
    distribute_in_group: str | None,
    generator_url: str | None,
    application_name: str | None,
    application_version: str | None,
    callback_url: str | None,
    callback_content: str | None,
    batch_size: int,
    continue_on_error: bool,
    dry_run: bool,
    backend: Backend,
) -> None:
    """Create a task from each TASKFILE (JSON or YAML; files, directories or glob patterns).

    Each file is a task's content; its `template` key names the template. Every file is checked
    first (it parses, names a template that exists, and its scan_sources match the scans the
    template declares); any problem is reported with file, line or field, and nothing is
    uploaded unless --continue-on-error. Then the tasks are created in batches.
    """
    user_names, group_names = split_names(users), split_names(groups)
    if distribute_in_group and (user_names or group_names):
        raise CliError(
            "-d/--distribute-in-group cannot be combined with -u/--users or -g/--groups",
            exit_code=EXIT_USAGE,
        )
    paths, valid, problems = checked_files(backend, taskfiles, continue_on_error=continue_on_error)
    summary = Summary(skipped=len(paths) - len(valid))
    if dry_run:
        valid_files = counted(len(valid), "task file")
        click.echo(
            f"{valid_files} {'is' if len(valid) == 1 else 'are'} valid; nothing uploaded (dry run)."
        )
        click.get_current_context().exit(EXIT_INVALID_INPUT if problems else 0)

    shared = shared_fields(
        project=project,
        users=user_names,
        groups=group_names,
        tags=split_names(tags),
        distribute_in_group=distribute_in_group,
        generator_url=generator_url,
        application_name=application_name,
        application_version=application_version,
        callback_url=callback_url,
        callback_content=callback_content,
    )
    items = [(f.path, {**shared, "template": f.template, "content": f.content}) for f in valid]
    upload(
        backend, items, batch_size=batch_size, continue_on_error=continue_on_error, summary=summary
    )
    click.echo(f"Tasks {summary} ({backend.description}).")
    if summary.failed or summary.not_sent:
        click.get_current_context().exit(EXIT_FAILED)
    if summary.skipped:
        click.get_current_context().exit(EXIT_INVALID_INPUT)
