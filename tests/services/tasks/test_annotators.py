"""Per-annotator progress: counts per user, shares against weights, behind and idle, visibility."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update

from taskmanager.models import Task, task_users
from taskmanager.services.tasks import annotators

from ...web.seed import STUDY, seed, seed_study


def _by_name(rows: list[annotators.AnnotatorRow]) -> dict[str, annotators.AnnotatorRow]:
    return {row.username: row for row in rows}


def test_the_study_names_the_one_who_is_behind(session: Any) -> None:
    world = seed(session)
    study = seed_study(session)
    rows = _by_name(annotators.list_annotators(session, viewer=world.admin, project=STUDY))
    assert set(rows) == {"dora", "emil", "finn"}
    assert [name for name, row in rows.items() if row.behind] == ["finn"]
    dora, emil, finn = rows["dora"], rows["emil"], rows["finn"]
    assert (dora.assigned, dora.open, dora.done) == (20, 4, 16)
    assert (finn.assigned, finn.open, finn.done) == (5, 3, 2)
    assert dora.expected_share == 0.5 and emil.expected_share == 0.25
    assert finn.actual_share == 2 / 28
    # dora and emil did some today; finn's last work was 13 days ago and he still has some.
    assert [name for name, row in rows.items() if row.idle] == ["finn"]
    assert finn.last_activity is not None
    assert finn.last_activity.date() == study.today - timedelta(days=13)
    # Done in the last 7 days (the seven days back from now): dora one a day.
    assert dora.done_recent in (7, 8)


def test_behind_needs_enough_done_work_and_a_share_under_half_the_expected(session: Any) -> None:
    def row(name: str, weight: float, done: int) -> annotators.AnnotatorRow:
        return annotators.AnnotatorRow(1, name, None, True, weight, done=done)

    # Expected a half; 4 of 10 is 0.4 (not behind), 2 of 10 is 0.2 (< 0.25: behind).
    keeping_up = [row("a", 1, 4), row("b", 1, 6)]
    annotators._judge_shares(keeping_up)
    assert not any(r.behind for r in keeping_up)
    lagging = [row("a", 1, 2), row("b", 1, 8)]
    annotators._judge_shares(lagging)
    assert [r.username for r in lagging if r.behind] == ["a"]
    # Below MIN_DONE_FOR_SHARES done in all, nobody is judged.
    few = [row("a", 1, 0), row("b", 1, 9)]
    annotators._judge_shares(few)
    assert not any(r.behind for r in few)
    # Weight 0 expects nothing; a deactivated user's weight counts for nobody.
    resting = [row("a", 0, 0), row("b", 1, 10)]
    annotators._judge_shares(resting)
    assert resting[0].expected_share == 0 and not resting[0].behind
    assert resting[1].expected_share == 1


def test_counts_of_the_small_seed_and_locks(session: Any) -> None:
    world = seed(session)
    rows = _by_name(annotators.list_annotators(session, viewer=world.admin))
    # alice: three tasks directly, one done, one locked by her; bob: one direct and two of the
    # task group (the group's task reaches him through the group and is not counted).
    assert (rows["alice"].assigned, rows["alice"].open, rows["alice"].done) == (3, 2, 1)
    assert (rows["alice"].locked, rows["alice"].oldest_lock is not None) == (1, True)
    assert (rows["bob"].assigned, rows["bob"].open, rows["bob"].locked) == (3, 3, 0)
    assert rows["carol"].done == 1
    brain = _by_name(annotators.list_annotators(session, viewer=world.admin, project="brain-study"))
    assert set(brain) == {"alice", "bob"}
    assert brain["bob"].assigned == 2


def test_a_plain_user_sees_only_their_own_row_without_shares(session: Any) -> None:
    world = seed(session)
    seed_study(session)
    rows = annotators.list_annotators(session, viewer=world.alice)
    assert [(r.username, r.assigned, r.expected_share, r.behind) for r in rows] == [
        ("alice", 3, None, False)
    ]
    # Alice is no member of readers: nobody there for her.
    assert annotators.list_annotators(session, viewer=world.alice, group=world.readers) == []
    assert [
        r.username
        for r in annotators.list_annotators(session, viewer=world.bob, group=world.readers)
    ] == ["bob"]


def test_a_group_lists_every_member_even_without_work(session: Any) -> None:
    world = seed(session)
    from taskmanager.services.accounts import groups

    groups.add_member(session, group=world.readers, user=world.carol)
    session.commit()
    rows = _by_name(annotators.list_annotators(session, viewer=world.manager, group=world.readers))
    assert set(rows) == {"bob", "carol"}
    assert rows["carol"].done == 1 and rows["bob"].done == 0


def test_a_task_done_and_reopened_is_not_counted_done(session: Any) -> None:
    world = seed(session)
    session.execute(update(Task).where(Task.id == world.tasks[5].id).values(status="queued"))
    session.commit()
    rows = _by_name(annotators.list_annotators(session, viewer=world.admin))
    assert rows["carol"].done == 0 and rows["carol"].open == 1


def test_idle_is_open_work_without_activity_for_idle_days(session: Any) -> None:
    now = datetime(2026, 3, 10, 12, tzinfo=UTC)
    quiet = annotators.AnnotatorRow(
        1, "q", None, True, 1, open=1, last_done=now - timedelta(days=4)
    )
    busy = annotators.AnnotatorRow(
        2, "b", None, True, 1, open=1, newest_lock=now - timedelta(days=1)
    )
    never = annotators.AnnotatorRow(3, "n", None, True, 1, locked=1)
    free = annotators.AnnotatorRow(4, "f", None, True, 1, last_done=now - timedelta(days=40))
    annotators._judge_idleness([quiet, busy, never, free], now)
    assert [r.username for r in (quiet, busy, never, free) if r.idle] == ["q", "n"]


def test_rows_sort_by_any_column_with_missing_values_last(session: Any) -> None:
    world = seed(session)
    seed_study(session)
    rows = annotators.list_annotators(session, viewer=world.admin, project=STUDY, sort="-done")
    assert [r.username for r in rows] == ["dora", "emil", "finn"]
    rows = annotators.list_annotators(session, viewer=world.admin, sort="oldest_lock")
    assert rows[0].username == "alice"  # the only lock; the others have none
    for key in annotators.ANNOTATOR_SORTS:
        for sort in (key, "-" + key):
            assert len(annotators.list_annotators(session, viewer=world.admin, sort=sort)) == 6
    assert annotators.sort_rows(rows, "nonsense") == annotators.sort_rows(rows, "username")


def test_work_on_tasks_the_viewer_no_longer_sees_is_left_out_of_their_own_row(
    session: Any,
) -> None:
    world = seed(session)
    # Carol did task 5 and holds a lock on task 3; then both stop being hers.
    locked = world.tasks[3]
    session.execute(update(Task).where(Task.id == locked.id).values(lock_id=world.carol.id))
    session.execute(
        task_users.delete().where(
            task_users.c.task_id.in_([world.tasks[5].id]), task_users.c.user_id == world.carol.id
        )
    )
    session.commit()
    (own,) = annotators.list_annotators(session, viewer=world.carol)
    assert (own.username, own.done, own.locked, own.assigned) == ("carol", 0, 0, 0)
    everyone = _by_name(annotators.list_annotators(session, viewer=world.admin))
    assert (everyone["carol"].done, everyone["carol"].locked) == (1, 1)
