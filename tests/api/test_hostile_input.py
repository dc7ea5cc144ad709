"""Hostile input (issue 15), held on every database: deeply nested JSON, lone UTF-16 surrogates,
values of the wrong JSON type and ids beyond any id column answer 4xx (400 naming the field, or
404 for a path), never 500, and store nothing. The mechanisms: the request class parses every
JSON body (services/kit/documents.py), every body schema is strict (api/bodies.py), `<int:...>` is
bounded (api/errors.py IdConverter), and references go through services/kit/references.py."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from sqlalchemy import func, select

from taskmanager.api.bodies import Body
from taskmanager.models import Meta, Tag, Task, TaskGroup, TaskTemplate, User, db
from taskmanager.services.flows import taskgroup_changes
from taskmanager.services.kit.documents import JSON_MAX_DEPTH
from taskmanager.services.kit.references import MAX_ID

from ..support.task_factories import make_group, make_task, make_template, make_user, set_meta
from ..web.conftest import csrf_token_from, web_login

BEYOND_RECURSION = 100_000  # far beyond the interpreter's recursion limit (was: RecursionError)
HUGE_IDS = (MAX_ID + 1, 2**63, 2**64, 2**70)  # 2**64 and more overflowed SQLite's binding
# Digits int() refuses: more than Python converts (4300), and a digit that is not 0-9.
NOT_INTS = ("9" * 5000, "%C2%B2")
SURROGATE_ESCAPE = b'"x\\ud800"'  # JSON's escape for half a UTF-16 pair
SURROGATE_BYTES = b'"x\xed\xa0\x80"'  # the same, as CESU-8 bytes (json reads "surrogatepass")


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.fixture
def world(app: Any) -> dict[str, Any]:
    """A template declaring scans, alice (a plain user) in a group, a task, a task group, a tag."""
    with app.app_context():
        make_template(db.session, "tpl")
        make_template(db.session, "scans", {"template_name": "scans", "scans": [{"label": "T1"}]})
        alice = make_user(db.session, "alice")
        make_group(db.session, "team", [alice])
        task = make_task(db.session, users=["alice"], tags=["t"])
        set_meta(db.session, "site", "leiden")
        group = taskgroup_changes.create(db.session, actor=None, label="round")
        db.session.commit()
        return {"task": task.id, "alice": alice.id, "taskgroup": group.id}


def _counts(app: Any) -> tuple[int, ...]:
    with app.app_context():
        return tuple(
            db.session.scalar(select(func.count()).select_from(model))
            for model in (Task, User, Tag, TaskTemplate, TaskGroup, Meta)
        )


def _send(client: Any, method: str, url: str, body: bytes | str, headers: Any = None) -> Any:
    return client.open(
        url, method=method, data=body, content_type="application/json", headers=headers or {}
    )


def _error_fields(response: Any) -> set[str]:
    body = response.get_json()
    assert isinstance(body, dict) and isinstance(body.get("message"), str), response.data[:300]
    errors = body.get("errors", {})
    assert all(isinstance(m, list) and all(isinstance(s, str) for s in m) for m in errors.values())
    return set(errors)


def _json_operations(client: Any, admin_headers: Any) -> list[tuple[str, str, str]]:
    """(method, URL, OpenAPI path) of every v1 operation documented with a JSON body."""
    spec = client.get("/api/v1/openapi.json", headers=admin_headers).get_json()
    found = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if isinstance(operation, dict) and "requestBody" in operation:
                found.append((method.upper(), re.sub(r"\{[^}]+\}", "1", path), path))
    assert len(found) > 15  # the document lists the API's writing routes
    return found


# --- 3. nesting ------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [JSON_MAX_DEPTH + 1, BEYOND_RECURSION])
def test_deep_nesting_is_400_on_every_route_reading_json(
    app, client, admin_headers, world, depth
) -> None:
    before = _counts(app)
    for method, url, _path in [*_json_operations(client, admin_headers), ("POST", "/login", "")]:
        for body in (nested(depth), '{"project": ' + nested(depth) + ', "label": "x"}'):
            response = _send(client, method, url, body, admin_headers)
            assert response.status_code == 400, (method, url, response.data[:300])
            assert _error_fields(response) == {"json"}, (method, url)
    assert _counts(app) == before


def test_deep_nesting_from_anonymous_callers_is_401_first(client, admin_headers, world) -> None:
    for method, url, _path in _json_operations(client, admin_headers):
        response = _send(client, method, url, nested(BEYOND_RECURSION))
        assert response.status_code == 401, (method, url, response.data[:300])
        assert response.headers["WWW-Authenticate"].startswith("Basic ")
    wrong = {"Authorization": "Basic eDp5"}  # x:y
    assert _send(client, "POST", "/api/v1/tasks", nested(2000), wrong).status_code == 401


def test_nesting_up_to_the_limit_is_kept(app, client, admin_headers, world) -> None:
    """The body is the first level: content may nest JSON_MAX_DEPTH - 1 more."""
    tasks_before = _counts(app)[0]
    for depth, status in ((JSON_MAX_DEPTH - 1, 201), (JSON_MAX_DEPTH, 400)):
        body = '{"project": "p", "template": "tpl", "content": ' + nested(depth) + "}"
        response = _send(client, "POST", "/api/v1/tasks", body, admin_headers)
        assert response.status_code == status, (depth, response.data[:300])
        if status == 201:
            assert response.get_json()["content"] == nested(depth)
    assert _counts(app)[0] == tasks_before + 1


@pytest.mark.parametrize("depth", [JSON_MAX_DEPTH + 1, BEYOND_RECURSION])
@pytest.mark.parametrize(
    "method,url,field,make_body",
    [
        ("POST", "/api/v1/task_templates", "content", lambda t: {"label": "deep", "content": t}),
        ("PUT", "/api/v1/task_templates/tpl", "content", lambda t: {"content": t}),
        (
            "POST",
            "/api/v1/service/config/import-config",
            "config_definition",
            lambda t: {"config_definition": t},
        ),
    ],
)
def test_documents_in_text_are_bounded_too(
    app, client, admin_headers, world, depth, method, url, field, make_body
) -> None:
    before = _counts(app)
    for text in (nested(depth), "[" * depth + "x" + "]" * depth):  # JSON, and YAML only
        response = client.open(url, method=method, json=make_body(text), headers=admin_headers)
        assert response.status_code == 400, (text[:10], response.data[:300])
        assert _error_fields(response) == {field}
    assert _counts(app) == before


def test_deep_text_content_is_stored_as_text_and_shown(app, client, admin_headers, world) -> None:
    """Task content given as text is kept as written (JSON or YAML or neither); reading it back,
    checking its scans and showing it on the web page parse it without failing."""
    text = nested(BEYOND_RECURSION // 10)
    for template in ("tpl", "scans"):
        body = {"project": "p", "template": template, "raw_content": text}
        created = client.post("/api/v1/tasks", json=body, headers=admin_headers)
        assert created.status_code == 201, created.data[:300]
        task_id = created.get_json()["id"]
        assert client.get(f"/api/v1/tasks/{task_id}", headers=admin_headers).status_code == 200
    web_login(client, "admin", "admin")
    assert client.get(f"/tasks/{task_id}").status_code == 200


# --- 4. lone surrogates ----------------------------------------------------------------------

S = "\x00SURROGATE\x00"  # placeholder in the bodies below, replaced by each encoding's bytes
SURROGATE_CASES = [
    ("POST", "/api/v1/tasks", {"project": S, "template": "tpl", "content": {}}, "project"),
    ("POST", "/api/v1/tasks", {"project": "p", "template": S, "content": {}}, "template"),
    *(
        ("POST", "/api/v1/tasks", {"project": "p", "template": "tpl", "content": {}, name: S}, name)
        for name in (
            "tracking_id",
            "callback_url",
            "raw_callback_url",
            "generator_url",
            "application_name",
            "application_version",
            "raw_content",
            "callback_content",
        )
    ),
    (
        "POST",
        "/api/v1/tasks",
        {"project": "p", "template": "tpl", "content": {"a": [S]}},
        "content.a.0",
    ),
    ("POST", "/api/v1/tasks", {"project": "p", "template": "tpl", "content": S}, "content"),
    ("POST", "/api/v1/tasks", {"project": "p", "template": "tpl", "tags": [S]}, "tags.0"),
    ("POST", "/api/v1/tasks", {"project": "p", "template": "tpl", "users": [S]}, "users.0"),
    (
        "POST",
        "/api/v1/tasks",
        [{"project": "p", "template": "tpl", "content": {}}, {"project": S}],
        "1.project",
    ),
    ("PUT", "/api/v1/tasks/{task}", {"status": S}, "status"),
    ("PUT", "/api/v1/tasks/{task}", {"callback_content": {"k": S}}, "callback_content.k"),
    ("PUT", "/api/v1/tasks/{task}/lock", {"lock": S}, "lock"),
    ("POST", "/api/v1/tasks/next", {"project": S}, "project"),
    ("POST", "/api/v1/tasks/next", {"template": S}, "template"),
    ("POST", "/api/v1/tasks/next", {"tag": [S]}, "tag.0"),
    ("POST", "/api/v1/taskgroups", {"label": S}, "label"),
    ("PUT", "/api/v1/taskgroups/{taskgroup}", {"callback_content": S}, "callback_content"),
    ("POST", "/api/v1/tags", {"name": S}, "name"),
    (
        "POST",
        "/api/v1/users",
        {"username": S, "password": "long-enough-1", "email": "u@x.org"},
        "username",
    ),
    ("PUT", "/api/v1/users/{alice}", {"name": S}, "name"),
    ("POST", "/api/v1/groups", {"groupname": S}, "groupname"),
    ("POST", "/api/v1/task_templates", {"label": "l", "content": S}, "content"),
    ("PUT", "/api/v1/meta/site", {"value": S}, "value"),
    ("POST", "/api/v1/service/config/import-config", {"config_definition": S}, "config_definition"),
    ("POST", "/login", {"username": S, "password": "x"}, "username"),
    ("POST", "/login", {"email": S, "password": "x"}, "email"),
]


def _with_surrogate(body: Any, encoded: bytes) -> bytes:
    return json.dumps(body).encode().replace(json.dumps(S).encode(), encoded)


@pytest.mark.parametrize(
    "method,url,body,field",
    SURROGATE_CASES,
    ids=[f"{m} {u} {f}" for m, u, _b, f in SURROGATE_CASES],
)
def test_lone_surrogates_are_400_naming_the_field(
    app, client, admin_headers, world, method, url, body, field
) -> None:
    before = _counts(app)
    for encoded in (SURROGATE_ESCAPE, SURROGATE_BYTES):
        data = _with_surrogate(body, encoded)
        response = _send(client, method, url.format(**world), data, admin_headers)
        assert response.status_code == 400, (encoded, response.data[:300])
        assert _error_fields(response) == {field}
    assert _counts(app) == before


def test_lone_surrogate_in_a_key_names_where_it_is(client, admin_headers, world) -> None:
    data = b'{"project": "p", "template": "tpl", "content": {"a": {"k\\udc00": 1}}}'
    response = _send(client, "POST", "/api/v1/tasks", data, admin_headers)
    assert response.status_code == 400
    (field,) = _error_fields(response)
    assert field.startswith("content.a.k")
    response.get_data().decode("utf-8")  # the answer itself is text: no surrogate in it


@pytest.mark.parametrize(
    "method,url",
    [
        ("GET", "/api/v1/tasks?project=%ED%A0%80&tag=%ED%A0%80&status=%ED%A0%80"),
        ("GET", "/api/v1/tasks?template=%ED%A0%80&user=%ED%A0%80&application_name=%ED%A0%80"),
        ("POST", "/api/v1/tasks/next?project=%ED%A0%80&template=%ED%A0%80&tag=%ED%A0%80"),
        ("GET", "/api/v1/users/%ED%A0%80"),
        ("GET", "/api/v1/taskgroups/%ED%A0%80"),
        ("GET", "/api/v1/task_templates/%ED%A0%80"),
        ("GET", "/api/v1/callbacks?status=%ED%A0%80"),
    ],
)
def test_query_strings_and_paths_cannot_carry_a_surrogate(
    client, admin_headers, world, method, url
) -> None:
    """werkzeug keeps undecodable %-escapes as written (query) or replaces them (path)."""
    response = client.open(url, method=method, headers=admin_headers)
    assert response.status_code in (200, 204, 400, 404), response.data[:300]
    if response.status_code >= 400:
        _error_fields(response)


def test_form_posts_cannot_carry_a_surrogate(client, world) -> None:
    page = client.get("/login")
    token = csrf_token_from(page.get_data(as_text=True))
    for data in (
        "identity=%ED%A0%80&password=x&csrf_token=" + token,
        "identity=x%ED%A0%80&password=%ED%A0%80&csrf_token=" + token,
    ):
        response = client.post(
            "/login", data=data, content_type="application/x-www-form-urlencoded"
        )
        assert response.status_code < 500, response.data[:300]


def test_services_refuse_surrogates_from_any_source(app, client, admin_headers, world) -> None:
    """YAML's own "\\ud800" escape reaches the services as text: validation.text refuses it."""
    yaml_text = 'users:\n  - {username: "x\\ud800", email: "x@example.org"}\n'
    response = client.post(
        "/api/v1/service/config/import-config",
        json={"config_definition": yaml_text},
        headers=admin_headers,
    )
    assert response.status_code == 400
    assert _error_fields(response) == {"config_definition"}


