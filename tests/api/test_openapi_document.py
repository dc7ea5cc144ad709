"""The OpenAPI document is one that client generators accept: every operation has its documented
operationId, every schema one plain name, every error answer the error schema, and the main
routes carry examples that match their schemas."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, TypeAdapter

from taskmanager.api import examples, locks, openapi, templates
from taskmanager.api import tasks_schemas as schemas

DOCS_API = Path(__file__).resolve().parents[2] / "docs" / "api.md"
ROW = re.compile(
    r"^\| `(?P<id>[a-z_]+)` \| (?P<method>GET|POST|PUT|DELETE) \| `(?P<path>[^`]+)` \|$"
)
SCHEMA_REF = "#/components/schemas/"


def documented_operation_ids() -> dict[str, str]:
    """docs/api.md's table: operationId -> "METHOD path"."""
    rows = [ROW.match(line) for line in DOCS_API.read_text().splitlines()]
    found = [row for row in rows if row]
    ids = {row["id"]: f"{row['method']} {row['path']}" for row in found}
    assert len(ids) == len(found), "an operationId is listed twice in docs/api.md"
    return ids


def served_operation_ids(spec: dict[str, Any]) -> dict[str, str]:
    ids: dict[str, str] = {}
    for path, method, operation in openapi.operations(spec):
        operation_id = operation.get("operationId")
        assert operation_id, f"{method.upper()} {path} has no operationId"
        assert operation_id not in ids, f"{operation_id} names two operations"
        ids[operation_id] = f"{method.upper()} {path}"
    return ids


@pytest.fixture
def spec(client: Any) -> dict[str, Any]:
    document: dict[str, Any] = client.get("/api/v1/openapi.json").get_json()
    return document


def test_every_operation_has_its_documented_operation_id(spec: dict[str, Any]) -> None:
    # The ids name the functions of generated clients: changing or dropping one breaks them.
    # A new route adds its row to docs/api.md; a renamed view keeps its id with
    # @doc(operation_id="old_name").
    served = served_operation_ids(spec)
    assert served == documented_operation_ids()
    assert len(served) >= 60
    assert {"list_tasks", "get_task", "lock_task", "claim_next_task", "update_task"} <= set(served)
    assert all(re.fullmatch(r"[a-z]+(_[a-z]+)*", name) for name in served)


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def _shape(node: Any) -> Any:
    """A schema without its names and prose."""
    if isinstance(node, dict):
        return {k: _shape(v) for k, v in node.items() if k not in ("title", "description")}
    if isinstance(node, list):
        return [_shape(value) for value in node]
    return node


