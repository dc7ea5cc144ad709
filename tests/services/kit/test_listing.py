from sqlalchemy import select

from taskmanager.models import Tag
from taskmanager.services.kit import listing


def test_clamp() -> None:
    assert listing.clamp(None, None) == (0, listing.MAX_LIMIT)
    assert listing.clamp(-5, 10**9) == (0, listing.MAX_LIMIT)
    assert listing.clamp(3, 0) == (3, 0)


def test_page_counts_without_loading(session) -> None:
    session.add_all([Tag(name=f"t{i}") for i in range(7)])
    session.commit()
    query = select(Tag.name).order_by(Tag.id)
    page = listing.page(session, query, offset=5, limit=10)
    assert (page.items, page.total) == (["t5", "t6"], 7)
    assert listing.page(session, query, offset=100).items == []
    assert listing.page(session, query, limit=0).total == 7