# --- 11. types as sent -----------------------------------------------------------------------

NOT_AN_ID = [True, False, 1.0, 0, -1, "", *HUGE_IDS]
REFERENCE_CASES = [
    (
        "POST",
        "/api/v1/tasks",
        lambda v: {"project": "p", "template": "tpl", "users": [v]},
        "users.0",
    ),
    (
        "POST",
        "/api/v1/tasks",
        lambda v: {"project": "p", "template": "tpl", "groups": [v]},
        "groups.0",
    ),
    ("POST", "/api/v1/tasks", lambda v: {"project": "p", "template": "tpl", "tags": [v]}, "tags.0"),
    ("POST", "/api/v1/tasks", lambda v: {"project": "p", "template": v}, "template"),
    (
        "POST",
        "/api/v1/tasks",
        lambda v: {"project": "p", "template": "tpl", "distribute_in_group": v},
        "distribute_in_group",
    ),
    ("PUT", "/api/v1/tasks/{task}", lambda v: {"users": [v]}, "users.0"),
    ("PUT", "/api/v1/tasks/{task}/lock", lambda v: {"lock": v}, "lock"),
    (
        "POST",
        "/api/v1/taskgroups",
        lambda v: {"label": "g", "distribute_in_group": v},
        "distribute_in_group",
    ),
    ("PUT", "/api/v1/taskgroups/{taskgroup}", lambda v: {"tasks": [v]}, "tasks.0"),
    ("POST", "/api/v1/groups", lambda v: {"groupname": "g", "users": [v]}, "users.0"),
    ("PUT", "/api/v1/groups/team", lambda v: {"users": [v]}, "users.0"),
    (
        "POST",
        "/api/v1/users",
        lambda v: {"username": "u", "password": "long-enough-1", "email": "u@x.org", "roles": [v]},
        "roles.0",
    ),
]


