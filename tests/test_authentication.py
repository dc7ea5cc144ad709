import pytest

from taskmanager.models import User, db
from taskmanager.services.accounts import authentication, users

from .conftest import basic_auth


def _make_user(app, **fields) -> None:
    with app.app_context():
        users.create(db.session, **{"password": "secret-pass", "roles": ["user"], **fields})
        db.session.commit()


def test_missing_credentials_are_challenged(client) -> None:
    response = client.get("/api/v1/users")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="TaskManager"'
    assert "message" in response.get_json()


def test_wrong_password_is_refused(client) -> None:
    response = client.get("/api/v1/users", headers=basic_auth("admin", "wrong"))
    assert response.status_code == 401
    assert "WWW-Authenticate" in response.headers


def test_basic_auth_by_username_or_email(client, app) -> None:
    _make_user(app, username="alice", email="Alice@Example.org")
    for identity in ("alice", "alice@example.org", "ALICE@example.org"):
        response = client.get("/api/v1/users/alice", headers=basic_auth(identity, "secret-pass"))
        assert response.status_code == 200, identity
    # Usernames are case-sensitive.
    assert (
        client.get("/api/v1/users/alice", headers=basic_auth("Alice", "secret-pass")).status_code
        == 401
    )


def test_permissions_are_enforced(client, app) -> None:
    _make_user(app, username="bob", email="bob@example.org")
    assert client.get("/api/v1/users", headers=basic_auth("bob", "secret-pass")).status_code == 403
    assert client.get("/api/v1/users", headers=basic_auth("admin", "admin")).status_code == 200


def test_cached_credentials_die_with_password_change_and_deactivation(client, app) -> None:
    _make_user(app, username="carol", email="carol@example.org")
    headers = basic_auth("carol", "secret-pass")
    assert client.get("/api/v1/users/carol", headers=headers).status_code == 200
    with app.app_context():
        carol = db.session.query(User).filter_by(username="carol").one()
        users.set_password(carol, "new-secret")
        db.session.commit()
    assert client.get("/api/v1/users/carol", headers=headers).status_code == 401
    new_headers = basic_auth("carol", "new-secret")
    assert client.get("/api/v1/users/carol", headers=new_headers).status_code == 200
    with app.app_context():
        carol = db.session.query(User).filter_by(username="carol").one()
        carol.active = False
        db.session.commit()
    assert client.get("/api/v1/users/carol", headers=new_headers).status_code == 401


def test_a_credential_in_use_stays_remembered(app) -> None:
    """The cache forgets a credential TTL seconds after its last use, not after its first."""
    _make_user(app, username="erin", email="erin@example.org")
    now = [0.0]
    cache = authentication.CredentialCache("k", 60, timer=lambda: now[0])

    def sign_in() -> None:
        with app.app_context():
            user = authentication.authenticate_basic(
                db.session, identity="erin", password="secret-pass", cache=cache
            )
            assert user is not None and user.username == "erin"

    sign_in()
    for now[0] in (50.0, 100.0, 150.0):  # each within a minute of the one before
        assert cache.get("erin", "secret-pass") is not None
        sign_in()
    now[0] = 211.0  # over a minute unused
    assert cache.get("erin", "secret-pass") is None


def test_token_authentication(client, app) -> None:
    _make_user(app, username="dave", email="dave@example.org")
    with app.app_context():
        dave = db.session.query(User).filter_by(username="dave").one()
        token = dave.get_auth_token()
    response = client.get("/api/v1/users/dave", headers={"Authentication-Token": token})
    assert response.status_code == 200
    assert response.get_json()["username"] == "dave"
    assert (
        client.get("/api/v1/users/dave", headers={"Authentication-Token": token + "x"}).status_code
        == 401
    )
    # Revoking: a new token uniquifier invalidates earlier tokens.
    with app.app_context():
        dave = db.session.query(User).filter_by(username="dave").one()
        users.set_password(dave, "other-secret")
        db.session.commit()
    assert (
        client.get("/api/v1/users/dave", headers={"Authentication-Token": token}).status_code == 401
    )


def test_revoke_tokens_route(client, app, admin_headers) -> None:
    _make_user(app, username="erin", email="erin@example.org")
    _make_user(app, username="fred", email="fred@example.org")
    with app.app_context():
        erin = db.session.query(User).filter_by(username="erin").one()
        token = erin.get_auth_token()
        fred = db.session.query(User).filter_by(username="fred").one()
        fred_token = fred.get_auth_token()
    erin_headers = {"Authentication-Token": token}
    assert client.get("/api/v1/users/erin", headers=erin_headers).status_code == 200
    # A plain user may not revoke someone else's tokens.
    other = client.post("/api/v1/users/fred/revoke-tokens", headers=erin_headers)
    assert other.status_code == 403
    fred_headers = {"Authentication-Token": fred_token}
    assert client.get("/api/v1/users/fred", headers=fred_headers).status_code == 200
    # Oneself: the token used for the call stops working afterwards.
    own = client.post("/api/v1/users/erin/revoke-tokens", headers=erin_headers)
    assert own.status_code == 200 and own.get_json()["username"] == "erin"
    assert client.get("/api/v1/users/erin", headers=erin_headers).status_code == 401
    # An administrator may revoke anyone's.
    assert client.post("/api/v1/users/fred/revoke-tokens", headers=admin_headers).status_code == 200
    assert client.get("/api/v1/users/fred", headers=fred_headers).status_code == 401


