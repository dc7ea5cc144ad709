"""A small, realistic data set for web tests, made through the services and committed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from taskmanager.models import Group, Meta, Tag, Task, TaskGroup, TaskTemplate, User
from taskmanager.services.accounts import groups
from taskmanager.services.dispensing import locks
from taskmanager.services.flows import task_changes, taskgroup_changes
from taskmanager.services.metadata import meta
from taskmanager.services.reference import tags, templates
from taskmanager.services.tasks import creation

from ..support.accounts import PASSWORD, make_user

__all__ = ["PASSWORD", "Study", "World", "admin_pages", "seed", "seed_study"]

VIEWR_TEMPLATE = {
    "template_name": "t1-review",
    "scans": [{"label": "T1", "modality": "MR"}],
    "fields": [{"name": "quality", "type": "choice", "options": ["good", "bad"]}],
}


@dataclass
class World:
    admin: User
    manager: User
    alice: User
    bob: User
    carol: User
    readers: Group
    template: TaskTemplate
    tag: Tag
    taskgroup: TaskGroup
    tasks: list[Task]
    meta: Meta


def _task(session: Session, actor: User, **fields: Any) -> Task:
    fields.setdefault("template", "t1-review")
    fields.setdefault(
        "content",
        {
            "template": "t1-review",
            "name": "subject-001",
            "scan_sources": {"T1": "$XNAT/data/subject-001/T1W.nii.gz"},
        },
    )
    return creation.create(session, spec=creation.NewTask(**fields), actor=actor)


def seed(session: Session) -> World:
    """Users (admin, a superuser, three plain users), a group, a template, tags, tasks."""
    from taskmanager.services.accounts import users

    admin = users.get_or_raise(session, reference="admin")
    manager = make_user(session, "manager", "superuser", name="Maria Manager", commit=False)
    alice = make_user(session, "alice", "user", name="Alice Archer", commit=False)
    bob = make_user(session, "bob", "user", name="Bob Baker", commit=False)
    carol = make_user(session, "carol", "user", name="Carol Cook", commit=False)
    readers = groups.create(session, groupname="readers", name="Radiology readers", users=[bob])
    template = templates.create(session, label="t1-review", content=VIEWR_TEMPLATE)
    xnat = meta.create(session, label="XNAT", value="http://xnat.example.org")
    made = [
        # With every scheduling field, overdue: the task page shows them all.
        _task(
            session,
            admin,
            project="brain-study",
            users=["alice"],
            tags=["urgent"],
            subject="subject-001",
            series="subject-001-T1",
            priority=2,
            due=datetime(2026, 1, 5, 17, 0, tzinfo=UTC),
            effort=1.5,
        ),
        _task(session, admin, project="brain-study", users=["alice"]),
        _task(session, admin, project="brain-study", users=["alice"], tags=["urgent"]),
        _task(session, admin, project="heart-study", users=["bob"]),
        _task(session, admin, project="heart-study", groups=["readers"]),
        _task(
            session,
            admin,
            project="heart-study",
            users=["carol"],
            callback_url="http://receiver.example.org/done",
            callback_content='{"ok": true}',
        ),
    ]
    task_changes.set_status(session, task=made[1], status="done", actor=alice)
    task_changes.set_status(session, task=made[5], status="done", actor=carol)
    locks.lock(session, task=made[0], actor=alice)
    group = taskgroup_changes.create(
        session,
        actor=admin,
        label="batch-1",
        specs=[
            creation.NewTask(
                project="brain-study", template="t1-review", content={"n": n}, users=["bob"]
            )
            for n in (1, 2)
        ],
    )
    urgent = tags.get_or_raise(session, reference="urgent")
    session.commit()
    return World(admin, manager, alice, bob, carol, readers, template, urgent, group, made, xnat)


def admin_pages(world: World) -> list[str]:
    task = world.tasks[0]
    return [
        "/",
        "/tasks",
        "/tasks?status=open&sort=-update_time",
        "/tasks?project=brain-study&tag=urgent",
        f"/tasks?user=alice&template={world.template.label}",
        f"/tasks/{task.id}",
        f"/tasks/{world.tasks[5].id}",
        f"/tasks/{task.id}/edit",
        "/taskgroups",
        "/taskgroups?status=queued",
        f"/taskgroups/{world.taskgroup.id}",
        "/templates",
        f"/templates/{world.template.id}",
        "/templates/new",
        f"/templates/{world.template.id}/edit",
        "/users",
        "/users?q=ali&role=user&active=yes&sort=-open_tasks",
        f"/users/{world.alice.id}",
        "/users/new",
        f"/users/{world.alice.id}/edit",
        "/groups",
        "/groups?sort=-members",
        f"/groups/{world.readers.id}",
        "/groups/new",
        f"/groups/{world.readers.id}/edit",
        "/tags",
        f"/tags/{world.tag.id}",
        "/tags/new",
        f"/tags/{world.tag.id}/edit",
        "/meta",
        "/meta/new",
        f"/meta/{world.meta.id}",
        "/reassign",
        f"/reassign?from_user={world.alice.id}",
        "/mail",
        f"/mail?group={world.readers.id}",
        "/change",
        "/tasks?text=subject&tracking=unassign&match=prefix&locked=no&done_by=alice&per_page=25",
        "/tasks?page=9",
        "/projects/brain-study",
        "/projects/heart-study?sort_annotators=-done",
        "/?sort_annotators=-last_activity",
        f"/groups/{world.readers.id}?sort_annotators=open",
        "/activity",
        "/activity?project=brain-study&user=alice",
    ]


# The plain user the every-page tests sign in as: bob has a task of his own, one through his
# group, and the tasks of the task group.
PLAIN_USER = "bob"


def user_pages(world: World) -> list[str]:
    """The pages a plain user (bob) can open, from the navigation and his own links."""
    own = world.tasks[3]
    return [
        "/",
        "/tasks",
        "/tasks?status=open&sort=-update_time",
        "/tasks?project=heart-study",
        f"/tasks/{own.id}",
        f"/tasks/{world.tasks[4].id}",
        f"/tasks/{own.id}/edit",
        "/taskgroups",
        f"/taskgroups/{world.taskgroup.id}",
        "/templates",
        f"/templates/{world.template.id}",
        f"/users/{world.bob.id}",
        "/groups",
        f"/groups/{world.readers.id}",
        "/tags",
        f"/tags/{world.tag.id}",
        "/change",
        "/projects/heart-study",
        "/projects/brain-study?sort_annotators=-open",
        "/activity",
        "/activity?project=heart-study",
    ]


def visitor_pages() -> list[str]:
    """The pages someone not signed in sees (the suite's live server lets visitors register)."""
    return ["/login", "/register", "/reset", "/confirm"]


# The study of the progress pages: 38 tasks, 28 of them done over the last 14 days (2 a day), 10
# open; dora (weight 2) and emil (weight 1) keep up, finn (weight 1) did 2 of the 28 at the
# start and nothing since: behind (2/28 against a quarter) and idle. At 2 a day the 10 open
# tasks take 5 days.
STUDY = "liver-study"
STUDY_DONE = {"dora": 16, "emil": 10, "finn": 2}
STUDY_OPEN = {"dora": 4, "emil": 3, "finn": 3}
STUDY_WEIGHTS = {"dora": 2.0, "emil": 1.0, "finn": 1.0}
STUDY_RATE_DAYS = 14


@dataclass
class Study:
    people: dict[str, User]
    today: date
    open_tasks: int
    rate: float
    finish: date


def seed_study(session: Session, today: date | None = None) -> Study:
    """The study above, on top of `seed` (it needs the template); done times set directly."""
    today = today or datetime.now(UTC).date()
    people = {
        name: make_user(session, name, "user", assignment_weight=weight, commit=False)
        for name, weight in STUDY_WEIGHTS.items()
    }
    created = datetime.combine(today - timedelta(days=20), time(9), tzinfo=UTC)
    # Two done a day on each of the last 14 days, today included: finn's on the oldest day, dora
    # alone for three days, then dora and emil one each a day up to today.
    doers = ["finn"] * 2 + ["dora"] * 6 + ["dora", "emil"] * 10
    assert {name: doers.count(name) for name in STUDY_DONE} == STUDY_DONE
    for index, name in enumerate(doers):
        task = _task(session, people[name], project=STUDY, users=[name])
        day = today - timedelta(days=STUDY_RATE_DAYS - 1 - index // 2)
        session.execute(
            update(Task)
            .where(Task.id == task.id)
            .values(
                status="done",
                done_by_id=people[name].id,
                done_time=datetime.combine(day, time(0, 30 + index % 2), tzinfo=UTC),
                create_time=created,
            )
        )
    for name, count in STUDY_OPEN.items():
        for _ in range(count):
            task = _task(session, people[name], project=STUDY, users=[name])
            session.execute(update(Task).where(Task.id == task.id).values(create_time=created))
    session.commit()
    open_tasks = sum(STUDY_OPEN.values())
    rate = sum(STUDY_DONE.values()) / STUDY_RATE_DAYS
    return Study(people, today, open_tasks, rate, today + timedelta(days=5))