def _refused_fields(response: Any, field: str) -> bool:
    """A field named as sent, or (for bulk-style keys) its list: `users.0` or `users`."""
    fields = _error_fields(response)
    return fields in ({field}, {field.rsplit(".", 1)[0]})


@pytest.mark.parametrize(
    "method,url,make_body,field",
    REFERENCE_CASES,
    ids=[f"{m} {u} {f}" for m, u, _b, f in REFERENCE_CASES],
)
def test_references_are_names_or_ids_never_booleans_floats_or_huge(
    app, client, admin_headers, world, method, url, make_body, field
) -> None:
    before = _counts(app)
    for value in NOT_AN_ID:
        if value == "":
            continue  # an empty name is a name: the services answer it (400 or 404)
        response = client.open(
            url.format(**world), method=method, json=make_body(value), headers=admin_headers
        )
        assert response.status_code == 400, (value, response.data[:300])
        assert _refused_fields(response, field), (value, response.get_json())
    assert _counts(app) == before


def test_ids_names_and_urls_still_name_objects(app, client, admin_headers, world) -> None:
    """The old wire format: ids as numbers or text, names, URLs."""
    with app.app_context():
        admin_id = db.session.scalar(select(User.id).where(User.username == "admin"))
    for users in ([admin_id], [str(admin_id)], ["admin"], [f"/api/v1/users/{admin_id}"]):
        body = {"project": "p", "template": "tpl", "content": {}, "users": users}
        response = client.post("/api/v1/tasks", json=body, headers=admin_headers)
        assert response.status_code == 201, (users, response.data[:300])
        assert response.get_json()["users"] == [f"/api/v1/users/{admin_id}"]
    for lock in (world["alice"], "alice", str(world["alice"])):
        url = f"/api/v1/tasks/{world['task']}/lock"
        assert client.put(url, json={"lock": lock}, headers=admin_headers).status_code == 200
        client.delete(url, headers=admin_headers)


