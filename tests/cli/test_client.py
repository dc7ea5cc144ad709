"""Who the commands log in as (~/.netrc, --user/--password, a token) and what they say when the
server cannot be reached or refuses."""

from pathlib import Path
from urllib.parse import urlsplit

import requests

from .conftest import ADMIN, Cli, ok, unique
from .test_tasks import write_template


def _token(cli: Cli) -> str:
    with requests.post(
        f"{cli.url}/login?include_auth_token",
        json={"username": ADMIN[0], "password": ADMIN[1]},
        timeout=10,
    ) as response:
        assert response.status_code == 200, response.text
        return str(response.json()["response"]["user"]["authentication_token"])


def test_credentials_from_netrc_then_token(cli: Cli, tmp_path: Path) -> None:
    netrc = cli.home / ".netrc"
    host = urlsplit(cli.url).hostname
    netrc.write_text(f"machine {host}\n  login {ADMIN[0]}\n  password {ADMIN[1]}\n")
    netrc.chmod(0o600)
    try:
        path = write_template(tmp_path, unique("netrc"))
        ok(cli.run("add-template", str(path), login=None, url=None, env={"TASKMAN_URL": cli.url}))
    finally:
        netrc.unlink()

    missing = cli.run("add-template", str(write_template(tmp_path, unique("none"))), login=None)
    assert missing.exit_code == 4
    assert f"No credentials for {host}" in missing.stderr and "~/.netrc" in missing.stderr

    token = _token(cli)
    path = write_template(tmp_path, unique("token"))
    ok(cli.run("add-template", str(path), login=None, env={"TASKMAN_TOKEN": token}))


def test_refused_credentials_and_unreachable_server(cli: Cli, tmp_path: Path) -> None:
    path = write_template(tmp_path, unique("tpl"))
    refused = cli.run("add-template", str(path), login=("admin", "wrong"))
    assert refused.exit_code == 4
    assert "refused the credentials of user 'admin'" in refused.stderr

    unreachable = cli.run("add-template", str(path), url="http://127.0.0.1:9")
    assert unreachable.exit_code == 4
    assert "Cannot reach the server at http://127.0.0.1:9" in unreachable.stderr
