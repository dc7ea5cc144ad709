from sqlalchemy import select

from taskmanager.models import Tag
from taskmanager.services.kit import paging


def test_clamp() -> None:
    assert paging.clamp(None, None) == (0, paging.MAX_PAGE_SIZE)
    assert paging.clamp(-5, 10**9) == (0, paging.MAX_PAGE_SIZE)
    assert paging.clamp(3, 0) == (3, 0)


def test_page_counts_without_loading(session) -> None:
    session.add_all([Tag(name=f"t{i}") for i in range(7)])
    session.commit()
    query = select(Tag.name).order_by(Tag.id)
    page = paging.page(session, query, offset=5, limit=10)
    assert (page.items, page.total) == (["t5", "t6"], 7)
    assert paging.page(session, query, offset=100).items == []
    assert paging.page(session, query, limit=0).total == 7


def test_the_caps() -> None:
    """Lists stop at 1,000 rows a page, task lists (read whole by the official client) at 10,000."""
    assert (paging.MAX_PAGE_SIZE, paging.MAX_TASK_PAGE_SIZE) == (1000, 10_000)
    cap = paging.MAX_TASK_PAGE_SIZE
    assert paging.clamp(None, None, cap=cap) == (0, cap)
    assert paging.clamp(0, 10**9, cap=cap) == (0, cap)
    assert paging.clamp(7, 5000, cap=cap) == (7, 5000)
    assert paging.clamp(0, -1, cap=cap) == (0, 0)


def test_page_reads_rows_and_takes_a_known_total(session) -> None:
    session.add_all([Tag(name=f"t{i}") for i in range(3)])
    session.commit()
    query = select(Tag.id, Tag.name).order_by(Tag.id)
    page = paging.page(session, query, limit=2, scalars=False)
    assert [name for _id, name in page.items] == ["t0", "t1"]
    assert (page.offset, page.limit) == (0, 2)
    assert paging.page(session, query, total=2, offset=2).items == []
    assert paging.page(session, query, limit=10**6, cap=2).limit == 2


def test_keyset_form_selects_the_rows_after_an_id(session) -> None:
    session.add_all([Tag(name=f"t{i}") for i in range(5)])
    session.commit()
    ids = list(session.scalars(select(Tag.id).order_by(Tag.id)))
    query = select(Tag.id).order_by(Tag.id)
    assert list(session.scalars(paging.after(query, Tag.id, None))) == ids
    assert list(session.scalars(paging.after(query, Tag.id, ids[1]))) == ids[2:]
    walked: list[int] = []
    while page := paging.page(
        session, paging.after(query, Tag.id, walked[-1] if walked else None), limit=2
    ).items:
        walked += page
    assert walked == ids


def test_page_arithmetic_of_numbered_pages() -> None:
    """What the web's pager shows: page numbers, their count, and the rows a page spans."""
    middle = paging.Page(items=[], total=120, offset=paging.offset_of(2, 50), limit=50)
    assert (middle.offset, middle.number, middle.pages) == (50, 2, 3)
    assert (middle.first, middle.last, middle.has_prev, middle.has_next) == (51, 100, True, True)
    last = paging.Page(items=[], total=120, offset=100, limit=50)
    assert (last.first, last.last, last.has_next) == (101, 120, False)
    empty = paging.Page(items=[], total=0, offset=0, limit=50)
    assert (empty.pages, empty.first, empty.last, empty.has_prev, empty.has_next) == (
        1,
        0,
        0,
        False,
        False,
    )
    assert paging.offset_of(0, 25) == paging.offset_of(1, 25) == 0
    assert middle.with_items(["a"]) == paging.Page(["a"], 120, 50, 50)