@pytest.mark.parametrize(
    "body,field",
    [
        ({"active": "no"}, "active"),
        ({"active": "false"}, "active"),
        ({"active": 0}, "active"),
        ({"active": None}, "active"),
        ({"assignment_weight": "2"}, "assignment_weight"),
        ({"assignment_weight": True}, "assignment_weight"),
        ({"name": 5}, "name"),
        ({"username": ["alice"]}, "username"),
    ],
)
def test_user_fields_take_their_json_type(app, client, admin_headers, world, body, field) -> None:
    url = f"/api/v1/users/{world['alice']}"
    before = client.get(url, headers=admin_headers).get_json()
    response = client.put(url, json=body, headers=admin_headers)
    assert response.status_code == 400, response.data[:300]
    assert _error_fields(response) == {field}
    assert client.get(url, headers=admin_headers).get_json() == before
    create = {"username": "newbie", "password": "long-enough-1", "email": "n@x.org", **body}
    if field != "username":
        response = client.post("/api/v1/users", json=create, headers=admin_headers)
        assert response.status_code == 400 and _error_fields(response) == {field}


def test_booleans_and_numbers_sent_as_such_are_taken(client, admin_headers, world) -> None:
    url = f"/api/v1/users/{world['alice']}"
    changed = client.put(url, json={"active": False, "assignment_weight": 2}, headers=admin_headers)
    assert changed.status_code == 200, changed.data[:300]
    assert changed.get_json()["active"] is False
    assert changed.get_json()["assignment_weight"] == 2.0


