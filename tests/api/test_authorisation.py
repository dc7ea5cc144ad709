"""Who may do what through the API: every route and method of /api/v1, for each role, on the
caller's own object and on someone else's, with the status code the contract gives.

The expected codes are written from the contract (the roles' permission sets in
spec/domain.md, each route's permission in spec/api-v1.md), not read from the server's code.
`test_the_matrix_covers_every_route` fails when a route appears that the matrix does not cover.

Each role runs the whole matrix on one seeded database: reading requests use the seeded
objects, changing requests get fresh ones, so no row depends on what an earlier row did.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from werkzeug.exceptions import MethodNotAllowed, NotFound

from taskmanager.models import User
from taskmanager.services.accounts import groups, roles
from taskmanager.services.accounts import users as user_service
from taskmanager.services.callbacks import outbox as callbacks
from taskmanager.services.dispensing import locks
from taskmanager.services.flows import taskgroup_changes
from taskmanager.services.metadata import meta
from taskmanager.services.reference import tags, templates
from taskmanager.services.tasks import creation

from ..support.accounts import headers, in_app, make_user
from ..support.task_factories import make_task, make_template

ANON, NOROLE, USER, SUPER, ADMIN = "anonymous", "norole", "user", "superuser", "admin"
ROLES = (ANON, NOROLE, USER, SUPER, ADMIN)
# The caller of each role; the anonymous caller's "own" objects are uma's.
CALLERS = {ANON: None, NOROLE: "nora", USER: "uma", SUPER: "sam", ADMIN: "admin"}
OTHER = "olga"  # a plain user whose objects are "someone else's" to every caller
MISSING = 999_999_999  # an id no object has


def E(user: int, superuser: int, admin: int, *, norole: int = 403, anon: int = 401) -> dict:
    """Expected codes: without credentials 401, with no role 403, unless stated."""
    return {ANON: anon, NOROLE: norole, USER: user, SUPER: superuser, ADMIN: admin}


Body = Any  # None, JSON, or a function of the World giving JSON
Row = tuple[str, str, Body, dict[str, int]]


def _task_body(world: World) -> dict[str, Any]:
    return {"project": "p", "template": "tpl", "content": {"n": 1}, "users": [world.caller]}


def _new_user(world: World) -> dict[str, Any]:
    name = world.unique("new")
    return {"username": name, "password": "long-enough", "email": f"{name}@example.org"}


# Every field of PUT /tasks and a valid value for it; all but status, users and groups need
# task_update_all.
TASK_EDITS: dict[str, Any] = {
    "project": "q",
    "template": "tpl",
    "content": "changed",
    "raw_content": "changed $X",
    "callback_url": "http://127.0.0.1:9/cb",
    "raw_callback_url": "http://127.0.0.1:9/$X",
    "callback_content": '{"a": 1}',
    "generator_url": "http://127.0.0.1:9/gen",
    "tracking_id": "track-1",
    "application_name": "viewr",
    "application_version": "2.0",
    "tags": ["t1"],
}

# Placeholders: {task} is assigned to the caller, {team_task} to the caller's group {team},
# {held_task} is the caller's but locked by olga, {other_task}/{other_taskgroup}/{others} are
# olga's; {missing_task}/{missing_taskgroup} do not exist.
MATRIX: list[Row] = [
    # -- tasks
    ("GET", "/tasks", None, E(200, 200, 200)),
    ("GET", "/tasks/export", None, E(200, 200, 200)),
    ("POST", "/tasks", _task_body, E(403, 403, 201)),
    ("POST", "/tasks", lambda w: [_task_body(w)], E(403, 403, 201)),
    ("GET", "/tasks/{task}", None, E(200, 200, 200)),
    ("GET", "/tasks/{team_task}", None, E(200, 200, 200)),
    ("GET", "/tasks/{other_task}", None, E(404, 200, 200)),
    ("GET", "/tasks/{missing_task}", None, E(404, 404, 404)),
    ("PUT", "/tasks/{task}", {"status": "done"}, E(200, 200, 200)),
    ("PUT", "/tasks/{team_task}", {"status": "done"}, E(200, 200, 200)),
    ("PUT", "/tasks/{other_task}", {"status": "done"}, E(404, 200, 200)),
    ("PUT", "/tasks/{task}", lambda w: {"users": [w.caller, OTHER]}, E(403, 200, 200)),
    ("PUT", "/tasks/{task}", {"groups": ["team"]}, E(403, 200, 200)),
    ("PUT", "/tasks/{other_task}", lambda w: {"users": [w.caller]}, E(404, 200, 200)),
    *[
        ("PUT", "/tasks/{task}", {name: value}, E(403, 403, 200))
        for name, value in TASK_EDITS.items()
    ],
    ("PUT", "/tasks/{other_task}", {"project": "q"}, E(404, 403, 200)),
    ("DELETE", "/tasks/{task}", None, E(403, 403, 200)),
    ("DELETE", "/tasks/{other_task}", None, E(403, 403, 200)),
    ("GET", "/task-at-timepoint/{task}", None, E(200, 200, 200)),
    ("GET", "/task-at-timepoint/{other_task}", None, E(404, 200, 200)),
    ("GET", "/tasks/{task}/history", None, E(200, 200, 200)),
    ("GET", "/tasks/{other_task}/history", None, E(404, 200, 200)),
    ("GET", "/users/{self}/tasks", None, E(200, 200, 200)),
    ("GET", "/users/{other}/tasks", None, E(403, 200, 200)),
    ("GET", "/groups/{team}/tasks", None, E(200, 200, 200)),
    ("GET", "/groups/{others}/tasks", None, E(403, 200, 200)),
    ("GET", "/tags/{tag}/tasks", None, E(200, 200, 200)),
    # -- locks: lock-all rights are task_update_lock_all (superuser) or task_update_all (admin)
    ("GET", "/tasks/{task}/lock", None, E(200, 200, 200)),
    ("GET", "/tasks/{other_task}/lock", None, E(404, 200, 200)),
    ("PUT", "/tasks/{task}/lock", None, E(200, 200, 200)),
    ("PUT", "/tasks/{team_task}/lock", None, E(200, 200, 200)),
    ("PUT", "/tasks/{other_task}/lock", None, E(404, 200, 200)),
    ("PUT", "/tasks/{task}/lock", lambda w: {"lock": w.caller}, E(200, 200, 200)),
    ("PUT", "/tasks/{task}/lock", {"lock": OTHER}, E(403, 200, 200)),
    ("PUT", "/tasks/{held_task}/lock", None, E(409, 409, 409)),
    # Naming oneself is locking to oneself (409 naming the holder, as api-v1.md gives for a
    # held lock); with lock-all rights it takes the lock over.
    ("PUT", "/tasks/{held_task}/lock", lambda w: {"lock": w.caller}, E(409, 200, 200)),
    ("DELETE", "/tasks/{task}/lock", None, E(200, 200, 200)),
    ("DELETE", "/tasks/{held_task}/lock", None, E(403, 200, 200)),
    ("DELETE", "/tasks/{other_task}/lock", None, E(404, 200, 200)),
    ("POST", "/tasks/next", None, E(200, 200, 200)),
    # -- project policies: read by anyone signed in, set by admins and data managers
    ("GET", "/projects/p/policy", None, E(200, 200, 200, norole=200)),
    ("PUT", "/projects/p/policy", {"priority_order": True}, E(403, 200, 200)),
    # -- task templates
    ("GET", "/task_templates", None, E(200, 200, 200)),
    ("GET", "/task_templates/{template}", None, E(200, 200, 200)),
    (
        "POST",
        "/task_templates",
        lambda w: {"label": w.unique("tpl"), "content": {}},
        E(403, 403, 201),
    ),
    ("PUT", "/task_templates/{template}", {"content": {"v": 2}}, E(403, 403, 200)),
    ("DELETE", "/task_templates/{template}", None, E(403, 403, 200)),
    # -- task groups
    ("GET", "/taskgroups", None, E(200, 200, 200)),
    (
        "POST",
        "/taskgroups",
        lambda w: {"label": "g", "tasks": [_task_body(w)]},
        E(403, 403, 201),
    ),
    ("GET", "/taskgroups/{taskgroup}", None, E(200, 200, 200)),
    ("GET", "/taskgroups/{other_taskgroup}", None, E(404, 200, 200)),
    ("PUT", "/taskgroups/{taskgroup}", {"label": "renamed"}, E(403, 403, 200)),
    ("PUT", "/taskgroups/{other_taskgroup}", {"label": "renamed"}, E(403, 403, 200)),
    # -- users
    ("GET", "/users", None, E(403, 200, 200)),
    ("POST", "/users", _new_user, E(403, 403, 201)),
    ("GET", "/users/{self}", None, E(200, 200, 200)),
    ("GET", "/users/{other}", None, E(403, 200, 200)),
    ("PUT", "/users/{self}", {"name": "Me"}, E(403, 403, 200)),
    ("PUT", "/users/{self}", {"assignment_weight": 2}, E(403, 200, 200)),
    # The last active administrator cannot switch themself off.
    ("PUT", "/users/{self}", {"active": False}, E(403, 403, 409)),
    ("PUT", "/users/{other}", {"name": "Olga"}, E(403, 403, 200)),
    ("PUT", "/users/{other}", lambda w: {"username": w.unique("renamed")}, E(403, 403, 200)),
    ("PUT", "/users/{other}", lambda w: {"email": f"{w.unique('e')}@x.org"}, E(403, 403, 200)),
    ("PUT", "/users/{other}", {"password": "another-password"}, E(403, 403, 200)),
    ("PUT", "/users/{other}", {"active": False}, E(403, 403, 200)),
    ("PUT", "/users/{other}", {"assignment_weight": 0.5}, E(403, 200, 200)),
    ("DELETE", "/users/{other}", None, E(403, 403, 200)),
    ("DELETE", "/users/{self}", None, E(403, 403, 409)),
    ("POST", "/users/{self}/revoke-tokens", None, E(200, 200, 200)),
    ("POST", "/users/{other}/revoke-tokens", None, E(403, 403, 200)),
    # Nobody grants themself a role without roles_manage; the last admin keeps the admin role.
    ("PUT", "/users/{self}/roles/admin", None, E(403, 403, 200)),
    ("PUT", "/users/{other}/roles/superuser", None, E(403, 403, 200)),
    ("DELETE", "/users/{other}/roles/user", None, E(403, 403, 200)),
    ("DELETE", "/users/{self}/roles/admin", None, E(403, 403, 409)),
    ("GET", "/users/{self}/groups", None, E(200, 200, 200)),
    ("GET", "/users/{other}/groups", None, E(403, 200, 200)),
    # -- groups
    ("GET", "/groups", None, E(403, 200, 200)),
    ("POST", "/groups", lambda w: {"groupname": w.unique("g")}, E(403, 403, 201)),
    ("GET", "/groups/{team}", None, E(200, 200, 200)),
    ("GET", "/groups/{others}", None, E(403, 200, 200)),
    ("PUT", "/groups/{team}", lambda w: {"name": w.unique("n")}, E(403, 200, 200)),
    ("PUT", "/groups/{others}", lambda w: {"name": w.unique("n")}, E(403, 200, 200)),
    ("DELETE", "/groups/{others}", None, E(403, 403, 200)),
    ("GET", "/groups/{team}/users", None, E(200, 200, 200)),
    ("GET", "/groups/{others}/users", None, E(403, 200, 200)),
    # Joining a group would show its tasks: a plain user cannot add themself.
    ("PUT", "/groups/{others}/users/{self}", None, E(403, 200, 200)),
    ("DELETE", "/groups/{team}/users/{self}", None, E(403, 200, 200)),
    ("DELETE", "/groups/{others}/users/{other}", None, E(403, 200, 200)),
    # -- roles, tags, meta
    ("GET", "/roles", None, E(403, 403, 200)),
    ("GET", "/roles/user", None, E(403, 403, 200)),
    ("GET", "/tags", None, E(200, 200, 200, norole=200)),
    ("GET", "/tags/{tag}", None, E(200, 200, 200, norole=200)),
    ("POST", "/tags", lambda w: {"name": w.unique("tag")}, E(403, 201, 201)),
    ("PUT", "/tags/{tag}", lambda w: {"name": w.unique("tag")}, E(403, 200, 200)),
    ("DELETE", "/tags/{tag}", None, E(403, 403, 200)),
    ("GET", "/meta", None, E(403, 403, 200)),
    ("GET", "/meta/{meta}", None, E(403, 403, 200)),
    ("POST", "/meta", lambda w: {"label": w.unique("M"), "value": "v"}, E(403, 403, 201)),
    ("PUT", "/meta/{meta}", {"value": "w"}, E(403, 403, 200)),
    # -- config service (the admin role), callbacks (task_update_all)
    (
        "POST",
        "/service/config/import-config",
        lambda w: {"config_definition": f"tags: [{w.unique('cfg')}]"},
        E(403, 403, 201),
    ),
    (
        "PUT",
        "/service/config/import-config",
        lambda w: {"config_definition": f"tags: [{w.unique('cfg')}]"},
        E(403, 403, 200),
    ),
    ("GET", "/callbacks", None, E(403, 403, 200)),
    ("GET", "/callbacks/{callback}", None, E(403, 403, 200)),
    ("POST", "/callbacks/{callback}/retry", None, E(403, 403, 200)),
    # -- the API's documentation is public
    ("GET", "/", None, E(200, 200, 200, norole=200, anon=200)),
    ("GET", "/openapi.json", None, E(200, 200, 200, norole=200, anon=200)),
    ("GET", "/redoc", None, E(200, 200, 200, norole=200, anon=200)),
    ("GET", "/swagger.json", None, E(200, 200, 200, norole=200, anon=200)),
]


@dataclass
class World:
    """The seeded objects of one role's run, and fresh ones on demand."""

    app: Any
    caller: str
    seeded: dict[str, int] = field(default_factory=dict)
    counter: itertools.count = field(default_factory=lambda: itertools.count(1))

    def unique(self, prefix: str) -> str:
        return f"{prefix}{next(self.counter)}"

    def make(self, kind: str) -> int:
        with in_app(self.app) as session:
            return int(MAKERS[kind](session, self))

    def url(self, path: str, *, fresh: bool, given: dict[str, int] | None = None) -> str:
        """The path with its placeholders filled: fresh objects when the request may change them."""

        def value(match: re.Match[str]) -> str:
            kind = match.group(1)
            if given and kind in given:
                return str(given[kind])
            if kind.startswith("missing_"):
                return str(MISSING)
            if kind not in MAKERS:
                return str(self.seeded[kind])
            return str(self.make(kind) if fresh else self.seeded[kind])

        return "/api/v1" + re.sub(r"\{(\w+)\}", value, path)


