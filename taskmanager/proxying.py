"""Serving behind a reverse proxy: under a path prefix (e.g. /taskmanager), and over HTTPS.

Two ways to tell the server its prefix, both ending in WSGI's SCRIPT_NAME so that every
`url_for` (and so every `uri` field and UI link) carries it:

- the proxy strips the prefix and sends `X-Forwarded-Prefix` (nginx, ingress-nginx), trusted
  only with TASKMAN_PROXY_COUNT > 0 (werkzeug's ProxyFix, which also handles -For/-Proto/-Host);
- TASKMAN_URL_PREFIX names it, for proxies that pass the full path on (Traefik, a plain
  Kubernetes ingress): requests under the prefix have it moved to SCRIPT_NAME, requests
  without it (health probes on the pod) are served as they are.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from flask import Flask, Response, has_request_context, request, url_for
from markupsafe import Markup, escape
from werkzeug.middleware.proxy_fix import ProxyFix

from .config import Settings

API_ROOT = "/api/v1"

WSGIApp = Any


class PrefixMiddleware:
    """Moves a fixed prefix from PATH_INFO to SCRIPT_NAME; undoes task-client's doubled prefix."""

    def __init__(self, app: WSGIApp, prefix: str = "") -> None:
        self.app = app
        self.prefix = prefix

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if self.prefix:
            path = environ.get("PATH_INFO", "")
            if path == self.prefix or path.startswith(self.prefix + "/"):
                environ["PATH_INFO"] = path[len(self.prefix) :] or "/"
            environ["SCRIPT_NAME"] = self.prefix
        script_name = environ.get("SCRIPT_NAME", "").rstrip("/")
        if script_name:
            # task-client 1.0.1 appends a `uri` path to the API root it found, so behind a prefix
            # `/api/v1/tasks/1` arrives as `/api/v1/<prefix>/api/v1/tasks/1`. No real route looks
            # like that, so take the inner path.
            doubled = f"{API_ROOT}{script_name}{API_ROOT}/"
            path = environ.get("PATH_INFO", "")
            if path.startswith(doubled):
                environ["PATH_INFO"] = path[len(API_ROOT) + len(script_name) :]
        return self.app(environ, start_response)  # type: ignore[no-any-return]


def init_app(app: Flask, settings: Settings) -> None:
    app.wsgi_app = wrap(app.wsgi_app, settings)  # type: ignore[method-assign]
    app.after_request(_spec_servers)


def _spec_servers(response: Response) -> Response:
    """The OpenAPI document names the server by path (with any prefix), so "Try it out" works.

    APIFlask would otherwise cache the host of whichever request came first.
    """
    # openapi.swagger_json: the same document at the old server's address.
    if request.endpoint in ("openapi.spec", "openapi.swagger_json") and response.is_json:
        spec = json.loads(response.get_data())
        spec["servers"] = [{"url": request.script_root or "/"}]
        response.set_data(json.dumps(spec))
    return response


class SecureCookies:
    """Marks every cookie Secure when the request came over HTTPS.

    HTTPS is what WSGI's url_scheme says: the server's own TLS, or a trusted proxy's
    X-Forwarded-Proto (TASKMAN_PROXY_COUNT). Over plain HTTP cookies stay as Flask sets them
    (Secure only with TASKMAN_COOKIE_SECURE), so that a server on a plain-HTTP network keeps
    its logins working.
    """

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ.get("wsgi.url_scheme") != "https":
            return self.app(environ, start_response)  # type: ignore[no-any-return]

        def secure_start_response(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            headers = [
                (name, _secure(value) if name.lower() == "set-cookie" else value)
                for name, value in headers
            ]
            return start_response(status, headers, *args)

        return self.app(environ, secure_start_response)  # type: ignore[no-any-return]


def _secure(cookie: str) -> str:
    attributes = {part.split("=", 1)[0].strip().lower() for part in cookie.split(";")[1:]}
    return cookie if "secure" in attributes else f"{cookie}; Secure"


def wrap(wsgi_app: WSGIApp, settings: Settings) -> WSGIApp:
    """The WSGI stack in front of Flask: trusted proxy headers first, then the prefix, then
    Secure cookies for HTTPS requests."""
    wrapped: WSGIApp = PrefixMiddleware(SecureCookies(wsgi_app), settings.url_prefix)
    if settings.proxy_count:
        count = settings.proxy_count
        wrapped = ProxyFix(
            wrapped, x_for=count, x_proto=count, x_host=count, x_port=count, x_prefix=count
        )
    return wrapped


class StaticAsset(str):
    """A static file's link for a template, built when rendered so it carries the prefix.

    APIFlask puts its Swagger UI asset settings into the page as they are; a plain
    "/static/..." string would miss the prefix.
    """

    filename: str

    def __new__(cls, filename: str) -> StaticAsset:
        asset = super().__new__(cls, f"/static/{filename}")
        asset.filename = filename
        return asset

    def __html__(self) -> Markup:
        if has_request_context():
            return escape(url_for("static", filename=self.filename))
        return escape(str(self))