NOT_JSON_NUMBERS = ["NaN", "Infinity", "-Infinity", "1e999", "-1e999"]


@pytest.mark.parametrize("number", NOT_JSON_NUMBERS)
@pytest.mark.parametrize(
    "method,url,template,field",
    [
        (
            "POST",
            "/api/v1/tasks",
            '{"project": "p", "template": "tpl", "content": {"a": %s}}',
            "content.a",
        ),
        (
            "POST",
            "/api/v1/tasks",
            '{"project": "p", "template": "tpl", "content": {}, "callback_content": [%s]}',
            "callback_content.0",
        ),
        ("PUT", "/api/v1/tasks/{task}", '{"callback_content": {"n": %s}}', "callback_content.n"),
        ("POST", "/api/v1/task_templates", '{"label": "l", "content": {"n": %s}}', "content.n"),
        ("PUT", "/api/v1/meta/site", '{"value": %s}', "value"),
        ("PUT", "/api/v1/users/{alice}", '{"assignment_weight": %s}', "assignment_weight"),
        (
            "POST",
            "/api/v1/taskgroups",
            '{"label": "g", "callback_content": %s}',
            "callback_content",
        ),
    ],
)
def test_nan_and_infinity_are_not_json(
    app, client, admin_headers, world, number, method, url, template, field
) -> None:
    before = _counts(app)
    body = template % number
    response = _send(client, method, url.format(**world), body, admin_headers)
    assert response.status_code == 400, response.data[:300]
    assert _error_fields(response) == {field}
    assert _counts(app) == before
    with app.app_context():
        assert db.session.scalar(select(Meta.value).where(Meta.label == "site")) == "leiden"


