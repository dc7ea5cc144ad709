"""The `offset`/`limit` query of every list route and the count keys its answer adds."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from ..services.kit.paging import MAX_PAGE_SIZE, Page
from ..services.kit.references import MAX_ID
from .uris import uri_maker


class PageQuery(BaseModel):
    offset: int = Field(0, ge=0, le=MAX_ID, description="How many items to skip (ordered by id)")
    limit: int | None = Field(
        None,
        ge=0,
        description=f"How many items to return; at most {MAX_PAGE_SIZE} (the default), larger "
        "values are reduced to it",
    )


class PageInfo(BaseModel):
    offset: int = Field(description="The offset this page starts at")
    limit: int = Field(description="The limit applied to this page")


def page_keys(page: Page[Any], name: str) -> dict[str, Any]:
    """The keys added to a list answer: `total_<name>`, `offset` and `limit`."""
    return {f"total_{name}": page.total, "offset": page.offset, "limit": page.limit}


def url_page(page: Page[Any], name: str, *, endpoint: str, argument: str) -> dict[str, Any]:
    """A list answer of object URLs: `{name: [url, ...]}` and the page's count keys."""
    uri = uri_maker(endpoint, argument)
    return {name: [uri(key) for key in page.items], **page_keys(page, name)}
