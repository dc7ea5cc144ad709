"""Secrets never reach logs or error bodies: passwords tried, database URLs, server errors."""

import logging

import pytest

from taskmanager import create_app
from taskmanager.config import load_settings

from .conftest import basic_auth, make_env

SECRET = "Sup3r-S3cret-Value"


def test_failed_login_does_not_echo_the_password(client, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    response = client.get("/api/v1/users", headers=basic_auth("admin", SECRET))
    assert response.status_code == 401
    assert SECRET.encode() not in response.data
    assert SECRET not in caplog.text
    response.close()


def test_bad_database_url_does_not_echo_its_password(tmp_path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    url = f"postgresql://someone:{SECRET}@127.0.0.1:1/nowhere"
    settings = load_settings(make_env(url, tmp_path)).model_copy(update={"db_wait_timeout": 0.0})
    with pytest.raises(Exception) as failure:
        create_app(settings)
    assert SECRET not in str(failure.value)
    assert SECRET not in caplog.text


def test_server_error_body_has_no_details(settings, caplog) -> None:
    application = create_app(settings.model_copy(update={"auto_migrate": False}))

    @application.get("/boom")
    def boom() -> str:
        raise RuntimeError(f"internal detail {SECRET}")

    with application.test_client() as client:
        response = client.get("/boom")
    assert response.status_code == 500
    assert SECRET.encode() not in response.data
    assert response.get_json()["message"]
    response.close()


def test_refused_account_changes_do_not_echo_the_password(client, admin_headers, caplog) -> None:
    """Whatever is wrong with an account request, the password sent is not in the answer."""
    caplog.set_level(logging.DEBUG)
    taken = {"username": "admin", "password": SECRET, "email": "admin@example.org"}
    bad = [
        ("POST", "/api/v1/users", taken),  # 409: the username and e-mail are taken
        ("POST", "/api/v1/users", {**taken, "username": "x" * 100}),  # 400: too long
        ("POST", "/api/v1/users", {**taken, "username": "n", "password": SECRET + "\u0000"}),
        ("PUT", "/api/v1/users/admin", {"password": SECRET, "email": "not-an-address"}),
        ("PUT", "/api/v1/users/nobody", {"password": SECRET}),  # 404
        ("POST", "/login", {"username": "admin", "password": SECRET}),  # wrong password
    ]
    for method, path, body in bad:
        response = client.open(path, method=method, json=body, headers=admin_headers)
        assert 400 <= response.status_code < 500, (path, response.status_code)
        assert SECRET.encode() not in response.data, (path, response.get_json())
        response.close()
    assert SECRET not in caplog.text


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_credentials_in_a_url_never_reach_the_access_log(
    database_url, tmp_path, log_format
) -> None:
    """A client may still put a token or password in the query string (the server refuses it):
    gunicorn's access log must not keep it, whatever the log format."""
    import requests

    from .support.servers import serve

    env = make_env(database_url, tmp_path / "instance", TASKMAN_LOG_FORMAT=log_format)
    secrets = ["tok-3c1f9a", "pw-77ab21", "key-9e0d44"]
    with serve(env, tmp_path, workers=1) as server:
        answer = requests.get(
            f"{server.url}/api/v1/tasks?auth_token={secrets[0]}&password={secrets[1]}"
            f"&api_key={secrets[2]}&project=kept",
            timeout=30,
        )
        assert answer.status_code == 401
        requests.get(f"{server.url}/-/healthy", timeout=30)  # one more line: the first is out
        server.stop()  # gunicorn writes its access log lines out before it exits
    output = server.log_path.read_text(errors="replace")
    assert "/api/v1/tasks?" in output and "project=kept" in output, output[-2000:]
    for secret in secrets:
        assert secret not in output, output[-2000:]
