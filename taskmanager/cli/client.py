"""HTTP access to a TaskManager server: where it is, who we are, and its answers."""

from __future__ import annotations

import netrc
import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlsplit

import click
import requests
import requests.adapters
from requests.auth import AuthBase, HTTPBasicAuth

from .errors import EXIT_CONNECTION, EXIT_USAGE, CliError, from_error_body

DEFAULT_URL = "http://localhost:5000"
API_PREFIX = "/api/v1"
TOKEN_HEADER = "Authentication-Token"


class TokenAuth(AuthBase):
    """Flask-Security's token header; also stops requests from adding ~/.netrc basic auth."""

    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers[TOKEN_HEADER] = self.token
        return request


def resolve_auth(
    url: str, *, user: str | None, password: str | None, token: str | None
) -> tuple[AuthBase, str]:
    """Credentials in the order: --auth-user/--auth-password, a token, then the netrc file
    ($NETRC, else ~/.netrc) entry for the URL's host."""
    if user:
        if password is None:
            password = click.prompt(f"Password for {user}", hide_input=True, err=True)
        return HTTPBasicAuth(user, password or ""), f"user {user!r}"
    if token:
        return TokenAuth(token), "the token"
    host = urlsplit(url).hostname or ""
    # NETRC names another file, as it does for curl and requests.
    netrc_path = os.environ.get("NETRC") or None
    where = netrc_path or "~/.netrc"
    try:
        entry = netrc.netrc(netrc_path).authenticators(host)
    except FileNotFoundError:
        entry = None
    except (netrc.NetrcParseError, OSError) as error:
        raise CliError(f"Cannot read {where}: {error}", exit_code=EXIT_CONNECTION) from None
    if entry is not None:
        login, _account, secret = entry
        return HTTPBasicAuth(login, secret or ""), f"user {login!r} (from {where})"
    raise CliError(
        f"No credentials for {host}: add 'machine {host} login USER password PASSWORD' to "
        f"{where}, pass --auth-user and --auth-password, or set TASKMAN_TOKEN",
        exit_code=EXIT_CONNECTION,
    )


class ApiError(Exception):
    """The server answered with an error status; `body` is its JSON error (or text)."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.body = body

    @property
    def errors(self) -> dict[str, list[str]]:
        errors = self.body.get("errors") if isinstance(self.body, dict) else None
        return errors if isinstance(errors, dict) else {}

    def cli_error(self, source: str | None = None) -> CliError:
        return from_error_body(self.status, self.body, source=source)


def path_segment(reference: str | int) -> str:
    return quote(str(reference), safe="")


class ApiClient:
    """One keep-alive session to the server's API; raises CliError or ApiError on failure."""

    def __init__(self, url: str, auth: AuthBase, who: str, *, timeout: float = 300.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise CliError(f"--url must be an http(s) address, got {url!r}", exit_code=EXIT_USAGE)
        self.root = url.rstrip("/")
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.who = who
        self.timeout = timeout
        self._session = requests.Session()
        # Room for the parallel requests of an export (urllib3's pool is thread-safe).
        adapter = requests.adapters.HTTPAdapter(pool_connections=2, pool_maxsize=16)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.auth = auth
        self._session.headers["Accept"] = "application/json"

    def close(self) -> None:
        self._session.close()

    def url_for(self, path: str) -> str:
        """An API route such as `/tasks` as an address (full addresses pass through)."""
        if path.startswith(("http://", "https://")):
            return path
        return self.root + API_PREFIX + path

    def ref(self, uri: str) -> str:
        """A server-relative `uri` from an answer (it carries any deployment prefix)."""
        return uri if uri.startswith(("http://", "https://")) else self.origin + uri

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Any = None,
        expect: tuple[int, ...] = (200, 201),
    ) -> Any:
        response = self._send(method, self.url_for(path), json=json, params=params)
        body = self._body(response)
        if response.status_code not in expect:
            raise ApiError(response.status_code, body)
        return body

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        try:
            return self._session.request(method, url, timeout=self.timeout, **kwargs)
        except requests.ConnectionError:
            raise CliError(
                f"Cannot reach the server at {self.root}: is it running? (--url chooses it)",
                exit_code=EXIT_CONNECTION,
            ) from None
        except requests.Timeout:
            raise CliError(
                f"The server at {self.root} did not answer within {self.timeout:.0f} s",
                exit_code=EXIT_CONNECTION,
            ) from None
        except requests.exceptions.ChunkedEncodingError:
            # The server went away in the middle of its answer (killed, restarted): like an
            # unreachable server, whatever the command sent may or may not have been applied.
            raise self._broken_answer() from None

    def _broken_answer(self) -> CliError:
        return CliError(
            f"The connection to {self.root} broke during the answer", exit_code=EXIT_CONNECTION
        )

    def _body(self, response: requests.Response) -> Any:
        """The answer's JSON (or text), read whole; refused credentials end the command."""
        with response:
            try:
                body: Any = response.json() if response.content else None
            except ValueError:
                body = response.text
        if response.status_code == 401:
            raise CliError(
                f"The server at {self.root} refused the credentials of {self.who}",
                exit_code=EXIT_CONNECTION,
            )
        return body

    def lines_or_none(self, path: str, *, params: Any = None) -> Iterator[str] | None:
        """A streamed answer, line by line as it arrives; None for a 404 (a server without
        the route)."""
        response = self._send("GET", self.url_for(path), params=params, stream=True)
        if response.status_code != 200:
            body = self._body(response)
            if response.status_code == 404:
                return None
            raise ApiError(response.status_code, body)
        return self._lines(response)

    def _lines(self, response: requests.Response) -> Iterator[str]:
        with response:
            try:
                for line in response.iter_lines():
                    if line:
                        yield line.decode("utf-8") if isinstance(line, bytes) else line
            except requests.RequestException:
                raise self._broken_answer() from None

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def get_or_none(self, path: str, **kwargs: Any) -> Any:
        """GET, with None for a 404."""
        try:
            return self.request("GET", path, **kwargs)
        except ApiError as error:
            if error.status == 404:
                return None
            raise
