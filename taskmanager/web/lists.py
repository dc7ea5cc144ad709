"""Paging and sorting of list pages, read from and written back into the query string."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask import flash, render_template, request, url_for

from ..services.kit import paging

PER_PAGE_CHOICES = (25, 50, 100)
DEFAULT_PER_PAGE = 50


def _url(**changes: Any) -> str:
    """The current page's URL with some query arguments changed (None removes one)."""
    args: dict[str, Any] = request.args.to_dict(flat=False)
    for name, value in changes.items():
        if value is None:
            args.pop(name, None)
        else:
            args[name] = [str(value)]
    assert request.endpoint is not None
    return url_for(request.endpoint, **(request.view_args or {}), **args)


def _int_arg(name: str, default: int) -> int:
    try:
        return int(request.args.get(name, default))
    except ValueError:
        return default


@dataclass
class Pager:
    """Page `page` (from 1) of `per_page` rows, asked for in the query string; `shown` is the
    page the list answered (its total and arithmetic: `paging.Page`)."""

    page: int
    per_page: int
    shown: paging.Page[Any] = field(default_factory=lambda: paging.Page([], 0))

    @classmethod
    def from_request(cls, choices: Sequence[int] = PER_PAGE_CHOICES) -> Pager:
        """The page asked for; a page size not among `choices` is refused with a message."""
        asked = request.args.get("per_page", "")
        per_page = _int_arg("per_page", DEFAULT_PER_PAGE)
        if per_page not in choices or (asked and not asked.strip().isdigit()):
            if asked:
                allowed = ", ".join(str(n) for n in choices)
                flash(
                    f"Rows per page (per_page) must be one of {allowed}; "
                    f"showing {DEFAULT_PER_PAGE}.",
                    "error",
                )
            per_page = DEFAULT_PER_PAGE
        return cls(page=max(_int_arg("page", 1), 1), per_page=per_page)

    @property
    def past_last(self) -> bool:
        """Whether the page asked for lies past the last page of a list that has rows."""
        return self.total > 0 and self.page > self.pages

    @property
    def offset(self) -> int:
        return paging.offset_of(self.page, self.per_page)

    def show(self, page: paging.Page[Any]) -> None:
        self.shown = page

    @property
    def total(self) -> int:
        return self.shown.total

    @property
    def pages(self) -> int:
        return self.shown.pages

    @property
    def has_prev(self) -> bool:
        return self.shown.has_prev

    @property
    def has_next(self) -> bool:
        return self.shown.has_next

    @property
    def first(self) -> int:
        return self.shown.first

    @property
    def last(self) -> int:
        return self.shown.last

    def window(self, around: int = 2) -> list[int | None]:
        """Page numbers to link: the first, the last and a few around this one (None is a gap)."""
        wanted = {1, self.pages, *range(self.page - around, self.page + around + 1)}
        numbers = sorted(n for n in wanted if 1 <= n <= self.pages)
        shown: list[int | None] = []
        for number in numbers:
            if shown and number - (shown[-1] or 0) > 1:
                shown.append(None)
            shown.append(number)
        return shown

    def url(self, page: int) -> str:
        return _url(page=page if page > 1 else None)


@dataclass
class Sorter:
    """`?sort=key` or `?sort=-key` (descending), restricted to the keys a list offers.

    A second sortable table on a page reads its own `parameter`, so that sorting one never
    reorders (or re-pages) the other.
    """

    key: str
    descending: bool
    parameter: str = "sort"

    @classmethod
    def from_request(cls, keys: Sequence[str], default: str, parameter: str = "sort") -> Sorter:
        raw = request.args.get(parameter, default)
        descending = raw.startswith("-")
        key = raw.lstrip("-")
        if key not in keys:
            descending, key = default.startswith("-"), default.lstrip("-")
        return cls(key=key, descending=descending, parameter=parameter)

    @property
    def value(self) -> str:
        return ("-" if self.descending else "") + self.key

    def url(self, key: str) -> str:
        """Sort by `key`; a second click on the active key reverses the order."""
        descending = not self.descending if key == self.key else False
        changes: dict[str, Any] = {self.parameter: ("-" if descending else "") + key}
        if self.parameter == "sort":
            changes["page"] = None  # the list's pager starts again
        return _url(**changes)


def render_list(
    template: str,
    *,
    title: str,
    fetch: Callable[..., Any],
    sorts: Sequence[str],
    default_sort: str,
    filters: Sequence[str] = (),
    **context: Any,
) -> str:
    """A list page: the search box and the named filters from the query string, one sorted page.

    `fetch(filters, sort=..., offset=..., limit=...)` returns the page (items and total).
    """
    pager = Pager.from_request()
    sorter = Sorter.from_request(sorts, default_sort)
    shown = {"q": request.args.get("q", "").strip()}
    shown.update({name: request.args.get(name, "") for name in filters})
    page = fetch(shown, sort=sorter.value, offset=pager.offset, limit=pager.per_page)
    pager.show(page)
    return render_template(
        template,
        title=title,
        rows=page.items,
        pager=pager,
        sorter=sorter,
        filters=shown,
        **context,
    )
