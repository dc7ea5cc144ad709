"""The data a fuzz run starts from, and the ids its path parameters are steered to.

Each path parameter has two pools of real ids: `kept` rows that GET, PUT and POST requests use,
and `doomed` rows that only DELETE requests use, so that deletions early in the run do not leave
the later operations with nothing but 404s. The two accounts the fuzzer acts as (admin, alice)
are in no pool: a PUT that changes a password or a DELETE of a role would lock the run out.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from taskmanager import create_app
from taskmanager.config import load_settings
from taskmanager.models import CallbackDelivery, Meta, Role, Task, TaskTemplate, User, db
from taskmanager.services.callbacks import outbox as callbacks
from taskmanager.services.dispensing import locks
from taskmanager.services.flows import taskgroup_changes
from taskmanager.services.tasks import creation
from tests.support.task_factories import (
    PASSWORD,
    make_group,
    make_task,
    make_template,
    make_user,
    set_meta,
)

# One generated value in KEEP_GENERATED keeps the id the fuzzer made up (usually unknown: 404).
KEEP_GENERATED = 5
# The plain user the run acts as (besides admin): the `user` role, in one group, some tasks hers.
PLAIN_USER = ("alice", PASSWORD)


@dataclass
class Pool:
    kept: list[Any]
    doomed: list[Any] = field(default_factory=list)


@dataclass
class World:
    pools: dict[str, Pool]

    def steer(self, method: str, parameters: dict[str, Any] | None) -> dict[str, Any] | None:
        """Replace most generated ids by real ones, deterministically (same case, same ids).

        Only integers and non-empty strings are replaced (a string by the id as text): other
        values (null, a list, an empty reference) stay, so that odd path values still reach the
        server, and so does one generated value in KEEP_GENERATED.
        """
        if not parameters:
            return parameters
        steered = dict(parameters)
        for name, value in parameters.items():
            pool = self.pools.get(name)
            if pool is None or not _steerable(value):
                continue
            digest = zlib.crc32(f"{name}={value!r}".encode())
            if digest % KEEP_GENERATED == 0:
                continue
            choices = pool.doomed if method == "DELETE" and pool.doomed else pool.kept
            choice = choices[digest % len(choices)]
            steered[name] = str(choice) if isinstance(value, str) else choice
        return steered


def _steerable(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, str) and bool(value))


VIEWR = {"template_name": "viewr", "scans": [{"label": "T1"}, {"label": "FLAIR"}]}


def seed(env: dict[str, str]) -> World:
    """Fill the run's database through the services, as the test suite does."""
    app = create_app(load_settings(env))
    try:
        with app.app_context():
            return _seed(db.session)
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def _seed(session: Any) -> World:
    make_template(session, "viewr", VIEWR)
    make_template(session, "plain", {"template_name": "plain"})
    spare_templates = [make_template(session, f"spare-{n}").id for n in range(4)]
    alice = make_user(session, PLAIN_USER[0])
    bob = make_user(session, "bob")
    carol = make_user(session, "carol", weight=2.0)
    make_user(session, "dora", roles=["superuser"])
    spare_users = [make_user(session, f"spare-{n}").id for n in range(4)]
    team = make_group(session, "team", [alice, bob])
    crew = make_group(session, "crew", [carol, bob])
    spare_groups = [make_group(session, f"spare-{n}").id for n in range(4)]
    set_meta(session, "site", "leiden")
    set_meta(session, "threshold", "0.5")
    content = {"template": "viewr", "scan_sources": {"T1": "http://x/1", "FLAIR": "f"}}
    kept_tasks = []
    for n in range(12):
        assignment: dict[str, Any] = (
            {"users": ["alice"]}
            if n % 3 == 0
            else {"groups": ["team"]}
            if n % 3 == 1
            else {"users": ["bob", "carol"]}
        )
        task = make_task(
            session,
            template="viewr" if n % 2 else "plain",
            project=f"study-{n % 3}",
            content=content,
            tags=["study", f"batch-{n % 4}"],
            callback_url="http://127.0.0.1:9/callback/$site",
            callback_content={"task": n},
            application_name="ViewR",
            tracking_id=f"track-{n}",
            **assignment,
        )
        kept_tasks.append(task.id)
    doomed_tasks = [
        make_task(session, template="plain", users=["alice"], tags=["old"]).id for _ in range(6)
    ]
    spare_tags = [
        t.id
        for t in (
            make_task(session, template="plain", users=["bob"], tags=[f"spare-{n}"]).tags[0]
            for n in range(4)
        )
    ]
    groups = []
    for label in ("round-1", "round-2"):
        group = taskgroup_changes.create(
            session,
            actor=session.get(User, alice.id),
            label=label,
            callback_url="http://127.0.0.1:9/groups",
            specs=[
                creation.NewTask(project="grouped", template="plain", content={}, users=["alice"])
            ]
            * 3,
        )
        groups.append(group.id)
    locks.lock(session, task=session.get(Task, kept_tasks[2]), actor=bob)
    deliveries = []
    for n, status in enumerate(("pending", "failed", "delivered", "failed")):
        delivery = callbacks.enqueue(
            session, url=f"http://127.0.0.1:9/cb/{n}", body='{"n": 1}', task_id=kept_tasks[n]
        )
        delivery.status = status
        delivery.attempts = 1
        session.flush()
        deliveries.append(delivery.id)
    session.commit()
    roles = list(session.scalars(select(Role.id)))
    tag_ids = sorted({tag.id for task_id in kept_tasks for tag in session.get(Task, task_id).tags})
    meta_ids = list(session.scalars(select(Meta.id)))
    templates = list(
        session.scalars(select(TaskTemplate.id).where(TaskTemplate.label.in_(["viewr", "plain"])))
    )
    assert all(session.get(CallbackDelivery, d) for d in deliveries)
    return World(
        pools={
            "task_id": Pool(kept_tasks, doomed_tasks),
            "tag_id": Pool(tag_ids, spare_tags),
            "meta_id": Pool(meta_ids),
            "user_id": Pool([bob.id, carol.id], spare_users),
            "role_id": Pool(roles),
            "group_id": Pool([team.id, crew.id], spare_groups),
            "template_id": Pool(templates, spare_templates),
            "callback_id": Pool(deliveries),
            "reference": Pool([str(g) for g in groups] + ["round-1", "round-2"]),
        }
    )
