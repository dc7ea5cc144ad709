"""What a check of a wait_for URL sends: the credentials configured for it, to the hosts they are
meant for, and nothing else (no ~/.netrc, none of the server's own secrets)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from taskmanager.config import Settings, load_settings, parse_callback_hosts
from taskmanager.workers import waiting

from ..conftest import make_env
from ..support.callbacks import SECRET, quick, refused_port
from ..support.receiver import Receiver

TOKEN = "wait-for-token-0123456789"


@pytest.fixture
def receiver():
    with Receiver(status=404) as running:
        yield running


@pytest.fixture
def user_netrc(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A ~/.netrc and $NETRC with a login for 127.0.0.1, which requests would send by default."""
    home = tmp_path / "home"
    home.mkdir()
    for path in (home / ".netrc", tmp_path / "env.netrc"):
        path.write_text("machine 127.0.0.1 login user-netrc password from-home\n")
        path.chmod(0o600)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("NETRC", str(tmp_path / "env.netrc"))
    return home / ".netrc"


def _netrc(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "wait-for.netrc"
    path.write_text(text)
    path.chmod(0o600)
    return path


def _headers(receiver: Receiver, settings: Settings) -> dict[str, str]:
    answer = waiting.check(f"{receiver.url}/scan", settings)
    assert answer.status_code == 404 and not answer.arrived
    return receiver.requests[-1].headers


def _basic(login: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()


def test_nothing_configured_sends_no_credentials_at_all(
    receiver, user_netrc, settings, tmp_path: Path
) -> None:
    # The server's own secrets are all set: none of them may leave with a check.
    secrets = {
        "SECRET_KEY": "server-secret-key-value",
        "SECURITY_PASSWORD_SALT": "server-salt-value",
        "TASKMAN_CALLBACK_SECRET": SECRET,
        "TASKMAN_ADMIN_PASSWORD": "admin-password-value",
    }
    configured = load_settings(make_env(settings.database_uri, tmp_path / "instance", **secrets))
    assert configured.wait_for_netrc is None and configured.wait_for_token is None
    headers = _headers(receiver, configured)
    assert "authorization" not in headers
    assert receiver.requests[-1].method == "GET" and receiver.requests[-1].body == b""
    sent = " ".join(f"{name}: {value}" for name, value in headers.items())
    for value in [*secrets.values(), "from-home", "user-netrc"]:
        assert value not in sent


def test_the_netrc_entry_for_the_host_is_sent(receiver, user_netrc, settings, tmp_path) -> None:
    path = _netrc(tmp_path, "machine 127.0.0.1\n  login reader\n  password s3cret\n")
    headers = _headers(receiver, quick(settings, wait_for_netrc=path))
    assert headers["authorization"] == _basic("reader", "s3cret")


def test_a_netrc_entry_for_another_host_or_the_default_is_not(receiver, settings, tmp_path) -> None:
    path = _netrc(
        tmp_path,
        "machine data.example.org login reader password s3cret\n"
        "default login anyone password everywhere\n",
    )
    headers = _headers(receiver, quick(settings, wait_for_netrc=path))
    assert "authorization" not in headers


def test_an_unreadable_netrc_is_why_it_still_waits(receiver, settings, tmp_path) -> None:
    answer = waiting.check(
        f"{receiver.url}/scan", quick(settings, wait_for_netrc=tmp_path / "missing")
    )
    assert answer.status_code is None and "TASKMAN_WAIT_FOR_NETRC" in (answer.error or "")
    assert receiver.requests == []  # nothing sent without the credentials meant for it


@pytest.mark.parametrize(
    ("hosts", "sent"),
    [((), False), (("127.0.0.1",), True), (("data.example.org", "*.example.org"), False)],
)
def test_the_token_goes_only_to_its_hosts(receiver, settings, hosts, sent) -> None:
    configured = quick(settings, wait_for_token=TOKEN, wait_for_token_hosts=hosts)
    headers = _headers(receiver, configured)
    assert headers.get("authorization") == (f"Bearer {TOKEN}" if sent else None)


def test_token_hosts_match_names_under_a_domain() -> None:
    names = ("*.example.org", "data.lab.net")
    assert waiting._listed("pacs.example.org", names)
    assert waiting._listed("data.lab.net", names)
    assert not waiting._listed("example.org.evil.net", names)
    assert not waiting._listed("lab.net", names)


def test_the_netrc_entry_wins_over_the_token(receiver, settings, tmp_path) -> None:
    path = _netrc(tmp_path, "machine 127.0.0.1 login reader password s3cret\n")
    configured = quick(settings, wait_for_netrc=path, wait_for_token=TOKEN)
    assert _headers(receiver, configured)["authorization"] == _basic("reader", "s3cret")


def test_a_host_the_callbacks_may_not_reach_is_not_checked(receiver, settings) -> None:
    fenced = quick(settings, callback_allowed_hosts=parse_callback_hosts("data.example.org"))
    answer = waiting.check(f"{receiver.url}/scan", fenced)
    assert answer.status_code is None and (answer.error or "").startswith("refused")
    assert receiver.requests == []


def test_a_redirect_is_not_followed(receiver, settings) -> None:
    receiver.status = 302
    receiver.location = "http://127.0.0.1:9/elsewhere"
    answer = waiting.check(f"{receiver.url}/scan", quick(settings))
    assert answer.status_code == 302 and len(receiver.requests) == 1


def test_a_server_that_is_down_is_an_error_not_an_answer(settings) -> None:
    answer = waiting.check(f"http://127.0.0.1:{refused_port()}/scan", quick(settings))
    assert answer.status_code is None and "ConnectionError" in (answer.error or "")