def _user(session: Any, username: str) -> User:
    return user_service.get_or_raise(session, reference=username)


def _taskgroup(session: Any, world: World, owner: str) -> int:
    spec = creation.NewTask(project="p", template="tpl", content={"n": 1}, users=[owner])
    admin = _user(session, "admin")
    label = world.unique("tg")
    return taskgroup_changes.create(session, actor=admin, label=label, specs=[spec]).id


def _held_task(session: Any, world: World) -> int:
    task = make_task(session, users=[world.caller])
    locks.lock(session, task=task, actor=_user(session, OTHER))
    return task.id


def _failed_callback(session: Any, world: World) -> int:
    delivery = callbacks.enqueue(session, url="http://127.0.0.1:9/cb", body=None)
    delivery.status = "failed"
    session.flush()
    return delivery.id


MAKERS: dict[str, Callable[[Any, World], int]] = {
    "task": lambda s, w: make_task(s, users=[w.caller], tags=["shared"]).id,
    "team_task": lambda s, w: make_task(s, groups=["team"]).id,
    "held_task": _held_task,
    "other_task": lambda s, w: make_task(s, users=[OTHER], tags=["shared"]).id,
    "taskgroup": lambda s, w: _taskgroup(s, w, w.caller),
    "other_taskgroup": lambda s, w: _taskgroup(s, w, OTHER),
    "other": lambda s, w: make_user(s, w.unique("other"), "user", commit=False).id,
    "team": lambda s, w: (
        groups.create(s, groupname=w.unique("team"), users=[_user(s, w.caller)]).id
    ),
    "others": lambda s, w: (
        groups.create(s, groupname=w.unique("others"), users=[_user(s, OTHER)]).id
    ),
    "template": lambda s, w: templates.create(s, label=w.unique("tpl"), content={}).id,
    "tag": lambda s, w: tags.create(s, name=w.unique("tag")).id,
    "meta": lambda s, w: meta.create(s, label=w.unique("M"), value="v").id,
    "callback": _failed_callback,
}