@pytest.mark.parametrize(
    "email",
    [
        "eve@example.org\r\nBcc: all@example.org",
        "eve@example.org\n",
        "eve\r@example.org",
        "eve @example.org",
        "eve@example.org\t",
        "eve@exam\x0bple.org",
    ],
)
def test_email_addresses_hold_no_spaces_or_line_breaks(
    app, client, admin_headers, world, email
) -> None:
    before = _counts(app)
    create = {"username": "eve", "password": "long-enough-1", "email": email}
    response = client.post("/api/v1/users", json=create, headers=admin_headers)
    assert response.status_code == 400 and _error_fields(response) == {"email"}
    url = f"/api/v1/users/{world['alice']}"
    response = client.put(url, json={"email": email}, headers=admin_headers)
    assert response.status_code == 400 and _error_fields(response) == {"email"}
    config = f"users:\n  - username: eve\n    email: {json.dumps(email)}\n"
    response = client.post(
        "/api/v1/service/config/import-config",
        json={"config_definition": config},
        headers=admin_headers,
    )
    assert response.status_code == 400, response.data[:300]
    assert _error_fields(response) == {"users[0].email"}
    assert _counts(app) == before
    assert client.get(url, headers=admin_headers).get_json()["email"] == "alice@example.org"


def test_config_import_takes_active_as_a_boolean(app, client, admin_headers, world) -> None:
    config = 'users:\n  - {username: eve, active: "no"}\n'
    response = client.post(
        "/api/v1/service/config/import-config",
        json={"config_definition": config},
        headers=admin_headers,
    )
    assert response.status_code == 400 and _error_fields(response) == {"users[0].active"}


def test_every_body_schema_is_strict(app) -> None:
    """Each JSON body a route reads is validated by a strict schema (api/bodies.py)."""
    schemas = {
        view._spec["body"]
        for view in app.view_functions.values()
        if "body" in getattr(view, "_spec", {})
    }
    assert len(schemas) > 15
    for schema in schemas:
        assert issubclass(schema, Body) or schema.model_config.get("strict") is True, schema


# --- 8. ids beyond any id column -------------------------------------------------------------

# Bodies that get a route past validation, so that its path is what answers.
VALID_BODIES = {
    ("PUT", "/api/v1/meta/{meta_id}"): {"value": "x"},
    ("PUT", "/api/v1/tags/{tag_id}"): {"name": "x"},
}
# Path parts that are names whatever they look like: any text names a project.
NAMES_IN_PATHS = frozenset({"project"})


def _with_ids(rule: str, value: Any) -> str:
    return re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", str(value), rule)


def test_ids_beyond_any_id_column_in_api_paths_are_404(app, client, admin_headers, world) -> None:
    before = _counts(app)
    checked = 0
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api_v1.") or not rule.arguments - NAMES_IN_PATHS:
            continue
        openapi_path = re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            body = VALID_BODIES.get((method, openapi_path), {})
            for huge in (*HUGE_IDS, *NOT_INTS):
                url = _with_ids(rule.rule, huge)
                response = client.open(url, method=method, json=body, headers=admin_headers)
                assert response.status_code == 404, (method, url, response.data[:300])
                _error_fields(response)
                checked += 1
    assert checked > 100
    assert _counts(app) == before


def test_ids_beyond_any_id_column_in_web_paths_are_404(app, client, world) -> None:
    web_login(client, "admin", "admin")
    token = csrf_token_from(client.get("/tags/new").get_data(as_text=True))
    checked = 0
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("web.") or not rule.arguments:
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            for huge in (*HUGE_IDS, *NOT_INTS):
                url = _with_ids(rule.rule, huge)
                response = client.open(url, method=method, data={"csrf_token": token})
                assert response.status_code == 404, (method, url)
                checked += 1
    assert checked > 50


