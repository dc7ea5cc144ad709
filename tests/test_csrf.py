"""CSRF: a session-authenticated change needs the token; basic and token auth need none."""


def test_session_change_without_csrf_token_is_refused(app, client, admin_headers) -> None:
    login = client.post("/login", json={"username": "admin", "password": "admin"})
    assert login.status_code == 200
    login.close()
    body = {"username": "csrf-victim", "password": "long-enough", "email": "v@example.org"}
    refused = client.post("/api/v1/users", json=body)
    assert refused.status_code == 400 and refused.get_json()["message"]
    refused.close()
    # The same change with basic credentials (which no other site's form can send) works.
    fresh = app.test_client()
    created = fresh.post("/api/v1/users", json=body, headers=admin_headers)
    assert created.status_code == 201
    created.close()


def test_session_change_with_csrf_token_is_accepted(app, client) -> None:
    login = client.post("/login", json={"username": "admin", "password": "admin"})
    assert login.status_code == 200
    token = login.get_json()["response"]["csrf_token"]
    login.close()
    body = {"username": "csrf-ok", "password": "long-enough", "email": "ok@example.org"}
    created = client.post("/api/v1/users", json=body, headers={"X-CSRFToken": token})
    assert created.status_code == 201
    created.close()
    listed = client.get("/api/v1/users")
    assert listed.status_code == 200
    listed.close()