def _seed(app: Any, role: str) -> World:
    world = World(app, CALLERS[role] or "uma")
    with in_app(app) as session:
        make_template(session, "tpl")
        for username, role_names in (
            ("uma", ["user"]),
            ("sam", ["superuser"]),
            ("nora", []),
            (OTHER, ["user"]),
        ):
            make_user(session, username, *role_names, commit=False)
        callers = [_user(session, name) for name in ("admin", "uma", "sam", "nora")]
        world.seeded["team"] = groups.create(session, groupname="team", users=callers).id
        world.seeded["self"] = _user(session, world.caller).id
        world.seeded["other"] = _user(session, OTHER).id
    for kind in MAKERS:
        if kind not in world.seeded:
            world.seeded[kind] = world.make(kind)
    return world


def _body(body: Body, world: World) -> Any:
    return body(world) if callable(body) else body


def _normalised(response: Any, number: str) -> str:
    """The answer with the object's id blanked, to compare two answers about different ids."""
    return re.sub(rf"\b{number}\b", "<id>", json.dumps(response.get_json(), sort_keys=True))


def _same_as_missing(client: Any, world: World, row: Row, caller_headers: dict) -> str | None:
    """Someone else's object, to a caller who may not see it, answers as a missing one does."""
    method, path, body, _expected = row
    kind = "other_taskgroup" if "{other_taskgroup}" in path else "other_task"
    number = world.make(kind) if method != "GET" else world.seeded[kind]
    answers = []
    for value in (number, MISSING):
        url = world.url(path, fresh=method != "GET", given={kind: value})
        response = client.open(url, method=method, json=_body(body, world), headers=caller_headers)
        answers.append((response.status_code, _normalised(response, str(value))))
        response.close()
    if answers[0] != answers[1]:
        return f"{method} {path}: {answers[0]} differs from a missing object's {answers[1]}"
    return None


