"""`taskmanager add-task`: validate a pile of task files, then create them in batches.

Each task carries an idempotency key derived from its file (see `task_key`), so running the
same command again creates only the tasks that are not there yet: an upload that stopped part
way is resumed by running it again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from ..wording import counted
from .backends import Backend, BatchRejected, Created, backend_options
from .documents import DocumentError, discover_named, load
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
KEY_MAX = 255  # the longest idempotency key the server takes (models.tasks.IDEMPOTENCY_KEY_MAX)


@dataclass(frozen=True)
class TaskFile:
    path: Path
    content: dict[str, Any]
    # The file's name within the argument that found it (see documents.discover_named).
    name: str = ""

    @property
    def template(self) -> str:
        return str(self.content["template"])


@dataclass
class Summary:
    created: int = 0
    skipped: int = 0
    failed: int = 0
    not_sent: int = 0
    already_present: int = 0

    def add(self, outcome: Created) -> None:
        self.created += outcome.created
        self.already_present += outcome.already_present

    @property
    def sent(self) -> int:
        """Tasks the server answered for: created, already present or refused."""
        return self.created + self.already_present + self.failed

    def __str__(self) -> str:
        present = f", already present {self.already_present}" if self.already_present else ""
        text = f"created {self.created}{present}, skipped {self.skipped}, failed {self.failed}"
        return text + (f", not sent {self.not_sent}" if self.not_sent else "")


def task_key(project: str, task_file: TaskFile) -> str:
    """The idempotency key of a file's task: its `tracking_id` (with the project) when the file
    gives one, else the SHA-256 of the project, the content and the file's name within its
    argument. Running the same command again sends the same keys."""
    tracking = task_file.content.get("tracking_id")
    if isinstance(tracking, str | int) and not isinstance(tracking, bool) and str(tracking).strip():
        key = f"tracking:{project}/{str(tracking).strip()}"
        if len(key) <= KEY_MAX:
            return key
    canonical = json.dumps(
        [project, task_file.content, task_file.name],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return "file:" + hashlib.sha256(canonical.encode()).hexdigest()


def resume_hint(summary: Summary, *, keyed: bool) -> str:
    """How to finish an upload that left tasks out."""
    if keyed or not summary.created:
        return "To resume, run the same command again: the tasks already created are skipped."
    return (
        f"Running the same command again would create the {summary.created} tasks created now "
        "a second time (--allow-duplicates sends no keys)."
    )


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


def read_task_files(named: Sequence[tuple[Path, str]]) -> tuple[list[TaskFile], list[Problem]]:
    files: list[TaskFile] = []
    problems: list[Problem] = []
    for path, name in named:
        try:
            _text, document = load(path)
        except DocumentError as error:
            problems.append(error.problem)
            continue
        found = content_problems(path, document)
        if found:
            problems.extend(found)
        else:
            files.append(TaskFile(path, document, name))
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
    without the tasks the server named. A CliError (the server or database is gone) stops the
    upload, counting what was not answered for as not sent."""
    try:
        with progress_bar("Uploading tasks", total=len(items)) as advance:
            for batch in batches(items, batch_size):
                if not send_batch(backend, batch, continue_on_error, summary):
                    summary.not_sent = len(items) - summary.sent
                    return
                advance(len(batch))
    except CliError:
        summary.not_sent = len(items) - summary.sent
        raise


def send_batch(
    backend: Backend,
    batch: Sequence[tuple[Path, dict[str, Any]]],
    continue_on_error: bool,
    summary: Summary,
) -> bool:
    """One batch, counted in `summary`; False when it was refused and the upload stops."""
    try:
        summary.add(backend.create_tasks([body for _path, body in batch]))
        return True
    except BatchRejected as rejection:
        report_rejection(rejection, batch)
        if not continue_on_error:
            summary.failed += len(batch)
            return False
        named = rejection.by_index
    retry = [item for i, item in enumerate(batch) if i not in named]
    summary.failed += len(batch) - len(retry)
    if retry and named:
        try:
            summary.add(backend.create_tasks([body for _path, body in retry]))
        except BatchRejected as second:
            report_rejection(second, retry)
            summary.failed += len(retry)
    else:
        summary.failed += len(retry)
    return True


# Up to this many tasks a dry run lists each one's assignment; above, it sums them up.
DRY_RUN_LISTED = 50


def assignment_line(task: dict[str, Any]) -> str:
    """Where one task of a dry run would go, e.g. `queued, to alice; group team; effort 2`."""
    to = [*task["users"], *(f"group {name}" for name in task["groups"])]
    if to:
        where = "to " + ", ".join(to)
    elif task["status"] == "waiting":
        where = "handed out once its data is there"
    else:
        where = "to nobody"
    return f"{task['status']}, {where}; effort {task['effort']:g}"


def dry_run_summary(tasks: Sequence[dict[str, Any]]) -> str:
    """Many tasks of a dry run in one line: how many go where, by status."""
    by_status: dict[str, int] = {}
    for task in tasks:
        by_status[task["status"]] = by_status.get(task["status"], 0) + 1
    to_users = sum(1 for task in tasks if task["users"])
    to_groups = sum(1 for task in tasks if task["groups"])
    statuses = ", ".join(f"{count} {status}" for status, count in sorted(by_status.items()))
    return (
        f"{counted(len(tasks), 'task')} ({statuses}): {to_users} to users, {to_groups} to groups."
    )