@pytest.mark.parametrize(
    ("scheme", "rounds"), [("bcrypt", 4), ("pbkdf2_sha512", 1000), ("sha512_crypt", 1000)]
)
def test_passwords_are_stored_with_argon2_and_old_hashes_upgraded(
    client, app, scheme, rounds
) -> None:
    """New passwords are argon2 hashes; an older server's hash still logs in and is upgraded."""
    from flask_security.utils import get_hmac

    created = client.post(
        "/api/v1/users",
        json={"username": "new", "password": "new-password", "email": "new@example.org"},
        headers=basic_auth("admin", "admin"),
    )
    assert created.status_code == 201
    with app.app_context():
        assert users.get_or_raise(db.session, reference="new").password.startswith("$argon2")
        old = users.get_or_raise(db.session, reference="new")
        handler = app.extensions["security"].pwd_context.handler(scheme).using(rounds=rounds)
        secret = get_hmac("old-password").decode("ascii")  # Flask-Security's double hash
        old.password = handler.hash(secret[:72] if scheme == "bcrypt" else secret)
        db.session.commit()
    assert (
        client.get("/api/v1/users/new", headers=basic_auth("new", "old-password")).status_code
        == 200
    )
    with app.app_context():
        assert users.get_or_raise(db.session, reference="new").password.startswith("$argon2")


def test_a_token_counts_only_in_its_header(client, app) -> None:
    """Tokens in the query string end up in access logs; in the body they were never promised."""
    _make_user(app, username="tess", email="tess@example.org")
    with app.app_context():
        token = db.session.query(User).filter_by(username="tess").one().get_auth_token()
    assert (
        client.get("/api/v1/users/tess", headers={"Authentication-Token": token}).status_code == 200
    )
    for response in (
        client.get(f"/api/v1/users/tess?auth_token={token}"),
        client.post("/api/v1/tags", json={"auth_token": token, "name": "x"}),
        client.put(f"/api/v1/users/tess?auth_token={token}", json={"auth_token": token}),
    ):
        assert response.status_code == 401, response.get_data(as_text=True)
        response.close()


def test_a_deactivated_accounts_session_and_token_stop_working(client, app) -> None:
    _make_user(app, username="uma", email="uma@example.org")
    with app.app_context():
        token = db.session.query(User).filter_by(username="uma").one().get_auth_token()
        users.deactivate(db.session, user=db.session.query(User).filter_by(username="uma").one())
        db.session.commit()
    response = client.get("/api/v1/users/uma", headers={"Authentication-Token": token})
    assert response.status_code == 401


def test_a_missing_account_costs_the_same_hash_as_a_wrong_password(
    client, app, monkeypatch
) -> None:
    """Timing must not tell whether an account exists: a hash runs in both cases."""
    hashed = []
    real_hash = authentication.hash_password
    real_verify = authentication.verify_and_update_password
    monkeypatch.setattr(authentication, "hash_password", lambda p: hashed.append(p) or real_hash(p))
    monkeypatch.setattr(
        authentication,
        "verify_and_update_password",
        lambda p, user: hashed.append(p) or real_verify(p, user),
    )
    for identity in ("admin", "nobody-here", "nobody@example.org"):
        response = client.get("/api/v1/users", headers=basic_auth(identity, "wrong-password"))
        assert response.status_code == 401
        response.close()
    assert hashed == ["wrong-password"] * 3


def test_the_web_login_gives_one_answer_for_unknown_accounts_and_wrong_passwords(
    client, app
) -> None:
    app.config["WTF_CSRF_ENABLED"] = False
    try:
        for field in ("username", "identity"):
            answers = []
            for identity in ("admin", "nobody-here"):
                response = client.post("/login", json={field: identity, "password": "wrong!"})
                answers.append((response.status_code, response.get_json()))
                response.close()
            assert answers[0] == answers[1], answers
            assert "does not exist" not in str(answers[0]) and answers[0][0] == 400
    finally:
        app.config["WTF_CSRF_ENABLED"] = True


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/v1/users/{}", None),
        ("GET", "/api/v1/users/{}/groups", None),
        ("POST", "/api/v1/users/{}/revoke-tokens", None),
        ("PUT", "/api/v1/tasks/{task}/lock", {"lock": "{}"}),
    ],
)
def test_a_plain_user_cannot_tell_which_accounts_exist(client, app, method, path, body) -> None:
    """Someone else's account and one that does not exist answer alike (403)."""
    from .support.accounts import headers, make_user
    from .support.task_factories import make_task, make_template

    with app.app_context():
        make_user(db.session, "vera", "user")
        make_user(db.session, "walt", "user")
        make_template(db.session)
        task = make_task(db.session, users=["vera"])
        db.session.commit()
        task_id = task.id
    answers = []
    for other in ("walt@example.org", "nobody@example.org", "walt", "nobody"):
        url = path.format(other, task=task_id) if "{task}" in path else path.format(other)
        json = {"lock": other} if body else None
        response = client.open(url, method=method, headers=headers("vera"), json=json)
        answers.append((response.status_code, response.get_json()["message"]))
        response.close()
    assert {status for status, _ in answers} == {403}, answers
    assert len({message for _, message in answers}) == 1, answers
