"""Reading the JSON and YAML files users hand the command line, with errors naming file and line."""

from __future__ import annotations

import glob
import itertools
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from .errors import Problem

DOCUMENT_SUFFIXES = (".json", ".yaml", ".yml")

try:  # the C loader is several times faster on a directory of a thousand files
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]


class DocumentError(Exception):
    """A file that cannot be read or parsed; carries the Problem to report."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def parse(text: str, *, path: str, as_json: bool) -> Any:
    """The document in `text` (JSON when `as_json`, else YAML, which also reads JSON)."""
    if as_json:
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise DocumentError(
                Problem(
                    path, f"invalid JSON: {error.msg} (column {error.colno})", line=error.lineno
                )
            ) from None
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        reason = error.problem or error.context or "cannot be parsed"
        line = mark.line + 1 if mark is not None else None
        raise DocumentError(Problem(path, f"invalid YAML: {reason}", line=line)) from None
    except yaml.YAMLError as error:
        raise DocumentError(Problem(path, f"invalid YAML: {error}")) from None


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DocumentError(Problem(str(path), "not UTF-8 text")) from None
    except OSError as error:
        raise DocumentError(Problem(str(path), f"cannot be read: {error.strerror}")) from None


def load(path: Path) -> tuple[str, Any]:
    """The file's text and its parsed document (JSON for .json, YAML otherwise)."""
    text = read_text(path)
    return text, parse(text, path=str(path), as_json=path.suffix.lower() == ".json")


def discover(
    arguments: Iterable[str], suffixes: tuple[str, ...] = DOCUMENT_SUFFIXES
) -> tuple[list[Path], list[Problem]]:
    """Files named directly, found in directories (recursively) or matched by glob patterns.

    Directories and patterns contribute only files with the given suffixes; each file once,
    in sorted order per argument.
    """
    named, problems = discover_named(arguments, suffixes)
    return [path for path, _name in named], problems


def discover_named(
    arguments: Iterable[str], suffixes: tuple[str, ...] = DOCUMENT_SUFFIXES
) -> tuple[list[tuple[Path, str]], list[Problem]]:
    """As `discover`, each file with its name within the argument that found it: its path below
    a directory or below a pattern's leading directories; a file named directly, its own name."""
    found: list[tuple[Path, str]] = []
    problems: list[Problem] = []
    seen: set[Path] = set()
    for argument in arguments:
        path = Path(argument)
        base = path
        if path.is_file():
            matches, base = [path], path.parent
        elif path.is_dir():
            matches = sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in suffixes
            )
            if not matches:
                problems.append(Problem(argument, f"no {'/'.join(suffixes)} files in directory"))
        elif glob.has_magic(argument):
            matches = sorted(
                Path(p)
                for p in glob.glob(argument, recursive=True)
                if Path(p).is_file() and Path(p).suffix.lower() in suffixes
            )
            base = Path(*itertools.takewhile(lambda part: not glob.has_magic(part), path.parts))
            if not matches:
                problems.append(Problem(argument, "the pattern matches no files"))
        else:
            problems.append(Problem(argument, "no such file or directory"))
            continue
        for match in matches:
            key = match.resolve()
            if key not in seen:
                seen.add(key)
                found.append((match, match.relative_to(base).as_posix()))
    return found, problems
