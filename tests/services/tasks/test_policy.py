"""Project policies: each reader rule holds for automatic assignment, group distribution and
claims; a dry run shows the split and stores nothing."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from taskmanager.models import SubjectReader, Task, User, task_users, utcnow
from taskmanager.services.dispensing import claims, locks, reader_rules
from taskmanager.services.kit.errors import Forbidden, InvalidInput
from taskmanager.services.tasks import creation, policy

from ...support.task_factories import make_group, make_task, make_template, make_user

PROJECT = "READER-STUDY"


def _admin(session: Any) -> User:
    return make_user(session, "pol-admin", roles=("admin",), weight=0.0)


def _readers(session: Any, count: int = 3, **weights: float) -> tuple[list[User], Any]:
    readers = [
        make_user(session, f"reader{index}", weight=weights.get(f"reader{index}", 1.0))
        for index in range(count)
    ]
    return readers, make_group(session, "readers", readers)


def _specs(group: Any, *rows: dict[str, Any]) -> list[creation.NewTask]:
    return [
        creation.NewTask(
            project=PROJECT,
            template="tpl",
            content={"case": index},
            distribute_in_group=group.id,
            **row,
        )
        for index, row in enumerate(rows)
    ]


def _create(session: Any, admin: User, group: Any, *rows: dict[str, Any]) -> list[Any]:
    return creation.create_many(session, specs=_specs(group, *rows), actor=admin)


@pytest.fixture
def study(session: Any) -> dict[str, Any]:
    make_template(session, "tpl")
    admin = _admin(session)
    readers, group = _readers(session)
    return {"admin": admin, "readers": readers, "group": group}


def test_a_project_without_a_policy_has_none_in_force(session: Any) -> None:
    assert policy.get(session, "NOTHING") == policy.Policy("NOTHING")
    assert not policy.get(session, "NOTHING").in_force
    assert policy.of_projects(session, ["NOTHING"]) == {}


def test_only_admins_and_superusers_set_a_policy_and_bad_values_are_refused(
    session: Any, study: dict[str, Any]
) -> None:
    with pytest.raises(Forbidden):
        policy.put(session, PROJECT, {"distinct_readers": True}, study["readers"][0])
    superuser = make_user(session, "pol-super", roles=("superuser",))
    stored = policy.put(session, PROJECT, {"max_open_per_user": 5}, superuser)
    assert stored.max_open_per_user == 5
    bad = [
        ({"washout_days": -1}, "washout_days"),
        ({"max_open_per_user": 0}, "max_open_per_user"),
        ({"balance_by": "size"}, "balance_by"),
        ({"distinct_readers": "yes"}, "distinct_readers"),
        ({"distinct_readers": True, "washout_days": 28}, "washout_days"),
        ({"readers": 2}, "readers"),
    ]
    for values, field in bad:
        with pytest.raises(InvalidInput) as refused:
            policy.put(session, PROJECT, values, study["admin"])
        assert field in refused.value.errors, values
    # A partial change keeps the other fields.
    changed = policy.put(session, PROJECT, {"priority_order": True}, study["admin"])
    assert (changed.max_open_per_user, changed.priority_order) == (5, True)


def test_distinct_readers_in_group_distribution(session: Any, study: dict[str, Any]) -> None:
    policy.put(session, PROJECT, {"distinct_readers": True}, study["admin"])
    made = _create(
        session,
        study["admin"],
        study["group"],
        *[{"subject": f"case-{case}"} for case in range(4) for _read in range(3)],
    )
    readers_of: dict[str, set[str]] = {}
    for summary, case in zip(made, [c for c in range(4) for _ in range(3)], strict=True):
        readers_of.setdefault(f"case-{case}", set()).update(summary.users)
    # Three reads per case, three different readers each time.
    assert all(len(names) == 3 for names in readers_of.values())
    # A fourth read of a case has nobody left: refused (the request's transaction is undone).
    with pytest.raises(InvalidInput) as refused:
        _create(session, study["admin"], study["group"], {"subject": "case-0"})
    assert "distinct_readers" in refused.value.message


def test_consistent_series_across_requests(session: Any, study: dict[str, Any]) -> None:
    policy.put(session, PROJECT, {"consistent_series": True}, study["admin"])
    first = _create(
        session,
        study["admin"],
        study["group"],
        *[{"series": f"patient-{patient}"} for patient in range(3)],
    )
    owners = {f"patient-{index}": summary.users[0] for index, summary in enumerate(first)}
    assert len(set(owners.values())) == 3  # still shared by weight
    later = _create(
        session,
        study["admin"],
        study["group"],
        *[{"series": f"patient-{patient}"} for patient in (2, 1, 0, 2)],
    )
    assert [summary.users[0] for summary in later] == [
        owners["patient-2"],
        owners["patient-1"],
        owners["patient-0"],
        owners["patient-2"],
    ]


def test_washout_allows_a_subject_again_only_after_the_days(
    session: Any, study: dict[str, Any]
) -> None:
    solo = make_user(session, "solo")
    group = make_group(session, "solo-group", [solo])
    policy.put(session, PROJECT, {"washout_days": 28}, study["admin"])
    _create(session, study["admin"], group, {"subject": "case-A"})
    with pytest.raises(InvalidInput) as refused:
        _create(session, study["admin"], group, {"subject": "case-A"})
    assert "washout_days" in refused.value.message
    # 29 days later the same reader may read it again.
    session.execute(
        update(SubjectReader)
        .where(SubjectReader.user_id == solo.id)
        .values(last_time=utcnow() - timedelta(days=29))
    )
    (again,) = _create(session, study["admin"], group, {"subject": "case-A"})
    assert again.users == ["solo"]


def test_a_cap_stops_assignment_and_claims(session: Any, study: dict[str, Any]) -> None:
    policy.put(session, PROJECT, {"max_open_per_user": 2}, study["admin"])
    made = _create(session, study["admin"], study["group"], *[{} for _ in range(6)])
    assert Counter(name for summary in made for name in summary.users) == {
        "reader0": 2,
        "reader1": 2,
        "reader2": 2,
    }
    with pytest.raises(InvalidInput) as refused:
        _create(session, study["admin"], study["group"], {})
    assert "max_open_per_user" in refused.value.errors
    # Tasks for the group to claim: a reader at the cap gets none; below it, one.
    pool = [
        make_task(session, template="tpl", project=PROJECT, groups=[study["group"].id])
        for _ in range(3)
    ]
    reader0 = study["readers"][0]
    assert claims.claim_next(session, user=reader0, project=PROJECT) is not None  # a named one
    finished = session.scalars(
        select(Task).join(task_users).where(task_users.c.user_id == reader0.id)
    ).first()
    assert finished is not None
    finished.status = "done"
    session.flush()
    claimed = claims.claim_next(session, user=reader0, project=PROJECT)
    assert claimed is not None
    assert claimed.id in {task.id for task in pool} or claimed.id != finished.id


def test_claims_keep_distinct_readers_and_series(session: Any, study: dict[str, Any]) -> None:
    policy.put(
        session,
        PROJECT,
        {"distinct_readers": True, "consistent_series": True},
        study["admin"],
    )
    group = study["group"]
    tasks = [
        make_task(session, template="tpl", project=PROJECT, groups=[group.id]) for _ in range(4)
    ]
    for task, subject, series in zip(
        tasks, ("s1", "s1", "s2", "s3"), (None, None, "p1", "p1"), strict=True
    ):
        task.subject, task.series = subject, series
    session.flush()
    reader0, reader1, _reader2 = study["readers"]
    taken = [claims.claim_next(session, user=reader0, project=PROJECT) for _ in range(4)]
    # reader0 gets one task of s1 (not both) and the whole series p1.
    assert [claim.id if claim else None for claim in taken] == [
        tasks[0].id,
        tasks[2].id,
        tasks[3].id,
        None,
    ]
    # The second read of s1 is for someone else; p1 is reader0's.
    other = claims.claim_next(session, user=reader1, project=PROJECT)
    assert other is not None and other.id == tasks[1].id
    assert claims.claim_next(session, user=reader1, project=PROJECT) is None


def test_claims_keep_the_washout_and_the_cap(session: Any, study: dict[str, Any]) -> None:
    policy.put(session, PROJECT, {"washout_days": 28, "max_open_per_user": 2}, study["admin"])
    tasks = [
        make_task(session, template="tpl", project=PROJECT, groups=[study["group"].id])
        for _ in range(5)
    ]
    for task, subject in zip(tasks, ("A", "A", "A", "B", "C"), strict=True):
        task.subject = subject
    session.flush()
    reader = study["readers"][0]

    def claim() -> int | None:
        taken = claims.claim_next(session, user=reader, project=PROJECT)
        return None if taken is None else taken.id

    # A second read of A waits for the washout; a third task would pass the cap.
    assert [claim(), claim(), claim()] == [tasks[0].id, tasks[3].id, None]
    for done in (tasks[0], tasks[3]):
        session.refresh(done)
        done.status = "done"
    session.flush()
    assert claim() == tasks[4].id  # C: A is still within the washout
    # 29 days on, A may be read again, and the reader's time on it moves to now.
    session.execute(
        update(SubjectReader)
        .where(SubjectReader.user_id == reader.id, SubjectReader.subject == "A")
        .values(last_time=utcnow() - timedelta(days=29))
    )
    before_claim = utcnow()
    assert claim() == tasks[1].id
    last_time = session.scalar(
        select(SubjectReader.last_time).where(
            SubjectReader.user_id == reader.id, SubjectReader.subject == "A"
        )
    )
    assert last_time is not None and last_time >= before_claim - timedelta(seconds=1)
    assert claim() is None  # C and A held: the cap


def test_locks_a_reader_takes_keep_the_rules(session: Any, study: dict[str, Any]) -> None:
    """PUT /tasks/{id}/lock (the ViewR's way: it lists the tasks and locks one) keeps the same
    rules as claims; a lock set for a reader by an admin is recorded, not refused."""
    policy.put(
        session,
        PROJECT,
        {"distinct_readers": True, "consistent_series": True, "max_open_per_user": 3},
        study["admin"],
    )
    tasks = [
        make_task(session, template="tpl", project=PROJECT, groups=[study["group"].id])
        for _ in range(7)
    ]
    rows = [("s1", None), ("s1", None), ("s2", "p1"), ("s3", "p1"), ("s4", None)]
    rows += [("s5", None), ("s6", None)]
    for task, (subject, series) in zip(tasks, rows, strict=True):
        task.subject, task.series = subject, series
    session.flush()
    reader0, reader1, _reader2 = study["readers"]

    assert locks.lock(session, task=tasks[0], actor=reader0) == reader0
    assert locks.lock(session, task=tasks[0], actor=reader0) == reader0  # renewing is no read
    with pytest.raises(reader_rules.RuleRefused, match="already got a task of subject 's1'"):
        locks.lock(session, task=tasks[1], actor=reader0)
    assert locks.lock(session, task=tasks[2], actor=reader1) == reader1  # p1 is reader1's now
    with pytest.raises(reader_rules.RuleRefused, match="Series 'p1'.*another reader"):
        locks.lock(session, task=tasks[3], actor=reader0)
    assert locks.lock(session, task=tasks[1], actor=reader1) == reader1
    assert locks.lock(session, task=tasks[4], actor=reader1) == reader1
    with pytest.raises(reader_rules.RuleRefused, match="holds 3 open tasks"):
        locks.lock(session, task=tasks[5], actor=reader1)
    # Nothing a refusal tried is kept: no lock, no ledger row.
    session.refresh(tasks[5])
    assert tasks[5].lock_id is None
    assert session.scalar(select(func.count()).where(SubjectReader.subject == "s5")) == 0
    # A claim sees what the locks recorded: reader0 does not get s1 again, nor p1.
    claimed = claims.claim_next(session, user=reader0, project=PROJECT)
    assert claimed is not None and claimed.id == tasks[5].id
    # Naming oneself is no way round the rules, even for an admin taking a lock over.
    admin = study["admin"]
    assert locks.lock(session, task=tasks[1], actor=admin, target=admin) == admin
    with pytest.raises(reader_rules.RuleRefused, match="pol-admin already got"):
        locks.lock(session, task=tasks[0], actor=admin, target=admin)
    # The admin may give reader1 a task past the cap; the ledger then counts it.
    assert locks.lock(session, task=tasks[6], actor=study["admin"], target=reader1) == reader1
    assert (
        session.scalar(select(SubjectReader.user_id).where(SubjectReader.subject == "s6"))
        == reader1.id
    )


def test_claims_go_by_priority_when_asked_or_set(session: Any, study: dict[str, Any]) -> None:
    group = study["group"]
    tasks = [
        make_task(session, template="tpl", project=PROJECT, groups=[group.id]) for _ in range(4)
    ]
    now = utcnow()
    for task, priority, due in zip(
        tasks,
        (0, 5, 5, 1),
        (None, now + timedelta(days=3), now + timedelta(days=1), None),
        strict=True,
    ):
        task.priority, task.due = priority, due
    session.flush()
    reader = study["readers"][0]
    first = claims.claim_next(session, user=reader, project=PROJECT)
    assert first is not None and first.id == tasks[0].id  # oldest first by default
    second = claims.claim_next(session, user=reader, project=PROJECT, order="priority")
    assert second is not None and second.id == tasks[2].id  # priority 5, due sooner
    policy.put(session, PROJECT, {"priority_order": True}, study["admin"])
    third = claims.claim_next(session, user=reader, project=PROJECT)
    assert third is not None and third.id == tasks[1].id
    with pytest.raises(InvalidInput):
        claims.claim_next(session, user=reader, project=PROJECT, order="random")


def test_balance_by_effort(session: Any, study: dict[str, Any]) -> None:
    policy.put(session, PROJECT, {"balance_by": "effort"}, study["admin"])
    made = _create(
        session,
        study["admin"],
        study["group"],
        {"effort": 6.0},
        *[{"effort": 1.0} for _ in range(12)],
    )
    effort: Counter[str] = Counter()
    for summary in made:
        effort[summary.users[0]] += summary.effort
    # 18 units over three equal weights: the one with the big task gets fewer small ones.
    assert max(effort.values()) - min(effort.values()) <= 1.0


def test_dry_run_answers_the_split_and_stores_nothing(session: Any, study: dict[str, Any]) -> None:
    policy.put(session, PROJECT, {"distinct_readers": True}, study["admin"])
    before = session.scalar(select(func.count()).select_from(Task))
    passes = session.execute(select(User.id, User.assignment_pass).order_by(User.id)).all()
    preview = creation.preview_many(
        session,
        specs=_specs(study["group"], *[{"subject": "case-1", "effort": 2.0} for _ in range(3)]),
        actor=study["admin"],
    )
    assert sorted(name for summary in preview.tasks for name in summary.users) == [
        "reader0",
        "reader1",
        "reader2",
    ]
    assert preview.per_user == {
        name: {"tasks": 1, "effort": 2.0} for name in ("reader0", "reader1", "reader2")
    }
    assert session.scalar(select(func.count()).select_from(Task)) == before
    assert session.scalar(select(func.count()).select_from(SubjectReader)) == 0
    assert session.execute(select(User.id, User.assignment_pass).order_by(User.id)).all() == passes
    # The same refusal as a real create.
    with pytest.raises(InvalidInput):
        creation.preview_many(
            session,
            specs=_specs(study["group"], *[{"subject": "case-1"} for _ in range(4)]),
            actor=study["admin"],
        )


def test_setting_a_policy_counts_the_reads_made_before(session: Any, study: dict[str, Any]) -> None:
    reader0 = study["readers"][0]
    done = make_task(session, template="tpl", project=PROJECT, users=[reader0.id])
    done.subject, done.series = "case-9", "patient-9"
    session.flush()
    policy.put(
        session, PROJECT, {"distinct_readers": True, "consistent_series": True}, study["admin"]
    )
    made = _create(
        session,
        study["admin"],
        study["group"],
        {"subject": "case-9"},
        {"subject": "case-9"},
        {"series": "patient-9"},
    )
    assert "reader0" not in made[0].users + made[1].users
    assert made[2].users == ["reader0"]
