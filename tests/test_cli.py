"""The commands users start the server with, run as real processes."""

import subprocess
import sys
from pathlib import Path

import requests
from sqlalchemy.engine import make_url

from taskmanager import migrations

from .support import databases
from .support.servers import TASKMANAGER, ServerProcess, free_port, serve

SECRETS = {"SECRET_KEY": "cli-test-key", "SECURITY_PASSWORD_SALT": "cli-test-salt"}
ADMIN = {
    "TASKMAN_ADMIN_USERNAME": "admin",
    "TASKMAN_ADMIN_PASSWORD": "s3cret-admin",
    "TASKMAN_ADMIN_EMAIL": "admin@example.org",
}


def _get(url: str, **kwargs) -> requests.Response:
    with requests.get(url, timeout=10, **kwargs) as response:
        response.content  # noqa: B018 - read the body before the connection closes
        return response


def test_run_serves_embedded_default_with_admin_admin(tmp_path: Path) -> None:
    port = free_port()
    server = ServerProcess(
        [TASKMANAGER, "run", "--port", str(port)], port=port, env={}, cwd=tmp_path
    )
    with server:
        users = _get(f"{server.url}/api/v1/users", auth=("admin", "admin"))
        assert users.status_code == 200
        assert users.json()["users"] == ["/api/v1/users/1"]
        assert _get(f"{server.url}/-/ready").status_code == 200
        docs = _get(f"{server.url}/api/v1/")
        assert docs.status_code == 200 and b"SwaggerUIBundle" in docs.content
        assert "default admin/admin" in server.output()
    assert (tmp_path / "instance" / "taskmanager.db").is_file()
    assert (tmp_path / "instance" / "secrets.json").is_file()


def test_flask_run_with_dotenv(tmp_path: Path) -> None:
    url = databases.create_database(tmp_path)
    try:
        lines = {"FLASK_APP": "taskmanager", "SQLALCHEMY_DATABASE_URI": url, **SECRETS, **ADMIN}
        (tmp_path / ".env").write_text("".join(f'{k}="{v}"\n' for k, v in lines.items()))
        port = free_port()
        flask = str(Path(sys.executable).with_name("flask"))
        server = ServerProcess([flask, "run", "--port", str(port)], port=port, env={}, cwd=tmp_path)
        with server:
            response = _get(f"{server.url}/api/v1/users/admin", auth=("admin", "s3cret-admin"))
            assert response.status_code == 200
            assert response.json()["username"] == "admin"
    finally:
        databases.drop_database(url)


def _db_parts(url: str) -> dict[str, str]:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return {"DB_DRIVER": "sqlite", "DB_NAME": str(parsed.database)}
    return {
        "DB_DRIVER": "postgresql" if backend == "postgresql" else "mariadb",
        "DB_HOST": parsed.host or "127.0.0.1",
        "DB_PORT": str(parsed.port or ""),
        "DB_NAME": str(parsed.database),
        "DB_USER": parsed.username or "",
        "DB_PASS": parsed.password or "",
    }


def test_serve_with_db_parts_migrates_and_onboards(tmp_path: Path) -> None:
    url = databases.create_database(tmp_path)
    try:
        env = {**_db_parts(url), **SECRETS, **ADMIN, "GUNICORN_WORKER_CLASS": "eventlet"}
        with serve(env, tmp_path, workers=2) as server:
            for _ in range(4):  # several requests, so more than one worker answers
                response = _get(f"{server.url}/api/v1/users", auth=("admin", "s3cret-admin"))
                assert response.status_code == 200
            assert "eventlet is not available; using gthread" in server.output()
    finally:
        databases.drop_database(url)


def _cli(
    *args: str, env: dict[str, str], cwd: Path, command: str = TASKMANAGER
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [command, *args],
        env={"PATH": "/usr/bin:/bin", **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_db_commands_and_old_aliases(tmp_path: Path) -> None:
    url = databases.create_database(tmp_path)
    try:
        env = {"SQLALCHEMY_DATABASE_URI": url, **SECRETS, **ADMIN}
        assert "empty" in _cli("db", "current", env=env, cwd=tmp_path).stdout
        init = _cli(
            env=env, cwd=tmp_path, command=str(Path(TASKMANAGER).with_name("taskmanager-db-init"))
        )
        assert init.returncode == 0, init.stderr
        newest = sorted((Path(migrations.__file__).parent / "versions").glob("[0-9]*.py"))[-1]
        assert newest.name[:4] in _cli("db", "current", env=env, cwd=tmp_path).stdout
        onboard = _cli(
            env=env,
            cwd=tmp_path,
            command=str(Path(TASKMANAGER).with_name("taskmanager-onboarding")),
        )
        assert onboard.returncode == 0, onboard.stderr
        assert "Admin account: admin" in onboard.stdout
        down = _cli("db", "downgrade", "--force", env=env, cwd=tmp_path)
        assert down.returncode == 0, down.stderr
        assert "empty" in _cli("db", "current", env=env, cwd=tmp_path).stdout
    finally:
        databases.drop_database(url)


def test_missing_secrets_stop_start_up_naming_them(tmp_path: Path) -> None:
    result = _cli("db", "upgrade", env={"DB_HOST": "127.0.0.1", "DB_NAME": "x"}, cwd=tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY and SECURITY_PASSWORD_SALT must be set" in result.stderr
