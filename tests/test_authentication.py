import pytest

from taskmanager.models import User, db
from taskmanager.services import users

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
