"""Hostile values for every operation of the OpenAPI document (issue 15), beside schemathesis.

Schemathesis generates what the document allows and a little around it; these are the values
that once answered 500 whatever the document said: in every path parameter an id no id column
holds, and in every top-level body field a lone UTF-16 surrogate, nesting far beyond the
interpreter's recursion limit, `true` where an id may go and an id beyond 64 bits. Each probe
says which answers it allows; every refusal must have the JSON error shape.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import requests

METHODS = ("get", "post", "put", "patch", "delete")
HUGE_ID = 2**70
DEEP = 5_000  # far beyond the recursion limit; still a small body
# Every one of these is refused wherever it is sent (400), by the request's JSON parsing.
REFUSED = {
    "lone surrogate": b'"x\\ud800"',
    "lone surrogate (bytes)": b'"x\xed\xa0\x80"',
    "deep nesting": b"[" * DEEP + b"]" * DEEP,
    "NaN": b"NaN",
}
# These are JSON: a field may take them (a meta value may be true), but never with a 500.
ODD = {
    "true": b"true",
    "[true]": b"[true]",
    "huge id": str(HUGE_ID).encode(),
    "[huge id]": f"[{HUGE_ID}]".encode(),
}


@dataclass(frozen=True)
class Probe:
    method: str
    path: str
    body: bytes | None
    what: str
    allowed: frozenset[int] | None  # None: any answer but a server error


def _resolve(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = document["components"]["schemas"][name]
    return schema


def _fields(schema: dict[str, Any], document: dict[str, Any]) -> list[str]:
    """Top-level properties of a body schema (of its object variant, when it has several)."""
    schema = _resolve(schema, document)
    if "properties" in schema:
        return sorted(schema["properties"])
    for key in ("anyOf", "oneOf", "allOf"):
        for variant in schema.get(key, []):
            found = _fields(variant, document)
            if found:
                return found
    return []


def _body_schema(operation: dict[str, Any]) -> dict[str, Any] | None:
    content = operation.get("requestBody", {}).get("content", {})
    schema: dict[str, Any] | None = content.get("application/json", {}).get("schema")
    return schema


# Path parameters that are names whatever they look like: any text names a project.
NAMES_IN_PATHS = frozenset({"project"})


def probes(document: dict[str, Any], real_id: Callable[[str], str]) -> Iterator[Probe]:
    """Every probe for every operation; `real_id(name)` fills path parameters that must exist
    for the body to be read (a kept row of the fuzz world)."""
    for path, operations in sorted(document["paths"].items()):
        names = re.findall(r"\{([^}]+)\}", path)
        for method in METHODS:
            operation = operations.get(method)
            if not isinstance(operation, dict):
                continue
            verb = method.upper()
            schema = _body_schema(operation)
            if set(names) - NAMES_IN_PATHS:
                huge = re.sub(r"\{[^}]+\}", str(HUGE_ID), path)
                body = b"{}" if schema is not None else None
                # With a body, its own check may come first (a required field is missing).
                allowed = frozenset({404} if schema is None else {400, 404})
                yield Probe(verb, huge, body, "huge ids in the path", allowed)
            if schema is None:
                continue
            url = re.sub(r"\{([^}]+)\}", lambda m: real_id(m.group(1)), path)
            yield Probe(verb, url, REFUSED["deep nesting"], "deep nesting as the body", None)
            for field in _fields(schema, document):
                key = field.encode()
                for what, raw in REFUSED.items():
                    body = b'{"' + key + b'": ' + raw + b"}"
                    yield Probe(verb, url, body, f"{what} in {field}", frozenset({400}))
                for what, raw in ODD.items():
                    body = b'{"' + key + b'": ' + raw + b"}"
                    yield Probe(verb, url, body, f"{what} in {field}", None)


def problem(probe: Probe, response: requests.Response) -> str | None:
    """What is wrong with the answer, or None."""
    status = response.status_code
    if status >= 500:
        return f"server error {status}"
    if probe.allowed is not None and status not in probe.allowed:
        return f"answered {status}, expected one of {sorted(probe.allowed)}"
    if status < 400 or status == 405:
        return None
    if not response.headers.get("Content-Type", "").startswith("application/json"):
        return f"{status} is not JSON: {response.headers.get('Content-Type')}"
    body = response.json()
    if not isinstance(body, dict) or not isinstance(body.get("message"), str):
        return f"{status} without a message: {response.text[:200]}"
    errors = body.get("errors", {})
    if not isinstance(errors, dict) or not all(
        isinstance(messages, list) and all(isinstance(m, str) for m in messages)
        for messages in errors.values()
    ):
        return f"{status} with malformed errors: {response.text[:200]}"
    return None


def send(session: requests.Session, base_url: str, probe: Probe) -> requests.Response:
    headers = {"Content-Type": "application/json"} if probe.body is not None else {}
    return session.request(
        probe.method, base_url + probe.path, data=probe.body, headers=headers, timeout=120
    )
