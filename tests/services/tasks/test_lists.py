"""Lists of tasks: visibility, filters, pages and totals, links and history."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from taskmanager.models import Task, User
from taskmanager.services.accounts import groups
from taskmanager.services.flows import task_changes
from taskmanager.services.kit import paging
from taskmanager.services.kit.errors import Forbidden, NotFound
from taskmanager.services.reference import tags
from taskmanager.services.tasks import details
from taskmanager.services.tasks import lists as task_lists
from taskmanager.services.tasks import visibility as task_visibility

from ...support.task_factories import build_world, make_group, make_task, make_user


@pytest.fixture(autouse=True, params=["ids-as-a-set", "row-by-row"])
def strategy(request, monkeypatch) -> str:
    """Run every list test with both ways of checking membership (see services.tasks.lists)."""
    threshold = 10**9 if request.param == "ids-as-a-set" else 0
    monkeypatch.setattr(task_lists, "SET_BASED_MAX", threshold)
    return str(request.param)


@pytest.fixture
def admin(session) -> User:
    return session.scalars(select(User).where(User.username == "admin")).one()


@pytest.fixture
def world(session, admin):
    return build_world(session, admin)


def _ids(page: task_lists.Page) -> list[int]:
    return [item.id for item in page.items]


def test_users_list_only_their_tasks(session, world) -> None:
    t1, t2, t3, t4 = world["tasks"]
    assert _ids(task_lists.list_page(session, viewer=world["alice"])) == [t1, t2]
    # `user` is ignored without task_read_all.
    assert _ids(
        task_lists.list_page(session, viewer=world["alice"], filters=task_lists.Filters(user="bob"))
    ) == [t1, t2]
    assert _ids(task_lists.list_page(session, viewer=world["bob"])) == [t3]
    assert _ids(task_lists.list_page(session, viewer=world["admin"])) == [t1, t2, t3, t4]
    assert _ids(
        task_lists.list_page(session, viewer=world["sue"], filters=task_lists.Filters(user="alice"))
    ) == [t1, t2]
    assert (
        _ids(
            task_lists.list_page(
                session, viewer=world["sue"], filters=task_lists.Filters(user="nobody")
            )
        )
        == []
    )


def test_list_filters_combine(session, world) -> None:
    t1, t2, t3, t4 = world["tasks"]
    admin = world["admin"]

    def ids(**filters) -> list[int]:
        return _ids(
            task_lists.list_page(session, viewer=admin, filters=task_lists.Filters(**filters))
        )

    assert ids(project="p1") == [t1, t3]
    assert ids(template="other") == [t3]
    assert ids(template="nope") == []
    assert ids(tags=["x"]) == [t1, t2]
    assert ids(tags=["x", "y"]) == [t1]
    assert ids(tags=["x", "unknown"]) == []
    assert ids(application_name="viewr") == [t2]
    assert ids(project="p2", tags=["y"]) == [t4]
    task_changes.set_status(session, task=session.get(Task, t4), status="done", actor=admin)
    assert ids(status="done") == [t4]
    assert ids(status="queued") == [t1, t2, t3]


def test_pages_and_totals(session, world) -> None:
    t1, t2, t3, t4 = world["tasks"]
    admin = world["admin"]
    page = task_lists.list_page(session, viewer=admin, offset=1, limit=2)
    assert (_ids(page), page.total, page.offset, page.limit) == ([t2, t3], 4, 1, 2)
    page = task_lists.list_page(session, viewer=admin, offset=3, limit=2)
    assert (_ids(page), page.total) == ([t4], 4)
    page = task_lists.list_page(session, viewer=admin, offset=10, limit=2)
    assert (_ids(page), page.total) == ([], 4)
    page = task_lists.list_page(session, viewer=admin, limit=0)
    assert (_ids(page), page.total) == ([], 4)
    page = task_lists.list_page(session, viewer=admin, limit=10**9)
    assert page.limit == paging.MAX_TASK_PAGE_SIZE and page.total == 4
    assert task_lists.list_page(session, viewer=admin).limit == paging.MAX_TASK_PAGE_SIZE


@pytest.mark.parametrize("viewer", ["admin", "alice"])
def test_keyset_pages_hold_what_offset_pages_hold(session, world, viewer) -> None:
    """Walking a list with after_id (the last id seen) gives the ids offsets give."""

    def walk(size: int, *, keyset: bool, **filters) -> list[int]:
        seen: list[int] = []
        while True:
            after = {"after_id": seen[-1] if seen else None} if keyset else {"offset": len(seen)}
            page = task_lists.list_page(
                session,
                viewer=world[viewer],
                filters=task_lists.Filters(**filters),
                limit=size,
                **after,
            )
            assert (
                page.total
                == task_lists.list_page(
                    session, viewer=world[viewer], filters=task_lists.Filters(**filters), limit=0
                ).total
            )
            if not page.items:
                return seen
            seen += _ids(page)

    for size in (1, 2, 3):
        for filters in ({}, {"tags": ["x"]}, {"project": "p1"}):
            assert walk(size, keyset=True, **filters) == walk(size, keyset=False, **filters)
    everything = walk(10, keyset=False)
    page = task_lists.list_page(session, viewer=world[viewer], after_id=everything[0], offset=1)
    assert (_ids(page), page.after_id, page.offset) == (everything[2:], everything[0], 1)


def test_totals_of_users_with_groups_and_direct_tasks(session, world) -> None:
    """Each way of counting a user's tasks (one group only, direct only, overlaps) is exact."""
    t1, t2, t3, t4 = world["tasks"]
    carol, dave, erin = (make_user(session, name) for name in ("carol", "dave", "erin"))
    make_group(session, "solo", [carol, erin])
    make_group(session, "pair", [erin])
    only_group = make_task(session, groups=["solo"])
    in_both = make_task(session, groups=["solo", "pair"])
    direct_and_group = make_task(session, users=["erin"], groups=["pair"])
    make_task(session, users=["dave"])
    session.flush()

    def total(user: User) -> int:
        return task_lists.list_page(session, viewer=user, limit=0).total

    assert total(carol) == 2  # one group, nothing direct
    assert total(dave) == 1  # direct only
    assert total(erin) == 3  # two groups and a direct task, each counted once
    assert _ids(task_lists.list_page(session, viewer=erin)) == [
        only_group.id,
        in_both.id,
        direct_and_group.id,
    ]
    assert total(world["alice"]) == 2  # t1 direct, t2 via her group


