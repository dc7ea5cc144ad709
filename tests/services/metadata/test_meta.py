from datetime import timedelta

import pytest
from sqlalchemy import event, func, select

from taskmanager.models import MetaHistory, Task, TaskTemplate, db, utcnow
from taskmanager.services.kit.errors import Conflict, InvalidInput
from taskmanager.services.metadata import meta


def test_create_starts_the_history(session) -> None:
    variable = meta.create(session, label="XNAT", value="http://a")
    session.commit()
    assert [(h.value) for h in variable.history] == ["http://a"]
    with pytest.raises(Conflict):
        meta.create(session, label="XNAT", value="x")


@pytest.mark.parametrize("label", ["", "1abc", "has-dash", "has space", "x" * 65])
def test_labels_must_work_as_variables(session, label) -> None:
    with pytest.raises(InvalidInput) as error:
        meta.create(session, label=label, value="v")
    assert "label" in error.value.errors


def test_values_are_text(session) -> None:
    assert meta.create(session, label="n", value=3).value == "3"
    assert meta.create(session, label="b", value=True).value == "true"
    assert meta.create(session, label="e", value="").value == ""
    with pytest.raises(InvalidInput):
        meta.create(session, label="x", value=None)
    with pytest.raises(InvalidInput):
        meta.create(session, label="y", value="a\x00b")


def test_a_value_change_writes_two_rows_and_never_touches_tasks(session) -> None:
    variable = meta.create(session, label="XNAT", value="http://a")
    template = TaskTemplate(label="t", content="{}")
    session.add_all(
        [Task(project="p", raw_content='{"u": "$XNAT"}', template=template) for _ in range(20)]
    )
    session.commit()
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement.upper())

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        meta.update(session, meta=variable, value="http://b")
        session.commit()
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    writes = [s for s in statements if s.lstrip().startswith(("INSERT", "UPDATE", "DELETE"))]
    assert len(writes) == 2
    assert not any("TASKS" in s for s in statements)
    assert [h.value for h in variable.history] == ["http://a", "http://b"]


def test_unchanged_value_adds_no_history(session) -> None:
    variable = meta.create(session, label="XNAT", value="same")
    meta.update(session, meta=variable, value="same")
    session.commit()
    assert session.scalar(select(func.count()).select_from(MetaHistory)) == 1


def test_values_at_a_time(session) -> None:
    variable = meta.create(session, label="A", value="old")
    session.commit()
    history = variable.history[0]
    history.timestamp = utcnow() - timedelta(hours=2)
    session.commit()
    meta.update(session, meta=variable, value="new")
    meta.create(session, label="B", value="b")
    session.commit()
    assert meta.values_at(session, timestamp=utcnow() - timedelta(hours=1)) == {"A": "old"}
    assert meta.values_at(session, timestamp=utcnow()) == {"A": "new", "B": "b"}
    assert meta.current_values(session) == {"A": "new", "B": "b"}
