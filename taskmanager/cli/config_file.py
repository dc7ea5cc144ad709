"""`taskmanager config FILE`: roles, users, groups with members, tags and templates from one file.

The import rules live in the server's config-import service; this command only reads the file,
loads the template files it names (paths relative to it), and hands the whole definition over.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .backends import Backend, backend_options
from .documents import DocumentError, load
from .errors import EXIT_INVALID_INPUT, CliError, Problem, report_problems
from .templates import read_template

# Section -> (kind of record, key naming it), in the order the import creates them.
SECTIONS = {
    "roles": ("role", "name"),
    "users": ("user", "username"),
    "groups": ("group", "groupname"),
    "tags": ("tag", "name"),
    "templates": ("template", "label"),
}


def _load_templates(path: Path, entries: Any, problems: list[Problem]) -> list[dict[str, str]]:
    if not isinstance(entries, list):
        problems.append(Problem(str(path), "must be a list of template file paths", "templates"))
        return []
    loaded = []
    for index, entry in enumerate(entries):
        if isinstance(entry, dict) and {"label", "content"} <= entry.keys():
            loaded.append({"label": str(entry["label"]), "content": str(entry["content"])})
            continue
        if not isinstance(entry, str):
            problems.append(Problem(str(path), "must be a file path", f"templates.{index}"))
            continue
        template_path = path.parent / entry
        if not template_path.is_file():
            problems.append(
                Problem(str(path), f"no such file: {template_path}", f"templates.{index}")
            )
            continue
        try:
            label, text = read_template(template_path)
        except CliError as error:
            problems.append(Problem(str(path), error.format_message(), f"templates.{index}"))
            continue
        loaded.append({"label": label, "content": text})
    return loaded


def read_definition(path: Path) -> dict[str, Any]:
    """The config document with every template file loaded; CliError listing all problems."""
    problems: list[Problem] = []
    try:
        _text, document = load(path)
    except DocumentError as error:
        raise CliError(str(error.problem), exit_code=EXIT_INVALID_INPUT) from None
    if not isinstance(document, dict):
        raise CliError(
            str(Problem(str(path), "must be a mapping of roles, users, groups, tags, templates")),
            exit_code=EXIT_INVALID_INPUT,
        )
    if "templates" in document and document["templates"] is not None:
        document = {**document, "templates": _load_templates(path, document["templates"], problems)}
    if problems:
        report_problems(problems)
        raise CliError(f"{path}: nothing imported", exit_code=EXIT_INVALID_INPUT)
    return document


def _record_name(entry: Any, key: str) -> str | None:
    if isinstance(entry, dict):
        value = entry.get(key)
        return None if value is None else str(value)
    return str(entry) if isinstance(entry, str | int) else None


def preview(backend: Backend, definition: dict[str, Any], *, overwrite: bool) -> None:
    """What an import would do to each named record: create it, update it or leave it."""
    for section, (kind, key) in SECTIONS.items():
        for entry in definition.get(section) or []:
            name = _record_name(entry, key)
            if name is None:
                click.echo(f"would reject a {kind} without {key}")
            elif not backend.exists(kind, name):
                click.echo(f"would create {kind} {name!r}")
            elif overwrite:
                click.echo(f"would update {kind} {name!r}")
            else:
                click.echo(f"would skip {kind} {name!r} (exists; --overwrite updates it)")


def _summarise(answer: dict[str, Any]) -> str:
    parts = []
    for section, (_kind, key) in SECTIONS.items():
        entries = answer.get(section)
        if isinstance(entries, list):
            names = [_record_name(entry, key) or _record_name(entry, "name") for entry in entries]
            parts.append(f"{section}: {', '.join(n for n in names if n) or '-'}")
    return "; ".join(parts)


@click.command("config", short_help="Import roles, users, groups, tags, templates.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--overwrite", is_flag=True, help="Update records that exist (default: skip them).")
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
@backend_options()
def config(file: Path, overwrite: bool, dry_run: bool, backend: Backend) -> None:
    """Import FILE (YAML or JSON): roles, users, groups (with members), tags and templates
    (paths relative to FILE). Existing records are skipped unless --overwrite."""
    definition = read_definition(file)
    if dry_run:
        preview(backend, definition, overwrite=overwrite)
        click.echo("Dry run: nothing changed.")
        return
    answer = backend.import_config(definition, overwrite=overwrite)
    verb = "Imported (overwriting)" if overwrite else "Imported (existing records skipped)"
    click.echo(f"{verb} into {backend.description}: {_summarise(answer)}")
