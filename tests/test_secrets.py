"""Secrets never reach logs or error bodies: passwords tried, database URLs, server errors."""

import dataclasses
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
    settings = dataclasses.replace(load_settings(make_env(url, tmp_path)), db_wait_timeout=0.0)
    with pytest.raises(Exception) as failure:
        create_app(settings)
    assert SECRET not in str(failure.value)
    assert SECRET not in caplog.text


def test_server_error_body_has_no_details(settings, caplog) -> None:
    application = create_app(dataclasses.replace(settings, auto_migrate=False))

    @application.get("/boom")
    def boom() -> str:
        raise RuntimeError(f"internal detail {SECRET}")

    with application.test_client() as client:
        response = client.get("/boom")
    assert response.status_code == 500
    assert SECRET.encode() not in response.data
    assert response.get_json()["message"]
    response.close()
