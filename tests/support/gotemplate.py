"""Render a Helm chart without helm (which this machine cannot install).

Supports the part of Go templates and Helm's functions the chart uses: `{{- -}}` trimming,
comments, `define`/`include`, `if`/`else if`/`else`, `with`, `range` over lists, pipelines with
`quote`, `default`, `required`, `toYaml`, `indent`/`nindent`, `b64enc`, `trunc`, `trimSuffix`,
`printf`, `eq`/`ne`/`and`/`or`/`not`, `empty`. Anything else is an error, so a chart change that
goes beyond it fails the tests loudly instead of rendering wrongly.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.DOTALL)
TOKEN = re.compile(
    r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<num>-?\d+(?:\.\d+)?)|(?P<punct>[|()])'
    r"|(?P<field>\$?(?:\.[A-Za-z_][A-Za-z0-9_]*)+|\$|\.)|(?P<ident>[A-Za-z_][A-Za-z0-9_]*))"
)


class TemplateError(Exception):
    pass


@dataclass
class Node:
    kind: str  # text, action, if, with, range, define
    value: Any = None
    branches: list[tuple[Any, list[Node]]] = field(default_factory=list)
    otherwise: list[Node] = field(default_factory=list)


def _lex(source: str) -> list[tuple[str, str]]:
    """Text and action pieces, with {{- and -}} whitespace trimming applied."""
    pieces: list[tuple[str, str]] = []
    position = 0
    trim_next = False
    for match in ACTION.finditer(source):
        text = source[position : match.start()]
        if trim_next:
            text = text.lstrip()
        if match.group(1):
            text = text.rstrip()
        pieces.append(("text", text))
        pieces.append(("action", match.group(2).strip()))
        trim_next = bool(match.group(3))
        position = match.end()
    tail = source[position:]
    pieces.append(("text", tail.lstrip() if trim_next else tail))
    return pieces


def _parse(
    pieces: list[tuple[str, str]], index: int, stop: tuple[str, ...]
) -> tuple[list[Node], int, str]:
    nodes: list[Node] = []
    while index < len(pieces):
        kind, body = pieces[index]
        index += 1
        if kind == "text":
            if body:
                nodes.append(Node("text", body))
            continue
        if body.startswith("/*"):
            continue
        keyword = body.split(None, 1)[0] if body else ""
        if keyword in stop or (keyword == "else" and "else" in stop):
            return nodes, index, body
        if keyword in ("if", "with", "range"):
            node = Node(keyword)
            condition = body[len(keyword) :].strip()
            while True:
                children, index, ended = _parse(pieces, index, ("end", "else"))
                node.branches.append((condition, children))
                if ended == "end":
                    break
                rest = ended[len("else") :].strip()
                if rest.startswith("if "):
                    condition = rest[3:].strip()
                    continue
                node.otherwise, index, ended = _parse(pieces, index, ("end",))
                break
            nodes.append(node)
        elif keyword == "define":
            name = _literal(body[len("define") :].strip())
            children, index, _ = _parse(pieces, index, ("end",))
            nodes.append(Node("define", name, [(None, children)]))
        elif keyword in ("end", "else"):
            raise TemplateError(f"unexpected {{{{ {body} }}}}")
        else:
            nodes.append(Node("action", body))
    if stop:
        raise TemplateError(f"missing {{{{ end }}}} (wanted {stop})")
    return nodes, index, ""


def _literal(token: str) -> str:
    if not (token.startswith('"') and token.endswith('"')):
        raise TemplateError(f"expected a string, got {token}")
    return bytes(token[1:-1], "utf-8").decode("unicode_escape")


def truthy(value: Any) -> bool:
    return value not in (None, False, 0, "") and not (isinstance(value, (list, dict)) and not value)


def _go_string(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        raise TemplateError(f"cannot print a {type(value).__name__} without toYaml: {value!r}")
    return str(value)


def _required(message: str, value: Any) -> Any:
    if not truthy(value):
        raise TemplateError(f"required: {message}")
    return value


def _indent(width: int, text: str) -> str:
    return "\n".join((" " * width + line) if line else line for line in str(text).split("\n"))


def _printf(pattern: str, *args: Any) -> str:
    remaining = list(args)
    return re.sub(r"%[sdv]", lambda _: _go_string(remaining.pop(0)), pattern)


FUNCTIONS: dict[str, Any] = {
    "quote": lambda *values: " ".join(
        '"' + _go_string(v).replace('"', '\\"') + '"' for v in values
    ),
    "default": lambda fallback, value=None: value if truthy(value) else fallback,
    "required": _required,
    "toYaml": lambda value: (
        ""
        if value is None
        else yaml.safe_dump(value, default_flow_style=False, sort_keys=False).rstrip("\n")
    ),
    "indent": _indent,
    "nindent": lambda width, text: "\n" + _indent(width, text),
    "b64enc": lambda value: base64.b64encode(_go_string(value).encode()).decode(),
    "trunc": lambda length, value: _go_string(value)[:length],
    "trimSuffix": lambda suffix, value: _go_string(value).removesuffix(suffix),
    "printf": _printf,
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "and": lambda *values: all(truthy(v) for v in values),
    "or": lambda *values: any(truthy(v) for v in values),
    "not": lambda value: not truthy(value),
    "empty": lambda value: not truthy(value),
}


class Chart:
    def __init__(self, path: Path, release: str = "tm", namespace: str = "default") -> None:
        self.path = path
        self.meta = yaml.safe_load((path / "Chart.yaml").read_text())
        self.defaults = yaml.safe_load((path / "values.yaml").read_text())
        self.release = {"Name": release, "Namespace": namespace, "Service": "Helm"}
        self.defines: dict[str, list[Node]] = {}
        self.templates: dict[str, list[Node]] = {}
        for template in sorted((path / "templates").glob("*")):
            if template.suffix not in (".yaml", ".tpl"):
                continue
            nodes, _, _ = _parse(_lex(template.read_text()), 0, ())
            for node in nodes:
                if node.kind == "define":
                    self.defines[node.value] = node.branches[0][1]
            self.templates[template.name] = [n for n in nodes if n.kind != "define"]

    def render(self, values: dict[str, Any] | None = None) -> dict[str, list[dict[str, Any]]]:
        """Each template's YAML documents (empty ones dropped), as `helm template` would give."""
        merged = _merge(self.defaults, values or {})
        root = {
            "Values": merged,
            "Release": self.release,
            "Chart": {
                "Name": self.meta["name"],
                "Version": self.meta["version"],
                "AppVersion": self.meta.get("appVersion", ""),
            },
        }
        rendered = {}
        for name, nodes in self.templates.items():
            if name.endswith(".tpl"):
                continue
            text = self._run(nodes, root, root)
            rendered[name] = [doc for doc in yaml.safe_load_all(text) if doc]
        return rendered

    def _run(self, nodes: list[Node], dot: Any, root: Any) -> str:
        out: list[str] = []
        for node in nodes:
            if node.kind == "text":
                out.append(node.value)
            elif node.kind == "action":
                out.append(_go_string(self._pipeline(node.value, dot, root)))
            elif node.kind == "if":
                for condition, body in node.branches:
                    if truthy(self._pipeline(condition, dot, root)):
                        out.append(self._run(body, dot, root))
                        break
                else:
                    out.append(self._run(node.otherwise, dot, root))
            elif node.kind == "with":
                condition, body = node.branches[0]
                value = self._pipeline(condition, dot, root)
                out.append(
                    self._run(body, value, root)
                    if truthy(value)
                    else self._run(node.otherwise, dot, root)
                )
            elif node.kind == "range":
                condition, body = node.branches[0]
                items = self._pipeline(condition, dot, root) or []
                if not isinstance(items, list):
                    raise TemplateError("range supports lists only")
                out.extend(self._run(body, item, root) for item in items)
        return "".join(out)

    def _pipeline(self, source: str, dot: Any, root: Any) -> Any:
        tokens: list[tuple[str, str]] = []
        position = 0
        while source[position:].strip():
            match = TOKEN.match(source, position)
            if match is None or match.lastgroup is None:
                raise TemplateError(
                    f"unsupported syntax at {source[position:]!r} in {{{{ {source} }}}}"
                )
            tokens.append((match.lastgroup, match.group(match.lastgroup)))
            position = match.end()
        value, end = self._commands(tokens, 0, dot, root)
        if end != len(tokens):
            raise TemplateError(f"unsupported syntax: {{{{ {source} }}}}")
        return value

    def _commands(
        self, tokens: list[tuple[str, str]], position: int, dot: Any, root: Any
    ) -> tuple[Any, int]:
        piped: list[Any] = []
        while True:
            operands: list[tuple[str, Any]] = []
            while position < len(tokens) and tokens[position][1] not in ("|", ")"):
                kind, text = tokens[position]
                if text == "(":
                    value, position = self._commands(tokens, position + 1, dot, root)
                    if position >= len(tokens) or tokens[position][1] != ")":
                        raise TemplateError("unbalanced parentheses")
                    operands.append(("value", value))
                else:
                    operands.append((kind, text))
                position += 1
            if not operands:
                raise TemplateError("empty command")
            head_kind, head = operands[0]
            if head_kind == "ident" and head not in ("true", "false", "nil"):
                args = [self._operand(k, t, dot, root) for k, t in operands[1:]] + piped
                result = self._call(head, args, dot, root)
            else:
                if len(operands) != 1 or piped:
                    raise TemplateError(f"cannot apply arguments to {head}")
                result = self._operand(head_kind, head, dot, root)
            piped = [result]
            if position < len(tokens) and tokens[position][1] == "|":
                position += 1
                continue
            return result, position

    def _call(self, name: str, args: list[Any], dot: Any, root: Any) -> Any:
        if name == "include":
            template, context = args
            if template not in self.defines:
                raise TemplateError(f"no template named {template!r}")
            return self._run(self.defines[template], context, root)
        if name not in FUNCTIONS:
            raise TemplateError(f"function {name!r} is not supported by the test renderer")
        return FUNCTIONS[name](*args)

    def _operand(self, kind: str, text: Any, dot: Any, root: Any) -> Any:
        if kind == "value":
            return text
        if kind == "str":
            return _literal(text)
        if kind == "num":
            return float(text) if "." in text else int(text)
        if kind == "ident":
            return {"true": True, "false": False, "nil": None}[text]
        base, path = (root, text[1:]) if text.startswith("$") else (dot, text)
        value = base
        for part in [p for p in path.split(".") if p]:
            if not isinstance(value, dict):
                raise TemplateError(f"{text}: {part} of a non-map")
            value = value.get(part)
        return value


def _merge(base: Any, override: Any) -> Any:
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = _merge(base.get(key), value)
        return merged
    return override
