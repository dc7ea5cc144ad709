"""Limits: request body size, password length and list pages answer clearly, never with a 500."""

import pytest

from taskmanager import _flask_config
from taskmanager.config import ConfigurationError, load_settings

from ..conftest import make_env


def test_default_body_limit_fits_a_bulk_of_ten_thousand_tasks(settings) -> None:
    assert settings.max_request_bytes == 64 * 1024 * 1024
    assert _flask_config(settings)["MAX_CONTENT_LENGTH"] == settings.max_request_bytes


def test_body_limit_setting(database_url, tmp_path) -> None:
    env = make_env(database_url, tmp_path, TASKMAN_MAX_REQUEST_BYTES="2048")
    assert load_settings(env).max_request_bytes == 2048
    with pytest.raises(ConfigurationError):
        load_settings(make_env(database_url, tmp_path, TASKMAN_MAX_REQUEST_BYTES="10"))


def test_too_large_body_is_413_with_the_error_shape(app, client, admin_headers, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1024)
    body = {"username": "big", "password": "long-enough", "email": "b@example.org"}
    body["name"] = "x" * 2000
    response = client.post("/api/v1/users", json=body, headers=admin_headers)
    assert response.status_code == 413
    answer = response.get_json()
    assert answer["message"] and answer["errors"]["body"] == [
        "The request body is larger than 1024 bytes"
    ]


def test_overlong_strings_are_refused_without_a_database_error(client, admin_headers) -> None:
    body = {"username": "u" * 5000, "password": "long-enough", "email": "u@example.org"}
    response = client.post("/api/v1/users", json=body, headers=admin_headers)
    assert response.status_code in (400, 422)
    assert "username" in response.get_json()["errors"]


@pytest.mark.parametrize("path", ["/api/v1/users", "/api/v1/groups", "/api/v1/roles"])
def test_list_limit_is_capped(client, admin_headers, path) -> None:
    response = client.get(f"{path}?limit=99999999", headers=admin_headers)
    assert response.status_code == 200
    assert response.get_json()["limit"] == 1000


def test_password_minimum_on_api_create_and_update(app, client, admin_headers) -> None:
    assert app.config["SECURITY_PASSWORD_LENGTH_MIN"] == 8
    body = {"username": "shorty", "password": "short", "email": "s@example.org"}
    refused = client.post("/api/v1/users", json=body, headers=admin_headers)
    assert refused.status_code == 400
    assert refused.get_json()["errors"]["password"]
    body["password"] = "long-enough"
    created = client.post("/api/v1/users", json=body, headers=admin_headers)
    assert created.status_code == 201
    uri = created.get_json()["uri"]
    short = client.put(uri, json={"password": "1234567"}, headers=admin_headers)
    assert short.status_code == 400 and "password" in short.get_json()["errors"]
    assert client.put(uri, json={"password": "12345678"}, headers=admin_headers).status_code == 200


def test_password_minimum_setting(database_url, tmp_path) -> None:
    env = make_env(database_url, tmp_path, SECURITY_PASSWORD_LENGTH_MIN="12")
    settings = load_settings(env)
    assert settings.password_length_min == 12
    assert _flask_config(settings)["SECURITY_PASSWORD_LENGTH_MIN"] == 12


def test_cookie_secure_setting(database_url, tmp_path, settings) -> None:
    assert _flask_config(settings)["SESSION_COOKIE_SECURE"] is False
    secure = load_settings(make_env(database_url, tmp_path, TASKMAN_COOKIE_SECURE="true"))
    config = _flask_config(secure)
    assert config["SESSION_COOKIE_SECURE"] is True and config["REMEMBER_COOKIE_SECURE"] is True


def test_too_many_tags_on_one_task_is_a_clear_400(app, client, admin_headers) -> None:
    from taskmanager.models import db
    from taskmanager.services.tasks import TAGS_PER_TASK_MAX

    from ..support.task_factories import make_template

    with app.app_context():
        make_template(db.session, "tpl")
        db.session.commit()
    tags = [f"t{i}" for i in range(TAGS_PER_TASK_MAX + 1)]
    body = {"project": "p", "template": "tpl", "content": {"template": "tpl"}, "tags": tags}
    response = client.post("/api/v1/tasks", json=body, headers=admin_headers)
    assert response.status_code == 400
    assert "tags" in response.get_json()["errors"]


def test_task_list_limit_is_capped(client, admin_headers) -> None:
    response = client.get("/api/v1/tasks?limit=99999999", headers=admin_headers)
    assert response.status_code == 200
    assert response.get_json()["limit"] == 10_000
