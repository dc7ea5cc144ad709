"""Login throttling: counters per account and per address, in the database, 429 with Retry-After."""

import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from taskmanager.models import LoginFailure, db, utcnow
from taskmanager.services.accounts import authentication, throttling
from taskmanager.services.kit.errors import Throttled

from .conftest import basic_auth
from .support.accounts import PASSWORD, headers, make_user
from .support.threads import run_together

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


def test_only_wrong_passwords_count_and_places_are_given_back(app, session) -> None:
    keys = throttling.login_keys(identity="Carol", address="192.0.2.1")
    for failed in (True, False, True, True, False):
        throttling.reserve(session, keys=keys, max_failures=MAX, window=300)
        throttling.settle(session, keys=keys, failed=failed)
    assert throttling.failures(session, kind="account", key="carol") == 3
    assert throttling.failures(session, kind="address", key="192.0.2.1") == 3
    assert session.scalar(select(func.sum(LoginFailure.pending))) == 0
    db.session.remove()


def test_attempts_in_flight_fill_the_limit_before_their_passwords_are_checked(
    app, session, monkeypatch
) -> None:
    monkeypatch.setattr(throttling, "IN_FLIGHT_WAIT_SECONDS", 0.5)
    keys = throttling.login_keys(identity="carol", address="192.0.2.2")
    for _ in range(MAX):
        throttling.reserve(session, keys=keys, max_failures=MAX, window=300)
    # All places are held by checks still running: the next attempt waits, then is refused.
    started = time.monotonic()
    with pytest.raises(Throttled):
        throttling.reserve(session, keys=keys, max_failures=MAX, window=300)
    assert time.monotonic() - started >= throttling.IN_FLIGHT_WAIT_SECONDS
    # A place given back (a right password) lets the next one in.
    throttling.settle(session, keys=keys, failed=False)
    throttling.reserve(session, keys=keys, max_failures=MAX, window=300)
    db.session.remove()


def test_parallel_guesses_never_get_past_the_limit(app, client, session, monkeypatch) -> None:
    """16 threads guessing at once: before the count was read before the slow hash and
    written after it, so 19 of 48 guesses were checked; now at most the limit is."""
    checked = []
    real_verify = authentication.verify_and_update_password

    def slow_verify(password, user):  # as slow as a production hash, so the attempts overlap
        checked.append(password)
        time.sleep(0.05)
        return real_verify(password, user)

    monkeypatch.setattr(authentication, "verify_and_update_password", slow_verify)
    answers = []

    def guess(thread: int) -> None:
        for attempt in range(3):
            response = client.get(
                "/api/v1/users",
                headers=basic_auth("admin", f"guess-{thread}-{attempt}"),
                environ_base={"REMOTE_ADDR": "10.0.0.66"},
            )
            answers.append(response.status_code)
            response.close()

    run_together([(thread,) for thread in range(16)], guess)
    assert len(answers) == 48 and set(answers) == {401, 429}, answers
    assert len(checked) <= MAX and answers.count(401) <= MAX, (len(checked), answers)
    assert throttling.failures(session, kind="account", key="admin") == len(checked)


@pytest.mark.parametrize("refusal", ["deactivated", "unconfirmed"])
def test_a_refused_account_with_its_right_password_locks_nobody_out(
    app, client, session, refusal
) -> None:
    """A deactivated account's client retrying with its (right) password must not make the
    other users at its address wait: only wrong passwords count."""
    fields = {"active": False} if refusal == "deactivated" else {"confirmed": False}
    make_user(session, "gone", "user", **fields)
    refused = client.get
    for _ in range(MAX + 2):
        response = refused(
            "/api/v1/users/gone", headers=headers("gone"), environ_base={"REMOTE_ADDR": "10.0.0.9"}
        )
        assert response.status_code == 401
        response.close()
    app.config["WTF_CSRF_ENABLED"] = False
    try:
        for _ in range(MAX + 2):
            response = client.post("/login", json={"username": "gone", "password": PASSWORD})
            assert response.status_code == 400, response.get_data(as_text=True)
            response.close()
    finally:
        app.config["WTF_CSRF_ENABLED"] = True
    ok = client.get(
        "/api/v1/users",
        headers=basic_auth("admin", "admin"),
        environ_base={"REMOTE_ADDR": "10.0.0.9"},
    )
    assert ok.status_code == 200
    ok.close()
    assert throttling.failures(session, kind="address", key="10.0.0.9") == 0
    assert throttling.failures(session, kind="account", key="gone") == 0


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