def dry_run_report(
    backend: Backend, items: Sequence[tuple[Path, dict[str, Any]]], *, batch_size: int
) -> bool:
    """Ask where each batch's tasks would go (nothing is stored) and print it: per task (or a
    summary when many) and per user. True when a batch was refused (reported as an upload's)."""
    listed = len(items) <= DRY_RUN_LISTED
    previewed: list[dict[str, Any]] = []
    per_user: dict[str, dict[str, float]] = {}
    refused = False
    for batch in batches(items, batch_size):
        try:
            preview = backend.preview_tasks([body for _path, body in batch])
        except BatchRejected as rejection:
            report_rejection(rejection, batch)
            refused = True
            continue
        if preview is None:
            click.echo(
                f"{backend.description} offers no dry runs (an older server): only the files were checked."
            )
            return False
        for task in preview.tasks:
            if listed:
                click.echo(f"{batch[task['index']][0]}: {assignment_line(task)}")
        previewed += preview.tasks
        for name, share in preview.per_user.items():
            total = per_user.setdefault(name, {"tasks": 0, "effort": 0.0})
            total["tasks"] += share["tasks"]
            total["effort"] += share["effort"]
    if previewed and not listed:
        click.echo(dry_run_summary(previewed))
    if per_user:
        click.echo("Per user:")
    for name, share in sorted(per_user.items()):
        click.echo(f"  {name}: {counted(int(share['tasks']), 'task')}, effort {share['effort']:g}")
    if len(items) > batch_size:
        click.echo(
            f"Each batch of {batch_size} was previewed alone: in an upload, automatic "
            "assignment also counts the tasks of the batches before."
        )
    return refused


def checked_files(
    backend: Backend, taskfiles: Sequence[str], *, continue_on_error: bool
) -> tuple[list[Path], list[TaskFile], list[Problem]]:
    """Every path the arguments name, the task files without problems, and the problems (reported
    here); any problem stops the command unless continue_on_error."""
    named, problems = discover_named(taskfiles)
    paths = [path for path, _name in named]
    files, file_problems = read_task_files(named)
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
@click.option(
    "--dry-run",
    is_flag=True,
    help="Validate every file and show where each task would go; upload nothing.",
)
@click.option(
    "--allow-duplicates",
    is_flag=True,
    help="Create every task, even those already there (no keys).",
)
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
    allow_duplicates: bool,
    backend: Backend,
) -> None:
    """Create a task from each TASKFILE (JSON or YAML; files, directories or glob patterns).

    Each file is a task's content; its `template` key names the template. Every file is checked
    first (it parses, names a template that exists, and its scan_sources match the scans the
    template declares); any problem is reported with file, line or field, and nothing is
    uploaded unless --continue-on-error. Then the tasks are created in batches. With --dry-run
    nothing is uploaded: the server says, batch by batch, where each task would go (its status,
    users and groups; a summary when there are many) and how many tasks and how much effort
    each user would get.

    Each task carries a key made from its file (its tracking_id, or its project, content and
    name), so running the same command again skips the tasks already there: an upload that
    stopped part way is resumed that way. --allow-duplicates sends no keys.
    """
    user_names, group_names = split_names(users), split_names(groups)
    if distribute_in_group and (user_names or group_names):
        raise CliError(
            "-d/--distribute-in-group cannot be combined with -u/--users or -g/--groups",
            exit_code=EXIT_USAGE,
        )
    paths, valid, problems = checked_files(backend, taskfiles, continue_on_error=continue_on_error)
    summary = Summary(skipped=len(paths) - len(valid))
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
    keyed = not allow_duplicates
    items = [
        (
            f.path,
            {
                **shared,
                "template": f.template,
                "content": f.content,
                **({"idempotency_key": task_key(project, f)} if keyed else {}),
            },
        )
        for f in valid
    ]
    if dry_run:
        valid_files = counted(len(valid), "task file")
        click.echo(
            f"{valid_files} {'is' if len(valid) == 1 else 'are'} valid; nothing uploaded (dry run)."
        )
        refused = dry_run_report(backend, items, batch_size=batch_size) if items else False
        click.get_current_context().exit(EXIT_INVALID_INPUT if problems or refused else 0)

    try:
        upload(
            backend,
            items,
            batch_size=batch_size,
            continue_on_error=continue_on_error,
            summary=summary,
        )
    except CliError as error:
        click.echo(f"Tasks {summary} ({backend.description}).")
        raise CliError(
            f"{error.format_message()}\n{resume_hint(summary, keyed=keyed)}",
            exit_code=error.exit_code,
        ) from None
    click.echo(f"Tasks {summary} ({backend.description}).")
    if summary.failed or summary.not_sent or summary.skipped:
        click.echo(resume_hint(summary, keyed=keyed), err=True)
    if summary.failed or summary.not_sent:
        click.get_current_context().exit(EXIT_FAILED)
    if summary.skipped:
        click.get_current_context().exit(EXIT_INVALID_INPUT)
