"""Meta variables rendered into task content when read, now and at a point in time."""

from __future__ import annotations

from sqlalchemy import update

from taskmanager.models import Meta, Task, db
from taskmanager.services.metadata import rendering

from ...support.task_factories import make_task, make_template, set_meta


def test_render_follows_safe_substitute() -> None:
    values = {"HOST": "http://x", "ID": "7"}
    assert rendering.render("$HOST/a/${ID}b", values) == "http://x/a/7b"
    assert rendering.render("$UNKNOWN and ${ALSO}", values) == "$UNKNOWN and ${ALSO}"
    assert rendering.render("cost $$5, lone $ sign", values) == "cost $5, lone $ sign"
    assert rendering.render("no variables", values) == "no variables"
    assert rendering.render_optional(None, values) is None


def test_current_values_are_read_once_per_transaction(session) -> None:
    set_meta(session, "HOST", "old")
    session.commit()
    assert rendering.current_values(session) == {"HOST": "old"}
    # Changed behind this session's back: the remembered values stay until the transaction ends.
    with db.engine.begin() as connection:
        connection.execute(update(Meta).values(value="new"))
    assert rendering.current_values(session) == {"HOST": "old"}
    session.commit()
    assert rendering.current_values(session) == {"HOST": "new"}
    rendering.forget(session)
    assert rendering.current_values(session) == {"HOST": "new"}


def test_changing_a_meta_value_rewrites_no_task(session) -> None:
    make_template(session, "tpl")
    set_meta(session, "HOST", "http://one")
    task = make_task(session, content="$HOST/scan")
    session.commit()
    before = (task.raw_content, task.update_time)
    set_meta(session, "HOST", "http://two")
    session.commit()
    session.expire_all()
    task = session.get(Task, task.id)
    assert (task.raw_content, task.update_time) == before
    assert rendering.render(task.raw_content, rendering.current_values(session)) == (
        "http://two/scan"
    )
