"""Reading JSON and YAML documents (request bodies, task and template content, config files).

Every document is held to the same rules, whatever carries it: JSON is strict (no NaN or
Infinity, which Python accepts but JSON has not), no container nests deeper than
JSON_MAX_DEPTH (deeper documents exhausted the interpreter's recursion limit: a 500), and no
string holds a lone UTF-16 surrogate (not text: no database driver can store it). A refusal is a
DocumentError (a ValueError) naming where in the document it is.
"""

from __future__ import annotations

import json
import math
from itertools import chain
from typing import Any

import yaml

from .validation import has_lone_surrogate

# Objects and arrays nested in one another: far more than any task or template uses, and far
# below the interpreter's recursion limit (the parsers, json.dumps and Jinja all recurse).
JSON_MAX_DEPTH = 64

# What a JSON text must hold before a lone surrogate is possible: a \uD800-\uDFFF escape, or
# one undecodable as UTF-8 (json reads bytes with "surrogatepass").
_MAYBE_SURROGATE = ("\\ud", "\\uD")


class DocumentError(ValueError):
    """A document the rules refuse; `field` is where (a dotted path), `message` says why."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class _NotJson:
    """Stands for NaN/Infinity while parsing, so that the refusal can name where it was."""

    def __init__(self, text: str) -> None:
        self.text = text


def _finite_float(text: str) -> float | _NotJson:
    number = float(text)  # 1e999 is Infinity
    return number if math.isfinite(number) else _NotJson(text)


def _path(trail: tuple[Any, ...] | None) -> str:
    parts: list[str] = []
    while trail is not None:
        key, trail = trail
        parts.append(str(key))
    # A key with a surrogate must not put one into the answer either.
    return ".".join(reversed(parts)).encode("utf-8", "replace").decode("utf-8")


def check(
    document: Any, *, strings: bool = True, constants: bool = True, shared: bool = False
) -> None:
    """Walk the document once (iteratively): DocumentError at the first container nested deeper
    than JSON_MAX_DEPTH, string or key with a lone surrogate, or NaN/Infinity placeholder.
    `strings`/`constants` False skip checks a caller knows cannot fail (the walk is the cost);
    `shared` for YAML, whose aliases repeat one node many times: walked again only when met
    deeper than before (so a node that contains itself is found too deep)."""
    if not (strings or constants or shared):
        if _nests_deeper(document):
            raise _too_deep()
        return
    # (value, depth of the container holding it, trail: (key, parent trail) or None)
    stack: list[tuple[Any, int, tuple[Any, ...] | None]] = [(document, 0, None)]
    walked: dict[int, int] = {}
    while stack:
        value, depth, trail = stack.pop()
        if isinstance(value, dict | list):
            _push_items(stack, walked, value, depth, trail, strings=strings, shared=shared)
        else:
            _check_leaf(value, trail, strings=strings, constants=constants)


def _push_items(
    stack: list[tuple[Any, int, tuple[Any, ...] | None]],
    walked: dict[int, int],
    container: dict[Any, Any] | list[Any],
    depth: int,
    trail: tuple[Any, ...] | None,
    *,
    strings: bool,
    shared: bool,
) -> None:
    """Put a container's items that need a look on the stack (see `check`)."""
    if depth >= JSON_MAX_DEPTH:
        raise _too_deep()
    if shared:
        if walked.get(id(container), -1) >= depth:
            return
        walked[id(container)] = depth
    items = container.items() if isinstance(container, dict) else enumerate(container)
    for key, item in items:
        if strings and isinstance(key, str) and has_lone_surrogate(key):
            raise _surrogate((key, trail))
        if isinstance(item, dict | list | _NotJson) or (strings and isinstance(item, str)):
            stack.append((item, depth + 1, (key, trail)))


def _check_leaf(
    value: Any, trail: tuple[Any, ...] | None, *, strings: bool, constants: bool
) -> None:
    if isinstance(value, str):
        if strings and has_lone_surrogate(value):
            raise _surrogate(trail)
    elif constants and isinstance(value, _NotJson):
        field = _path(trail)
        raise DocumentError(
            f"{field or 'The document'}: {value.text} is not a JSON number", field=field
        )


_CONTAINERS = (dict, list)


def _nests_deeper(document: Any) -> bool:
    """Whether containers nest deeper than JSON_MAX_DEPTH: level by level, a fifth of the
    walk's cost (a 10,000-task body: about 20 ms). For parsed JSON: exact dicts and lists."""
    level: list[Any] = [document] if type(document) in _CONTAINERS else []
    for _ in range(JSON_MAX_DEPTH):
        values = chain.from_iterable(c.values() if type(c) is dict else c for c in level)
        level = [value for value in values if type(value) in _CONTAINERS]
        if not level:
            return False
    return True


def _too_deep() -> DocumentError:
    # Named as the whole document: the parser's own RecursionError cannot say where it was.
    return DocumentError(
        f"The document nests objects and arrays more than {JSON_MAX_DEPTH} levels deep", field=""
    )


def _surrogate(trail: tuple[Any, ...] | None) -> DocumentError:
    field = _path(trail)
    return DocumentError(
        f"{field or 'The document'} holds a lone UTF-16 surrogate (\\ud800-\\udfff), which is "
        "not text",
        field=field,
    )


def parse_json(data: str | bytes) -> Any:
    """The JSON document in the text (or bytes, in any encoding JSON allows), held to the rules
    above; DocumentError (field: the path, '' for the whole) or another ValueError otherwise."""
    text = (
        data.decode(json.detect_encoding(data), "surrogatepass")
        if isinstance(data, bytes)
        else data
    )
    constants_seen = False

    def constant(name: str) -> _NotJson:
        nonlocal constants_seen
        constants_seen = True
        return _NotJson(name)

    def finite(number_text: str) -> float | _NotJson:
        nonlocal constants_seen
        number = _finite_float(number_text)
        constants_seen = constants_seen or isinstance(number, _NotJson)
        return number

    try:
        document = json.loads(text, parse_constant=constant, parse_float=finite)
    except RecursionError:
        raise _too_deep() from None
    # The walk is skipped when nothing in the text could fail it (most bodies).
    deep = text.count("[") + text.count("{") > JSON_MAX_DEPTH
    strings = any(marker in text for marker in _MAYBE_SURROGATE) or has_lone_surrogate(text)
    if deep or strings or constants_seen:
        check(document, strings=strings, constants=constants_seen)
    return document


def parse_yaml(text: str) -> Any:
    """The YAML document in the text, held to the rules above (bar NaN and Infinity: YAML has
    them, and a YAML document is kept as its text)."""
    try:
        document = yaml.safe_load(text)
    except RecursionError:
        raise _too_deep() from None
    except yaml.YAMLError as error:
        raise ValueError(str(error)) from None
    check(document, constants=False, shared=True)
    return document


def parse_json_or_yaml(text: str) -> Any:
    """The JSON document in the text, or else its YAML document; ValueError when neither."""
    try:
        return parse_json(text)
    except DocumentError:
        raise
    except ValueError:
        pass
    return parse_yaml(text)