def test_every_int_path_parameter_is_bounded(app) -> None:
    """One converter serves `<int:...>` everywhere: registered before any route was added."""
    from werkzeug.routing import IntegerConverter

    from taskmanager.api.errors import IdConverter

    bounded = 0
    for rule in app.url_map.iter_rules():
        for converter in rule._converters.values():
            if isinstance(converter, IntegerConverter):
                assert isinstance(converter, IdConverter), rule.rule
                assert converter.max == MAX_ID
                bounded += 1
    assert bounded > 20


def test_task_group_ids_beyond_64_bits_are_unknown(client, admin_headers, world) -> None:
    """The reported case: SQLite raised OverflowError for any signed-in user."""
    for huge in HUGE_IDS:
        for method in ("GET", "PUT"):
            response = client.open(
                f"/api/v1/taskgroups/{huge}", method=method, json={}, headers=admin_headers
            )
            assert response.status_code == 404
            assert _error_fields(response) == {"taskgroup"}
    ours = client.get(f"/api/v1/taskgroups/{world['taskgroup']}", headers=admin_headers)
    assert ours.status_code == 200


@pytest.mark.parametrize(
    "url,statuses",
    [
        ("/api/v1/tasks?template={huge}", {200}),
        ("/api/v1/tasks?user={huge}", {200, 404}),
        ("/api/v1/tasks?offset={huge}", {400}),
        ("/api/v1/callbacks?task={huge}", {400}),
        ("/api/v1/callbacks?taskgroup={huge}", {400}),
        ("/api/v1/taskgroups?offset={huge}", {400}),
        ("/api/v1/users?offset={huge}", {400}),
    ],
)
def test_ids_beyond_any_id_column_in_query_strings(
    client, admin_headers, world, url, statuses
) -> None:
    for huge in HUGE_IDS:
        response = client.get(url.format(huge=huge), headers=admin_headers)
        assert response.status_code in statuses, (huge, response.data[:300])
        if response.status_code >= 400:
            _error_fields(response)
    for template in (str(2**70), *NOT_INTS):
        claim = client.post(f"/api/v1/tasks/next?template={template}", headers=admin_headers)
        assert claim.status_code == 204, template
        tasks = client.get(f"/api/v1/tasks?template={template}", headers=admin_headers)
        assert tasks.status_code == 200 and tasks.get_json()["total_tasks"] == 0


@pytest.mark.parametrize("value", [*HUGE_IDS, *NOT_INTS])
def test_numbers_no_id_column_holds_name_nothing_in_bodies(
    client, admin_headers, world, value
) -> None:
    """As text they are names: unknown (404 naming the field), never converted."""
    text = str(value).replace("%C2%B2", "\u00b2")
    for body, field in (
        ({"project": "p", "template": text, "content": {}}, "template"),
        ({"project": "p", "template": "tpl", "content": {}, "users": [text]}, "users"),
        ({"project": "p", "template": "tpl", "content": {}, "distribute_in_group": text}, None),
    ):
        response = client.post("/api/v1/tasks", json=body, headers=admin_headers)
        assert response.status_code == 404, response.data[:300]
        assert field is None or _error_fields(response) == {field}
    claim = client.post("/api/v1/tasks/next", json={"template": text}, headers=admin_headers)
    assert claim.status_code == 204


@pytest.mark.parametrize(
    "url",
    [
        "/tasks?q={n}",
        "/tasks?q=%23{n}",
        "/mail?user={n}&group={n}",
        "/reassign?from_user={n}",
        "/users?page={n}",
        "/tasks?page={n}&per_page={n}",
        "/taskgroups?page={n}",
        "/groups?page={n}",
    ],
)
def test_web_query_strings_with_numbers_no_id_column_holds(app, client, world, url) -> None:
    web_login(client, "admin", "admin")
    for value in (*HUGE_IDS, *NOT_INTS):
        response = client.get(url.format(n=value))
        assert response.status_code in (200, 302), (value, response.status_code)
