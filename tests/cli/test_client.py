"""Who the commands log in as (~/.netrc, --user/--password, a token) and what they say when the
server cannot be reached or refuses."""

import socket
import threading
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


def test_a_server_gone_in_the_middle_of_its_answer(cli: Cli, tmp_path: Path) -> None:
    """Killed after its headers (as CI once caught a server): exit 4, as when unreachable,
    not a traceback of the HTTP library."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def answer_half() -> None:
        connection, _address = listener.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 201 CREATED\r\nContent-Length: 1393\r\n\r\n{")

    server = threading.Thread(target=answer_half, daemon=True)
    server.start()
    try:
        path = write_template(tmp_path, unique("tpl"))
        broken = cli.run("add-template", str(path), url=f"http://127.0.0.1:{port}")
    finally:
        server.join(timeout=30)
        listener.close()
    assert broken.exit_code == 4, broken.output
    assert f"The connection to http://127.0.0.1:{port} broke during the answer" in broken.stderr