def test_schemas_have_plain_names_and_one_name_per_shape(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    assert all(re.fullmatch(r"[A-Z][A-Za-z0-9]*", name) for name in schemas), sorted(schemas)
    for ref in _refs(spec):
        assert ref.startswith(SCHEMA_REF) and ref.removeprefix(SCHEMA_REF) in schemas, ref
    shapes: dict[str, str] = {}
    for name, schema in schemas.items():
        key = json.dumps(_shape(schema), sort_keys=True)
        assert key not in shapes, f"{name} and {shapes[key]} are one shape under two names"
        shapes[key] = name
    # A title is the class name generators use: one per schema.
    titles = [schema.get("title", name) for name, schema in schemas.items()]
    assert len(titles) == len(set(titles))


def test_every_error_answer_is_described_by_the_error_schema(spec: dict[str, Any]) -> None:
    error = {"$ref": f"{SCHEMA_REF}HTTPError"}
    assert spec["components"]["schemas"]["HTTPError"]["required"] == ["message"]
    for path, method, operation in openapi.operations(spec):
        where = f"{method.upper()} {path}"
        responses = operation["responses"]
        for code, response in responses.items():
            if int(code) >= 400 and code != "503":
                assert response["content"]["application/json"]["schema"] == error, (where, code)
        if not path.startswith("/api/v1/"):
            continue
        assert {"401", "429"} <= set(responses), where
        assert "Retry-After" in responses["429"]["headers"], where
        if "requestBody" in operation:
            assert {"400", "413"} <= set(responses), where
        if "{" in path:
            assert "404" in responses, where
    conflicts = [
        op["operationId"] for _, _, op in openapi.operations(spec) if "409" in op["responses"]
    ]
    assert {"lock_task", "create_user", "create_tag", "delete_task_template"} <= set(conflicts)


EXAMPLES: dict[tuple[str, str], tuple[Any, Any]] = {
    # (operationId, "request" or a status): (example, the model the route validates it with)
    ("create_task_template", "request"): (examples.TEMPLATE_CREATE, templates.TemplateCreate),
    ("create_task_template", "201"): (examples.TEMPLATE_OUT, templates.TemplateOut),
    ("create_tasks", "request"): (examples.TASK_IN, schemas.TaskIn),
    ("create_tasks", "201"): (examples.TASK_OUT, schemas.TaskOut),
    ("list_tasks", "200"): (examples.TASK_LIST, schemas.TaskListOut),
    ("get_task", "200"): (examples.TASK_OUT, schemas.TaskOut),
    ("update_task", "request"): (examples.TASK_UPDATE, schemas.TaskUpdate),
    ("update_task", "200"): (examples.TASK_DONE, schemas.TaskOut),
    ("get_task_lock", "200"): (examples.LOCK_OUT, locks.LockOut),
    ("lock_task", "request"): (examples.LOCK_IN, locks.LockIn),
    ("lock_task", "200"): (examples.LOCK_OUT, locks.LockOut),
    ("claim_next_task", "request"): (examples.CLAIM_IN, locks.ClaimIn),
    ("claim_next_task", "200"): (examples.CLAIM_OUT, locks.ClaimOut),
}


def test_main_routes_show_examples_that_match_their_schemas(spec: dict[str, Any]) -> None:
    by_id = {op["operationId"]: op for _, _, op in openapi.operations(spec)}
    for (operation_id, part), (example, model) in EXAMPLES.items():
        operation = by_id[operation_id]
        holder = operation["requestBody"] if part == "request" else operation["responses"][part]
        assert holder["content"]["application/json"]["example"] == example, (operation_id, part)
        # Bodies are strict JSON (api/bodies.py): validated as the route does.
        if issubclass(model, BaseModel):
            model.model_validate_json(json.dumps(example))
        else:
            TypeAdapter(model).validate_json(json.dumps(example))
    assert json.loads(examples.TASK_OUT["content"]) == examples.TASK_IN["content"]


def test_two_models_of_one_name_are_refused_and_one_model_named_once() -> None:
    child = {"type": "object", "title": "Child", "properties": {"a": {"type": "string"}}}
    spec: dict[str, Any] = {
        "paths": {},
        "components": {
            "schemas": {
                "Child": dict(child),
                "One.Child": dict(child),
                "One": {"properties": {"c": {"$ref": f"{SCHEMA_REF}One.Child"}}},
            }
        },
    }
    openapi.plain_schema_names(spec)
    assert sorted(spec["components"]["schemas"]) == ["Child", "One"]
    assert spec["components"]["schemas"]["One"]["properties"]["c"]["$ref"] == f"{SCHEMA_REF}Child"

    spec["components"]["schemas"]["Two.Child"] = {"type": "object", "title": "Child"}
    with pytest.raises(ValueError, match="Two different schemas are named 'Child'"):
        openapi.plain_schema_names(spec)


def test_two_operations_of_one_id_are_refused() -> None:
    spec = {
        "paths": {
            "/a": {"get": {"responses": {}}, "put": {"responses": {}}},
        }
    }
    endpoints = {("/a", "get"): "api_v1.thing", ("/a", "put"): "api_v1.thing"}
    with pytest.raises(ValueError, match="operationId 'thing' of PUT /a is also that of GET /a"):
        openapi.name_operations(spec, endpoints)


def test_redoc_reference_page_is_served_from_the_package(client: Any) -> None:
    page = client.get("/api/v1/redoc")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<redoc spec-url="/api/v1/openapi.json"' in html
    assert '<script src="/static/redoc/redoc.standalone.js">' in html
    assert "http" not in html  # nothing fetched from elsewhere
    bundle = client.get("/static/redoc/redoc.standalone.js")
    assert bundle.status_code == 200 and b"Redoc" in bundle.data[:2000]
    bundle.close()