@pytest.mark.parametrize("role", ROLES)
def test_authorisation_matrix(app, client, role: str) -> None:
    world = _seed(app, role)
    caller_headers = headers(CALLERS[role]) if CALLERS[role] else {}
    mismatches = []
    for row in MATRIX:
        method, path, body, expected = row
        # Only a request that succeeds changes its objects; a refused one may use the seeded.
        url = world.url(path, fresh=method != "GET" and expected[role] < 300)
        response = client.open(url, method=method, json=_body(body, world), headers=caller_headers)
        if response.status_code != expected[role]:
            mismatches.append(
                f"{method} {path} ({url}): {response.status_code}, expected {expected[role]}: "
                f"{response.get_data(as_text=True)[:200]}"
            )
        elif response.status_code >= 400:
            answer = response.get_json()
            assert isinstance(answer["message"], str), (method, path, answer)
            if response.status_code == 401:
                assert response.headers["WWW-Authenticate"].startswith("Basic")
        response.close()
        hidden = role in (USER, NOROLE) and re.search(r"\{other_task(group)?\}", path)
        if hidden and (problem := _same_as_missing(client, world, row, caller_headers)):
            mismatches.append(problem)
    assert not mismatches, "\n".join(mismatches)


def test_the_matrix_covers_every_route(app) -> None:
    adapter = app.url_map.bind("localhost")
    covered = set()
    for method, path, _body, _expected in MATRIX:
        url = "/api/v1" + re.sub(r"\{\w+\}", "1", path)
        try:
            rule, _arguments = adapter.match(url, method=method, return_rule=True)
        except (NotFound, MethodNotAllowed):
            pytest.fail(f"{method} {path} matches no route")
        covered.add((method, rule.rule))
    routes = {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert routes - covered == set(), "routes the authorisation matrix does not cover"


def _ids(answer: dict[str, Any]) -> list[int]:
    return [int(task["id"]) for task in answer["tasks"]]


def test_a_user_learns_nothing_of_others_tasks(app, client) -> None:
    """Lists, counts, filters, task groups and claims show a plain user their tasks only."""
    spec = creation.NewTask
    with in_app(app) as session:
        make_template(session, "tpl")
        make_user(session, "uma", "user", commit=False)
        make_user(session, OTHER, "user", commit=False)
        admin = _user(session, "admin")
        # Olga's tasks are the oldest, so a claim that ignored visibility would take them first.
        hidden = [
            make_task(session, users=[OTHER], project="hidden", tags=["secret", "shared"]).id
            for _ in range(3)
        ]
        shared_group = taskgroup_changes.create(
            session,
            actor=admin,
            label="mixed",
            specs=[
                spec(project="p", template="tpl", content="x", users=[OTHER]),
                spec(project="p", template="tpl", content="x", users=["uma"]),
            ],
        )
        taskgroup_changes.create(
            session,
            actor=admin,
            label="theirs",
            specs=[spec(project="p", template="tpl", content="x", users=[OTHER])],
        )
        own = [make_task(session, users=["uma"], tags=["shared"]).id for _ in range(2)]
    uma = headers("uma")

    def get(path: str) -> Any:
        response = client.get(f"/api/v1/{path}", headers=uma)
        assert response.status_code == 200, (path, response.get_json())
        return response.get_json()

    listing = get("tasks")
    mine = sorted(_ids(listing))
    assert len(mine) == 3 and set(own) < set(mine) and not set(hidden) & set(mine)
    assert listing["total_tasks"] == 3
    assert get(f"tasks?user={OTHER}") == listing  # `user` is ignored without task_read_all
    # Filtering by what only others' tasks have answers as filtering by what nothing has.
    for query, nothing in (("tag=secret", "tag=none"), ("project=hidden", "project=none")):
        assert get(f"tasks?{query}") == get(f"tasks?{nothing}")
        assert get(f"tasks?{query}")["total_tasks"] == 0
    assert get("tags/secret/tasks")["tasks"] == [] and get("tags/secret/tasks")["total_tasks"] == 0
    assert _ids(get("tags/shared/tasks")) == own
    assert [group["label"] for group in get("taskgroups")["taskgroups"]] == ["mixed"]
    assert [group["label"] for group in get("taskgroups?status=queued")["taskgroups"]] == ["mixed"]
    assert _ids(get(f"taskgroups/{shared_group.id}")) == sorted(set(mine) - set(own))
    theirs = client.get("/api/v1/taskgroups/theirs", headers=uma)
    missing = client.get("/api/v1/taskgroups/nothing", headers=uma)
    assert theirs.status_code == missing.status_code == 404
    assert theirs.get_json()["errors"].keys() == missing.get_json()["errors"].keys()

    # Claims: filters naming others' tasks find nothing; plain claims hand out exactly hers.
    for filters in ({"tag": "secret"}, {"project": "hidden"}):
        assert client.post("/api/v1/tasks/next", json=filters, headers=uma).status_code == 204
    claimed = []
    for _ in range(len(mine) + 1):
        response = client.post("/api/v1/tasks/next", headers=uma)
        if response.status_code == 204:
            break
        assert response.status_code == 200
        claimed.append(int(response.get_json()["id"]))
    assert sorted(claimed) == mine
    for task_id in hidden:
        lock = client.get(f"/api/v1/tasks/{task_id}/lock", headers=headers("admin")).get_json()
        assert lock["lock"] is None


def test_nobody_grants_themself_a_role(app, client) -> None:
    """Without roles_manage no route gives a role, not even a manager of accounts to themself."""
    with in_app(app) as session:
        manager = ["user_add", "user_update_all", "user_read_all", "group_add", "group_update"]
        roles.create(session, name="clerk", permissions=manager)
        make_user(session, "cleo", "clerk", commit=False)
    cleo = headers("cleo")
    new = {"username": "crony", "password": "long-enough", "email": "crony@example.org"}
    definition = "users: [{username: cleo, email: cleo@example.org, roles: [admin]}]"
    attempts = [
        ("POST", "/api/v1/users", {**new, "roles": ["admin"]}, 403),
        ("PUT", "/api/v1/users/cleo/roles/admin", None, 403),
        ("PUT", "/api/v1/users/cleo/roles/clerk", None, 403),
        ("POST", "/api/v1/service/config/import-config", {"config_definition": definition}, 403),
        ("PUT", "/api/v1/service/config/import-config", {"config_definition": definition}, 403),
        # `roles` is no field of a user's PUT: nothing is changed by it.
        ("PUT", "/api/v1/users/cleo", {"roles": ["admin"], "name": "Cleo"}, 200),
    ]
    for method, path, body, status in attempts:
        response = client.open(path, method=method, json=body, headers=cleo)
        assert response.status_code == status, (method, path, response.get_json())
        response.close()
    with in_app(app) as session:
        assert [role.name for role in _user(session, "cleo").roles] == ["clerk"]
        assert user_service.get_by_reference(session, reference="crony") is None
    # Creating a user without naming roles gives the `user` role, the least there is.
    created = client.post("/api/v1/users", json=new, headers=cleo)
    assert created.status_code == 201
    with in_app(app) as session:
        assert [role.name for role in _user(session, "crony").roles] == ["user"]