def test_large_totals_are_reused_for_a_while(session, world) -> None:
    """A CountCache keeps totals of at least min_count for ttl seconds, per list; not smaller ones."""
    alice, admin = world["alice"], world["admin"]
    counts = task_lists.CountCache(ttl_seconds=3600, min_count=2)
    assert task_lists.list_page(session, viewer=alice, counts=counts).total == 2
    assert (
        task_lists.list_page(
            session, viewer=admin, filters=task_lists.Filters(project="p1"), counts=counts
        ).total
        == 2
    )
    assert (
        task_lists.list_page(
            session, viewer=admin, filters=task_lists.Filters(project="p2"), counts=counts
        ).total
        == 2
    )
    make_task(session, users=["alice", "admin"], project="p1")
    session.flush()
    # Remembered per list: alice's and the p1 list answer the earlier totals...
    assert task_lists.list_page(session, viewer=alice, counts=counts).total == 2
    assert (
        task_lists.list_page(
            session, viewer=admin, filters=task_lists.Filters(project="p1"), counts=counts
        ).total
        == 2
    )
    # ...while the page itself is always read afresh, and other lists count anew.
    assert len(task_lists.list_page(session, viewer=alice, counts=counts).items) == 3
    assert task_lists.list_page(session, viewer=admin, counts=counts).total == 5
    assert (
        task_lists.list_page(session, viewer=admin, filters=task_lists.Filters(project="p1")).total
        == 3
    )

    small = task_lists.CountCache(ttl_seconds=3600, min_count=100)
    assert task_lists.list_page(session, viewer=alice, counts=small).total == 3
    make_task(session, users=["alice"])
    session.flush()
    assert task_lists.list_page(session, viewer=alice, counts=small).total == 4

    off = task_lists.CountCache(ttl_seconds=0, min_count=1)
    assert task_lists.list_page(session, viewer=alice, counts=off).total == 4
    make_task(session, users=["alice"])
    session.flush()
    assert task_lists.list_page(session, viewer=alice, counts=off).total == 5


def test_summaries_carry_tags_in_id_order(session, world) -> None:
    page = task_lists.list_page(session, viewer=world["admin"], limit=1)
    (item,) = page.items
    assert [name for _, name in item.tags] == ["x", "y"]
    assert (item.status, item.project) == ("queued", "p1")


def test_user_group_and_tag_lists(session, world) -> None:
    t1, t2, t3, t4 = world["tasks"]
    alice, bob, admin = world["alice"], world["bob"], world["admin"]
    assert _ids(task_lists.list_for_user(session, viewer=alice, user=alice)) == [t1, t2]
    assert _ids(task_lists.list_for_user(session, viewer=admin, user=bob)) == [t3]
    with pytest.raises(Forbidden):
        task_lists.list_for_user(session, viewer=alice, user=bob)
    team = groups.get_or_raise(session, reference="team")
    assert _ids(task_lists.list_for_group(session, viewer=alice, group=team)) == [t2]
    assert _ids(task_lists.list_for_group(session, viewer=world["sue"], group=team)) == [t2]
    with pytest.raises(Forbidden):
        task_lists.list_for_group(session, viewer=bob, group=team)
    x = tags.get_or_raise(session, reference="x")
    assert _ids(task_lists.list_for_tag(session, viewer=admin, tag=x)) == [t1, t2]
    assert _ids(task_lists.list_for_tag(session, viewer=bob, tag=x)) == []
    with pytest.raises(NotFound):
        tags.get_or_raise(session, reference="nope")


def test_visibility_of_one_task(session, world) -> None:
    t1, t2, t3, _ = world["tasks"]
    alice = world["alice"]
    assert task_visibility.get_visible_or_raise(session, task_id=t2, user=alice).id == t2
    for hidden in (t3, "abc", 0, 2**40, -1):
        with pytest.raises(NotFound):
            task_visibility.get_visible_or_raise(session, task_id=hidden, user=alice)


def test_links_of_a_task(session, world) -> None:
    t1, t2, *_ = world["tasks"]
    links = details.links(session, task_ids=[t1, t2])
    alice = world["alice"]
    assert links[t1].users == [alice.id] and links[t1].groups == []
    assert len(links[t1].tags) == 2
    assert links[t2].users == [] and len(links[t2].groups) == 1
    assert links[t2].users_via_group == [alice.id]
