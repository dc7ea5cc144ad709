"""Fill an old TaskManager (task-manager 6.6.0) with a deterministic data set.

Runs with the OLD package's interpreter (the throwaway virtualenv made by
scripts/make-legacy-fixtures), against its server already started on --url, with the same
environment (SQLALCHEMY_DATABASE_URI, ...) as that server. Most rows go in through the old REST
API v1 with basic auth; statuses beyond the first few hundred are set through the old package's
own models in one transaction (each REST call costs a slow password check), and so are locks'
counts. Writes a JSON manifest (users with plain passwords, row counts, sample tasks).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from concurrent.futures import ThreadPoolExecutor

import requests

SEED = 660
ADMIN = ("admin", "Admin-pass-660")
PASSWORDS = {
    "susan": "Susan-super-660",
    "alice": "Alice-pass-660",
    "bob": "Bob-pass-660",
    "carol": "Carol-pass-660",
    "dave": "Dave-pass-660",
    "erin": "Erin-pass-660",
    "frank": "Frank-pass-660",
    "grace": "Grace-pass-660",
}
TEMPLATES = {
    "ViewR-quality": {
        "template_name": "ViewR-quality",
        "fields": [{"name": "score", "type": "int"}],
    },
    "segmentation-check": {
        "template_name": "segmentation-check",
        "fields": [{"name": "ok", "type": "bool"}],
    },
}
PROJECTS = ("rotterdam-study", "generation-r", "ms-cohort")
TAG_POOL = ("urgent", "batch-1", "batch-2", "reread", "phantom", "pilot")
# The final status mix: any string was accepted, clients invented a few.
STATUS_WEIGHTS = {"queued": 40, "done": 35, "aborted": 12, "failed": 6, "running": 5, "skipped": 2}


class Client:
    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/") + "/api/v1"
        self.session = requests.Session()

    def call(self, method: str, path: str, auth: tuple[str, str] = ADMIN, **kwargs):
        response = self.session.request(method, self.url + path, auth=auth, timeout=300, **kwargs)
        if response.status_code >= 400:
            raise SystemExit(f"{method} {path}: {response.status_code} {response.text[:500]}")
        return response.json() if response.content else None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--tasks", type=int, default=3000)
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--backend", required=True)
    args = parser.parse_args()
    rng = random.Random(SEED)
    api = Client(args.url)

    # Users created over the API (the rest came from taskmanager-config), then their roles.
    user_ids = {}
    for username, weight in (("frank", 1.5), ("grace", 0.75)):
        user_ids[username] = (
            api.call(
                "POST",
                "/users",
                json={
                    "username": username,
                    "password": PASSWORDS[username],
                    "name": username.capitalize() + " Example",
                    "email": f"{username}@example.org",
                    "assignment_weight": weight,
                },
            )["uri"]
            .rstrip("/")
            .rsplit("/", 1)[-1]
        )
        api.call("PUT", f"/users/{username}/roles/user")
    api.call("PUT", f"/users/{user_ids['grace']}", json={"name": "Grace Hopper-Example"})
    api.call("POST", "/groups", json={"groupname": "empty", "name": "Nobody yet"})

    # Templates over the API (one more came from the config file) and a tag.
    for label, content in TEMPLATES.items():
        api.call("POST", "/task_templates", json={"label": label, "content": content})
    api.call(
        "PUT",
        "/task_templates/ViewR-quality",
        json={"content": {**TEMPLATES["ViewR-quality"], "version": 2}},
    )
    api.call("POST", "/tags", json={"name": "phantom"})

    # Meta variables and their history (a value used in task content).
    api.call("POST", "/meta", json={"label": "data_root", "value": "/data/v1"})
    api.call("POST", "/meta", json={"label": "viewer", "value": "viewr-3.0"})
    api.call("PUT", "/meta/data_root", json={"value": "/data/v2"})

    templates = ["ViewR-quality", "segmentation-check", "legacy-config-template"]
    members = {"radiology": ["alice", "bob", "carol"], "neuro": ["carol", "dave"], "qa": ["susan"]}

    def task_body(n: int, grouped: bool) -> dict:
        body: dict = {
            "project": rng.choice(PROJECTS),
            "template": rng.choice(templates),
            "raw_content": json.dumps(
                {"scan": f"$data_root/scan_{n:05d}.nii.gz", "viewer": "$viewer", "n": n}
            ),
            "content": {"scan": f"/placeholder/{n}"},
            "generator_url": f"https://xnat.example.org/experiments/E{n:05d}",
            "tracking_id": f"track-{n:05d}",
            "tags": sorted(rng.sample(TAG_POOL, rng.randint(0, 3))),
            "application_name": rng.choice(["ViewR", "QCTool"]),
            "application_version": rng.choice(["3.0", "3.1.2"]),
        }
        if n % 7 == 0:
            body["callback_url"] = f"http://127.0.0.1:9/callback/{n}"
            body["callback_content"] = json.dumps({"task": n})
        if not grouped:
            choice = n % 4
            if choice == 0:
                body["users"] = rng.sample(sorted(PASSWORDS), rng.randint(1, 2))
            elif choice == 1:
                body["groups"] = [rng.choice(sorted(members))]
            elif choice == 2:
                body["distribute_in_group"] = rng.choice(["radiology", "neuro"])
            else:
                body["users"] = [rng.choice(["alice", "bob"])]
                body["groups"] = ["radiology"]
        else:
            # insert_task() takes these as required arguments: a task group's task must name them.
            body.setdefault("callback_url", None)
            body.setdefault("callback_content", None)
            body["users"] = [rng.choice(sorted(PASSWORDS))]
        return body

    # The first 10 % one at a time (so that the ids follow the seed); the rest in task groups,
    # the old API's list creation.
    singles = max(1, args.tasks // 10)
    bodies = [task_body(n, grouped=False) for n in range(singles)]
    single_ids = [
        int(api.call("POST", "/tasks", json=b)["uri"].rstrip("/").rsplit("/", 1)[-1])
        for b in bodies
    ]
    n = singles
    group_ids: dict[str, list[int]] = {}
    chunk = 100
    while n < args.tasks:
        size = min(chunk, args.tasks - n)
        if len(group_ids) % 5 == 4:
            size = min(2, args.tasks - n)
        label = f"taskgroup-{len(group_ids):03d}"
        body = {
            "label": label,
            "callback_url": f"http://127.0.0.1:9/taskgroup/{label}",
            "callback_content": json.dumps({"group": label}),
            "tasks": [task_body(n + i, grouped=True) for i in range(size)],
        }
        if len(group_ids) % 3 == 1:
            body["distribute_in_group"] = "radiology"
            # Not "unique": 6.6.0 removes each chosen member from the group itself (and commits).
            body["distribute_method"] = "same"
        created = api.call("POST", "/taskgroups", json=body)
        # The answer lists a group's tasks in whatever order the database returns them.
        group_ids[label] = sorted(int(t["id"]) for t in created["tasks"])
        n += size

    # A second meta change after the tasks exist: the old server rewrote every task's content.
    api.call("PUT", "/meta/data_root", json={"value": "/archive/data"})

    # Statuses over the API by different users on their own tasks, then the rest in bulk.
    tasks = _load_tasks()
    all_ids = sorted(tasks)
    target = {}
    statuses = list(STATUS_WEIGHTS)
    weights = list(STATUS_WEIGHTS.values())
    for ids in group_ids.values():
        # A task group moves as one: aborting one task aborts its siblings.
        status = rng.choices(["queued", "done", "aborted", "mixed"], [3, 3, 1, 3])[0]
        for task_id in ids:
            target[task_id] = (
                rng.choices(["queued", "done", "running"], [2, 3, 1])[0]
                if status == "mixed"
                else status
            )
    for task_id in single_ids:
        target[task_id] = rng.choices(statuses, weights)[0]

    via_api = []
    for task_id in single_ids[:150]:
        owners = [
            u for u in tasks[task_id]["users"] if u in PASSWORDS and u not in ("susan", "erin")
        ]
        via_api.append((task_id, owners[0] if owners else "susan"))

    def put_status(item: tuple[int, str]) -> None:
        task_id, username = item
        api.call(
            "PUT",
            f"/tasks/{task_id}",
            auth=(username, PASSWORDS[username]),
            json={"status": target[task_id]},
        )

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(put_status, via_api))

    # Locks: users lock their own tasks, the superuser locks any, the admin locks for others.
    # Not the tasks distributed in a group: the old server chose their user (by load and time).
    lockable = [
        task_id
        for n, task_id in enumerate(single_ids)
        if target[task_id] in ("queued", "running") and n % 4 != 2
    ]
    lock_plan = []
    for task_id in lockable[:60]:
        owners = [
            u for u in tasks[task_id]["users"] if u in PASSWORDS and u not in ("susan", "erin")
        ]
        if owners and task_id % 3:
            lock_plan.append((task_id, (owners[0], PASSWORDS[owners[0]]), None))
        elif task_id % 2:
            lock_plan.append((task_id, ("susan", PASSWORDS["susan"]), None))
        else:
            lock_plan.append((task_id, ADMIN, "dave"))
    grouped_running = [i for ids in group_ids.values() for i in ids if target[i] == "running"][:30]
    for task_id in grouped_running:
        lock_plan.append((task_id, ADMIN, rng.choice(["alice", "bob", "carol", "frank"])))

    def put_lock(item) -> None:
        task_id, auth, lock = item
        api.call("PUT", f"/tasks/{task_id}/lock", auth=auth, json={"lock": lock} if lock else {})

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(put_lock, lock_plan))
    # One lock taken and given back again.
    planned = {item[0] for item in lock_plan}
    spare = next(i for i in reversed(all_ids) if i not in planned)
    api.call("PUT", f"/tasks/{spare}/lock", auth=ADMIN, json={})
    api.call("DELETE", f"/tasks/{spare}/lock", auth=ADMIN)

    _bulk_statuses({i: target[i] for i in all_ids if i not in dict(via_api)})
    # The third and last meta change, and one more variable.
    api.call("PUT", "/meta/viewer", json={"value": "viewr-3.1"})
    api.call("POST", "/meta", json={"label": "site", "value": "erasmus-mc"})

    manifest = _manifest(args.backend, rng)
    with open(args.manifest, "w") as fh:
        json.dump(manifest, fh, indent=2, sort_keys=True)
        fh.write("\n")


def _app():
    from taskmanager import create_app

    return create_app(use_sentry=False)


def _load_tasks() -> dict[int, dict]:
    from taskmanager import models

    with _app().app_context():
        return {
            t.id: {"users": [u.username for u in t.users] + [u.username for u in t.users_via_group]}
            for t in models.Task.query.all()
        }


def _bulk_statuses(statuses: dict[int, str]) -> None:
    """Set statuses through the old models, without firing callbacks (the column itself)."""
    from taskmanager import models

    with _app().app_context():
        for task in models.Task.query.filter(models.Task.id.in_(list(statuses))).all():
            task._status = statuses[task.id]
        models.db.session.commit()


def _manifest(backend: str, rng: random.Random) -> dict:
    from sqlalchemy import func, inspect, select

    from taskmanager import models

    with _app().app_context():
        db = models.db
        engine = db.engine
        inspector = inspect(engine)
        counts = {}
        for table in sorted(inspector.get_table_names()):
            t = db.Table(table, db.MetaData(), autoload_with=engine)
            counts[table] = db.session.execute(select(func.count()).select_from(t)).scalar_one()
        users = []
        for user in models.User.query.order_by(models.User.id):
            users.append(
                {
                    "id": user.id,
                    "username": user.username,
                    "email": user.email,
                    "password": dict([ADMIN, *PASSWORDS.items()]).get(user.username),
                    "password_hash": user.password,
                    "active": bool(user.active),
                    "assignment_weight": user.assignment_weight,
                    "roles": sorted(r.name for r in user.roles),
                    "groups": sorted(g.groupname for g in user.groups),
                }
            )
        status_counts = dict(
            db.session.execute(
                select(models.Task._status, func.count()).group_by(models.Task._status)
            ).all()
        )
        locked = (
            models.Task.query.filter(models.Task.lock_id.isnot(None)).order_by(models.Task.id).all()
        )
        all_ids = [
            t.id for t in models.Task.query.with_entities(models.Task.id).order_by(models.Task.id)
        ]
        picks = sorted(
            set(rng.sample(all_ids, 8) + [t.id for t in locked[:4]] + [all_ids[0], all_ids[-1]])
        )
        samples = []
        for task in models.Task.query.filter(models.Task.id.in_(picks)).order_by(models.Task.id):
            samples.append(
                {
                    "id": task.id,
                    "status": task.status,
                    "project": task.project,
                    "lock": task.lock.username if task.lock else None,
                    "tags": sorted(t.name for t in task.tags),
                    "template": task.template.label if task.template else None,
                    "taskgroup": task.parent.label if task.parent else None,
                    "users": sorted(u.username for u in task.users),
                    "groups": sorted(g.groupname for g in task.groups),
                    "tracking_id": task.tracking_id,
                    "content": task.content,
                    "raw_content": task.raw_content,
                }
            )
        meta = {
            m.label: {"value": m.value, "history": [h.value for h in m.history]}
            for m in models.Meta.query.order_by(models.Meta.id)
        }
        groups = {
            g.groupname: {"name": g.name, "members": sorted(u.username for u in g.users)}
            for g in models.Group.query.order_by(models.Group.id)
        }
        return {
            "backend": backend,
            "old_version": "6.6.0",
            "seed": SEED,
            "row_counts": counts,
            "status_counts": status_counts,
            "locks": {str(t.id): t.lock.username for t in locked},
            "users": users,
            "groups": groups,
            "roles": sorted(r.name for r in models.Role.query),
            "templates": sorted(t.label for t in models.TaskTemplate.query),
            "tags": sorted(t.name for t in models.Tag.query),
            "taskgroups": models.TaskGroup.query.count(),
            "meta": meta,
            "sample_tasks": samples,
        }


if __name__ == "__main__":
    sys.exit(main())
