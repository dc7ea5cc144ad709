"""Serving under a path prefix: `uri` fields, Swagger UI links and the spec carry it."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from taskclient import TaskClient
from taskclient.core import User
from werkzeug.exceptions import NotFound
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.serving import make_server
from werkzeug.test import Client

from taskmanager import create_app
from taskmanager.config import normalise_prefix
from taskmanager.models import db

from .conftest import basic_auth, make_env
from .support.servers import serve

ADMIN = basic_auth("admin", "admin")


def mounted(app: Any, prefix: str = "/taskmanager") -> Client:
    """The app as a proxy that strips the prefix into SCRIPT_NAME presents it."""
    return Client(DispatcherMiddleware(NotFound(), {prefix: app}))


@pytest.fixture
def variant(settings: Any) -> Iterator[Any]:
    """A second app on the same database with other proxy settings."""
    apps: list[Any] = []

    def build(**changes: Any) -> Any:
        application = create_app(settings.model_copy(update={"auto_migrate": False, **changes}))
        apps.append(application)
        return application

    yield build
    for application in apps:
        with application.app_context():
            db.engine.dispose()


def test_uri_fields_carry_the_prefix(app: Any) -> None:
    client = mounted(app)
    listing = client.get("/taskmanager/api/v1/users", headers=ADMIN)
    assert listing.status_code == 200
    uris = listing.get_json()["users"]
    assert uris and all(uri.startswith("/taskmanager/api/v1/users/") for uri in uris)
    detail = client.get(uris[0], headers=ADMIN).get_json()
    assert detail["uri"] == uris[0]
    assert detail["tasks"] == f"{uris[0]}/tasks"


def test_swagger_ui_assets_and_spec_carry_the_prefix(app: Any) -> None:
    client = mounted(app)
    page = client.get("/taskmanager/api/v1/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    links = re.findall(r'(?:href|src)="([^"]+)"', html)
    assets = [link for link in links if "swagger-ui" in link]
    assert len(assets) == 4  # stylesheet, favicon, bundle, preset
    for link in assets:
        assert link.startswith("/taskmanager/static/swagger-ui/"), link
        asset = client.get(link)
        assert asset.status_code == 200, link
        asset.close()
    assert 'url: "/taskmanager/api/v1/openapi.json"' in html

    spec = client.get("/taskmanager/api/v1/openapi.json").get_json()
    assert spec["servers"] == [{"url": "/taskmanager"}]
    assert "/api/v1/users" in spec["paths"]


def test_without_a_prefix_nothing_changes(client: Any) -> None:
    html = client.get("/api/v1/").get_data(as_text=True)
    assert 'href="/static/swagger-ui/swagger-ui.css"' in html
    assert client.get("/api/v1/openapi.json").get_json()["servers"] == [{"url": "/"}]
    uris = client.get("/api/v1/users", headers=ADMIN).get_json()["users"]
    assert all(uri.startswith("/api/v1/users/") for uri in uris)


def test_forwarded_prefix_is_trusted_only_when_configured(app: Any, variant: Any) -> None:
    headers = {
        **ADMIN,
        "X-Forwarded-Prefix": "/tm",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "tasks.example.org",
    }
    ignored = app.test_client().get("/api/v1/users", headers=headers).get_json()["users"]
    assert all(uri.startswith("/api/v1/") for uri in ignored)

    trusting = variant(proxy_count=1).test_client()
    uris = trusting.get("/api/v1/users", headers=headers).get_json()["users"]
    assert all(uri.startswith("/tm/api/v1/users/") for uri in uris)
    page = trusting.get("/api/v1/", headers=headers).get_data(as_text=True)
    assert 'href="/tm/static/swagger-ui/swagger-ui.css"' in page


def test_fixed_prefix_for_proxies_that_pass_the_full_path(variant: Any) -> None:
    client = variant(url_prefix=normalise_prefix("taskmanager/")).test_client()
    uris = client.get("/taskmanager/api/v1/users", headers=ADMIN).get_json()["users"]
    assert all(uri.startswith("/taskmanager/api/v1/users/") for uri in uris)
    # Kubernetes probes reach the pod without the prefix.
    assert client.get("/-/ready").status_code == 200
    assert client.get("/taskmanager/-/healthy").status_code == 200


@pytest.mark.parametrize("prefix", ["", "/taskmanager"])
def test_official_task_client_works_behind_a_prefix(app: Any, prefix: str) -> None:
    wsgi = DispatcherMiddleware(NotFound(), {prefix: app}) if prefix else app
    server = make_server("127.0.0.1", 0, wsgi, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        connection = TaskClient(
            f"http://127.0.0.1:{server.server_port}{prefix}",
            user="admin",
            password="admin",
            logger=logging.getLogger("taskclient"),
        )
        try:
            assert connection.api_version == 1.0
            uris = connection.get_json("/users")["users"]
            assert uris and all(uri.startswith(f"{prefix}/api/v1/users/") for uri in uris)
            # task-client follows `uri` fields by appending them to the API root it found.
            user = connection.create_object(User, uris[0])
            assert user.username == "admin"
        finally:
            connection.interface.close()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


LOGIN = {"username": "admin", "password": "admin", "remember": True}


def _set_cookies(response: Any) -> list[str]:
    """A login answer's Set-Cookie headers (from a test client or over HTTP)."""
    assert response.status_code == 200
    headers = response.raw.headers if isinstance(response, requests.Response) else response.headers
    return list(headers.getlist("Set-Cookie"))


