"""Counts in messages ("1 task", "2 tasks"), said one way by the commands and the web pages."""

from __future__ import annotations


def counted(count: int, singular: str, plural: str | None = None) -> str:
    """`count` and the noun in the number it needs; `plural` when it is not singular + "s"."""
    return f"{count} {singular if count == 1 else (plural or singular + 's')}"
