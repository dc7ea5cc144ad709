"""The rules every parsed document keeps (services/kit/documents.py); the API's side of them is in
tests/api/test_hostile_input.py."""

from __future__ import annotations

import time

import pytest

from taskmanager.services.kit.documents import (
    JSON_MAX_DEPTH,
    DocumentError,
    parse_json,
    parse_json_or_yaml,
    parse_yaml,
)


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_nesting_is_bounded_at_the_limit() -> None:
    assert parse_json(nested(JSON_MAX_DEPTH)) is not None
    for text in (nested(JSON_MAX_DEPTH + 1), nested(100_000)):
        with pytest.raises(DocumentError) as refused:
            parse_json(text)
        assert refused.value.field == ""
    with pytest.raises(DocumentError):
        parse_yaml("[" * 100_000 + "x" + "]" * 100_000)


@pytest.mark.parametrize(
    "text,field",
    [
        ('{"a": ["ok", "x\\ud800"]}', "a.1"),
        ('[{"b": 1}, {"k\\udfff": 2}]', "1.k?"),
        ('"\\ud800"', ""),
        (b'{"a": "\xed\xa0\x80"}', "a"),
        ('{"a": {"b": NaN}}', "a.b"),
        ('{"a": [-Infinity]}', "a.0"),
        ('{"a": 1e999}', "a"),
    ],
)
def test_refusals_name_where_they_are(text: str | bytes, field: str) -> None:
    with pytest.raises(DocumentError) as refused:
        parse_json(text)
    assert refused.value.field == field


def test_surrogate_pairs_and_ordinary_numbers_are_fine() -> None:
    assert parse_json('{"smile": "\\ud83d\\ude00", "n": [1.5, -2e10, 3]}') == {
        "smile": "\U0001f600",
        "n": [1.5, -2e10, 3],
    }


def test_yaml_aliases_are_walked_once() -> None:
    """A "billion laughs" document: nine levels of ten aliases each, walked in no time."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for n in range(1, 10):
        lines.append(f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 10) + "]")
    started = time.monotonic()
    assert "a9" in parse_yaml("\n".join(lines))
    assert time.monotonic() - started < 5
    with pytest.raises(DocumentError):
        parse_yaml("&a [*a]")  # refers to itself: nested without end


def test_json_or_yaml_does_not_reread_refused_json_as_yaml() -> None:
    with pytest.raises(DocumentError):
        parse_json_or_yaml(nested(JSON_MAX_DEPTH + 1))
    assert parse_json_or_yaml("a: [1, 2]") == {"a": [1, 2]}
