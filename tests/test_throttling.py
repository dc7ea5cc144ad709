"""Login throttling: counters per account and per address, in the database, 429 with Retry-After."""

from datetime import timedelta

from sqlalchemy import update

from taskmanager.models import LoginFailure, db, utcnow
from taskmanager.services import throttling

from .conftest import basic_auth

MAX = 10  # TASKMAN_LOGIN_MAX_FAILURES default


def _fail(client, username: str, times: int, address: str = "10.0.0.1") -> list[int]:
    codes = []
    for _ in range(times):
        response = client.get(
            "/api/v1/users",
            headers=basic_auth(username, "wrong-password"),
            environ_base={"REMOTE_ADDR": address},
        )
        codes.append(response.status_code)
        response.close()
    return codes


def test_account_is_throttled_after_max_failures(app, client) -> None:
    assert _fail(client, "admin", MAX) == [401] * MAX
    refused = client.get(
        "/api/v1/users",
        headers=basic_auth("admin", "admin"),
        environ_base={"REMOTE_ADDR": "10.9.9.9"},
    )
    # Even the right password is refused, without being checked, until the window ends.
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 300
    body = refused.get_json()
    assert body["message"] and "authorization" in body["errors"]
    assert b"wrong-password" not in refused.data and b"admin" not in refused.data


def test_address_is_throttled_across_accounts(app, client, session) -> None:
    for index in range(MAX):
        assert _fail(client, f"nobody{index}", 1, address="10.0.0.7") == [401]
    assert _fail(client, "someone-else", 1, address="10.0.0.7") == [429]
    assert _fail(client, "someone-else", 1, address="10.0.0.8") == [401]
    assert throttling.failures(session, kind="address", key="10.0.0.7") == MAX


def test_successful_logins_do_not_count_and_window_expires(app, client, session) -> None:
    assert _fail(client, "admin", MAX - 1) == [401] * (MAX - 1)
    ok = client.get("/api/v1/users", headers=basic_auth("admin", "admin"))
    assert ok.status_code == 200
    ok.close()
    assert throttling.failures(session, kind="account", key="admin") == MAX - 1
    assert _fail(client, "admin", 1) == [401]
    assert _fail(client, "admin", 1) == [429]
    # Once the window has passed, the next failure starts a new one.
    session.execute(update(LoginFailure).values(window_start=utcnow() - timedelta(seconds=301)))
    session.commit()
    assert _fail(client, "admin", 1) == [401]
    assert throttling.failures(session, kind="account", key="admin") == 1


def test_record_failure_counts_atomically(app, session) -> None:
    keys = throttling.login_keys(identity="Carol", address="192.0.2.1")
    for _ in range(3):
        throttling.record_failure(session, keys=keys, window=300)
    assert throttling.failures(session, kind="account", key="carol") == 3
    assert throttling.failures(session, kind="address", key="192.0.2.1") == 3
    db.session.remove()


def test_web_login_is_throttled_and_shares_the_counters(app, client, session) -> None:
    assert _fail(client, "admin", MAX - 1) == [401] * (MAX - 1)
    app.config["WTF_CSRF_ENABLED"] = False
    try:
        wrong = client.post("/login", json={"username": "admin", "password": "nope"})
        assert wrong.status_code == 400
        wrong.close()
        assert throttling.failures(session, kind="account", key="admin") == MAX
        refused = client.post("/login", json={"username": "admin", "password": "admin"})
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
        refused.close()
    finally:
        app.config["WTF_CSRF_ENABLED"] = True
