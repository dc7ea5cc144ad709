import threading
import time

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from taskmanager.models import Tag, db
from taskmanager.services.kit.errors import Conflict, InvalidInput
from taskmanager.services.reference import tags


def test_create_rename_delete(session) -> None:
    tag = tags.create(session, name="urgent")
    session.commit()
    tags.update(session, tag=tag, name="later")
    session.commit()
    session.expire_all()
    assert session.get(Tag, tag.id).name == "later"
    assert tags.get_by_reference(session, reference="later").id == tag.id
    tags.delete(session, tag=tag)
    session.commit()
    assert tags.get_by_reference(session, reference="later") is None


def test_names_are_checked(session) -> None:
    tags.create(session, name="urgent")
    session.commit()
    with pytest.raises(Conflict):
        tags.create(session, name="urgent")
    for bad in ("", "x" * 33, None, 5):
        with pytest.raises(InvalidInput):
            tags.create(session, name=bad)


def test_get_or_create_many_keeps_order_and_reuses_existing(session) -> None:
    existing = tags.create(session, name="b")
    session.commit()
    got = tags.get_or_create_many(session, names=["c", "b", "a", "c"])
    session.commit()
    assert [tag.name for tag in got] == ["c", "b", "a"]
    assert got[1].id == existing.id
    assert session.scalar(select(func.count()).select_from(Tag)) == 3
    assert tags.get_or_create_many(session, names=[]) == []
    with pytest.raises(InvalidInput) as error:
        tags.get_or_create_many(session, names=["ok", "x" * 40])
    assert "tags" in error.value.errors
    with pytest.raises(InvalidInput):
        tags.get_or_create_many(session, names="abc")


def test_get_or_create_many_reads_in_slices(session, monkeypatch) -> None:
    """Names are looked up in slices (PostgreSQL takes 65,535 bound parameters per statement)."""
    monkeypatch.setattr(tags, "NAMES_PER_QUERY", 2)
    tags.create(session, name="c")
    names = ["e", "d", "c", "b", "a"]
    assert [tag.name for tag in tags.get_or_create_many(session, names=names)] == names


def test_tag_filters_are_limited() -> None:
    tags.check_filters([f"t{i}" for i in range(tags.FILTERS_MAX)])
    for too_many in ([f"t{i}" for i in range(tags.FILTERS_MAX + 1)], ["t"] * 1000):
        with pytest.raises(InvalidInput) as error:
            tags.check_filters(too_many)
        assert "tag" in error.value.errors


def test_get_or_create_many_is_safe_when_two_transactions_make_the_same_tag(app) -> None:
    """The second transaction waits for (or finds) the first one's row instead of failing."""
    with app.app_context():
        first = Session(db.engine)
        second_result: list[int] = []
        errors: list[BaseException] = []
        first_ids = [tag.id for tag in tags.get_or_create_many(first, names=["shared", "one"])]

        def second() -> None:
            with app.app_context():
                other = Session(db.engine)
                try:
                    found = tags.get_or_create_many(other, names=["shared", "two"])
                    other.commit()
                    second_result.append(found[0].id)
                except BaseException as error:  # reported in the main thread
                    errors.append(error)
                finally:
                    other.close()

        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(0.3)  # let the second transaction reach the row the first one holds
        first.commit()
        first.close()
        thread.join(timeout=60)
        assert not errors, errors
        assert second_result == [first_ids[0]]
        check = Session(db.engine)
        try:
            names = sorted(check.scalars(select(Tag.name)))
        finally:
            check.close()
        assert names == ["one", "shared", "two"]
