"""`taskmanager add-template` and `update-template`: template files whose `template_name` is the
label."""

from __future__ import annotations

from pathlib import Path

import click

from .backends import Backend, backend_options
from .documents import DocumentError, load
from .errors import EXIT_FAILED, EXIT_INVALID_INPUT, CliError, Problem

TEMPLATE_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def read_template(path: Path) -> tuple[str, str]:
    """The template's label (`template_name`) and the file's text, stored as written."""
    try:
        text, document = load(path)
    except DocumentError as error:
        raise CliError(str(error.problem), exit_code=EXIT_INVALID_INPUT) from None
    label = document.get("template_name") if isinstance(document, dict) else None
    if not isinstance(label, str) or not label.strip():
        problem = Problem(str(path), "required: the template's label", "template_name")
        raise CliError(str(problem), exit_code=EXIT_INVALID_INPUT)
    return label, text


@click.command("add-template", short_help="Add templates from files.")
@click.argument("files", nargs=-1, required=True, type=TEMPLATE_FILE, metavar="FILE...")
@backend_options()
def add_template(files: tuple[Path, ...], backend: Backend) -> None:
    """Add the template in each FILE (YAML or JSON; `template_name` is its label)."""
    for path in files:
        label, text = read_template(path)
        if backend.get_template(label) is not None:
            raise CliError(
                f"{path}: template {label!r} already exists on {backend.description}; "
                "use update-template to replace it",
                exit_code=EXIT_FAILED,
            )
        backend.create_template(label, text)
        click.echo(f"Added template {label!r} from {path}")


@click.command("update-template", short_help="Replace templates from files.")
@click.argument("files", nargs=-1, required=True, type=TEMPLATE_FILE, metavar="FILE...")
@backend_options()
def update_template(files: tuple[Path, ...], backend: Backend) -> None:
    """Replace the content of the template each FILE names in `template_name`."""
    for path in files:
        label, text = read_template(path)
        if backend.get_template(label) is None:
            raise CliError(
                f"{path}: template {label!r} does not exist on {backend.description}; "
                "use add-template to add it",
                exit_code=EXIT_FAILED,
            )
        backend.update_template(label, text)
        click.echo(f"Updated template {label!r} from {path}")
