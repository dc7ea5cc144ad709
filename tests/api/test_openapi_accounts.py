"""Every accounts route is described in the OpenAPI document well enough for Swagger UI's
"Try it out" with basic auth: summary, tags, security, request and response schemas."""

ACCOUNT_PATHS = (
    "/api/v1/users",
    "/api/v1/groups",
    "/api/v1/roles",
    "/api/v1/tags",
    "/api/v1/task_templates",
    "/api/v1/meta",
    "/api/v1/service/config/import-config",
)
OWNED_ELSEWHERE = ("/tasks",)


def test_every_accounts_operation_is_documented(client) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["components"]["securitySchemes"]["basicAuth"] == {"type": "http", "scheme": "basic"}
    operations = [
        (path, method, operation)
        for path, methods in spec["paths"].items()
        if path.startswith(ACCOUNT_PATHS) and not path.endswith(OWNED_ELSEWHERE)
        for method, operation in methods.items()
    ]
    assert len(operations) >= 30
    for path, method, operation in operations:
        where = f"{method.upper()} {path}"
        assert operation.get("summary"), where
        assert operation.get("tags") and operation["tags"][0] != "API v1", where
        assert {"basicAuth": []} in operation.get("security", []), where
        assert "401" in operation["responses"], where
        success = next(code for code in operation["responses"] if code.startswith("2"))
        schema = operation["responses"][success]["content"]["application/json"]["schema"]
        assert "$ref" in schema, where
        bodiless = (
            path.endswith(("/users/{user_id}", "/roles/{role_id}")) and path.count("{") == 2
        ) or path.endswith("/revoke-tokens")
        if method in ("post", "put") and not bodiless:
            assert "requestBody" in operation, where


def test_error_answers_are_documented_with_their_shape(client) -> None:
    spec = client.get("/api/v1/openapi.json").get_json()
    error = spec["components"]["schemas"]["HTTPError"]
    assert set(error["properties"]) == {"message", "errors"}
    put_user = spec["paths"]["/api/v1/users/{user_id}"]["put"]
    assert {"400", "403", "404", "409"} <= set(put_user["responses"])
    assert put_user["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "UserUpdate"
    )