def test_cookies_are_secure_when_the_request_came_over_https(app: Any, variant: Any) -> None:
    """Session and remember cookies: HttpOnly and SameSite=Lax always, Secure over HTTPS (the
    server's own, or a trusted proxy's X-Forwarded-Proto) or when TASKMAN_COOKIE_SECURE says so."""
    forwarded = {"X-Forwarded-Proto": "https"}
    client = app.test_client
    answers = {
        "http": (client().post("/login", json=LOGIN), False),
        "https": (client().post("/login", json=LOGIN, base_url="https://localhost"), True),
        "untrusted proxy": (client().post("/login", json=LOGIN, headers=forwarded), False),
        "setting": (variant(cookie_secure=True).test_client().post("/login", json=LOGIN), True),
    }
    # Behind a trusted proxy, over a real connection.
    server = make_server("127.0.0.1", 0, variant(proxy_count=1), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/login"
        with requests.Session() as session:
            answers["trusted proxy"] = (session.post(url, json=LOGIN, headers=forwarded), True)
            answers["trusted proxy, http"] = (session.post(url, json=LOGIN), False)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    names = {
        app.config["SESSION_COOKIE_NAME"],
        app.config.get("REMEMBER_COOKIE_NAME", "remember_token"),
    }
    for case, (response, secure) in answers.items():
        cookies = {header.split("=", 1)[0]: header for header in _set_cookies(response)}
        assert names <= cookies.keys(), (case, cookies)
        for header in cookies.values():
            attributes = [part.strip() for part in header.split(";")[1:]]
            assert "HttpOnly" in attributes and "SameSite=Lax" in attributes, (case, header)
            assert ("Secure" in attributes) is secure, (case, header)


FORWARDED = {
    "X-Forwarded-For": "203.0.113.9",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "tasks.example.org",
    "X-Forwarded-Prefix": "/tm",
}


@pytest.mark.parametrize("proxy_count", [None, "1"])
def test_a_real_server_trusts_forwarded_headers_only_when_configured(
    app: Any, database_url: str, tmp_path: Any, proxy_count: str | None
) -> None:
    """`taskmanager serve` (gunicorn): without TASKMAN_PROXY_COUNT a client on the same host
    cannot set the client address, scheme, host or prefix through X-Forwarded-* headers (or
    gunicorn's SCRIPT_NAME header); with it, exactly that many proxies are trusted."""
    extra = {"TASKMAN_PROXY_COUNT": proxy_count} if proxy_count else {}
    env = make_env(database_url, tmp_path / "instance", **extra)
    trusted = proxy_count is not None
    with serve(env, tmp_path, workers=1) as server:
        with requests.Session() as session:
            login = session.post(f"{server.url}/login", json=LOGIN, headers=FORWARDED)
            cookies = _set_cookies(login)
            assert cookies and all(
                ("Secure" in [part.strip() for part in header.split(";")[1:]]) is trusted
                for header in cookies
            ), cookies
            users = session.get(f"{server.url}/api/v1/users", headers={**ADMIN, **FORWARDED})
            prefix = "/tm" if trusted else ""
            assert all(uri.startswith(f"{prefix}/api/v1/users/") for uri in users.json()["users"])
            spoofed = session.get(
                f"{server.url}/tm/api/v1/users", headers={**ADMIN, "SCRIPT_NAME": "/tm"}
            )
            assert spoofed.status_code == 404
        # The access log shows the client address the application saw (after ProxyFix).
        seen = re.findall(r"^(\S+) - .*\"POST /login ", server.output(), re.MULTILINE)
        assert seen == ["203.0.113.9" if trusted else "127.0.0.1"], server.output()
