"""The old TaskManager's how-to, command by command (../shared/spec/old-howto.md): each works as
written, run as a real process on a fresh database of the suite's backend, or its file is checked
(and verified by nginx / systemd-analyze / make where this machine has them)."""

from __future__ import annotations

import configparser
import json
import os
import shutil
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import requests
from dotenv import dotenv_values
from sqlalchemy import create_engine, text

from taskmanager.config import load_settings

from .support import databases, needs
from .support.servers import TASKMANAGER, ServerProcess, free_port

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(TASKMANAGER).parent
SECRETS = {"SECRET_KEY": "howto-secret-key", "SECURITY_PASSWORD_SALT": "howto-salt"}
CHEAP_HASHES = {"TASKMAN_PASSWORD_HASH_ROUNDS": "1", "TASKMAN_PASSWORD_HASH_MEMORY_KIB": "1024"}


def _run(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TASKMAN_", "SQLALCHEMY_", "DB_", "SECRET_", "SECURITY_", "FLASK_"))
    }
    return subprocess.run(
        list(args),
        env={**clean, **CHEAP_HASHES, **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
    )


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, (result.args, result.stdout, result.stderr)
    return result.stdout


def _names(engine, sql: str, task_id: int) -> set[str]:
    with engine.connect() as connection:
        return {row[0] for row in connection.execute(text(sql), {"task": task_id})}


def test_manual_installation_walk(tmp_path: Path) -> None:
    """db-init, config of the shipped example, demo data, flask run from .env, then
    taskmanager-add-task with ~/.netrc and several names after one -u/-g/-t."""
    url = databases.create_database(tmp_path)
    engine = create_engine(url)
    try:
        # A clone's layout: the example config at taskmanager/tests/config/test_config.json.
        clone = tmp_path / "clone"
        clone.mkdir()
        (clone / "taskmanager").symlink_to(ROOT / "taskmanager", target_is_directory=True)
        (clone / ".env").write_text(
            'FLASK_APP="taskmanager"\n'
            f'SQLALCHEMY_DATABASE_URI = "{url}"\n'
            + "".join(f'{key} = "{value}"\n' for key, value in SECRETS.items())
        )
        env = {"TASKMAN_INSTANCE_PATH": str(tmp_path / "instance"), "HOME": str(tmp_path)}

        _ok(_run(str(BIN / "taskmanager-db-init"), cwd=clone, env=env))
        config = "taskmanager/tests/config/test_config.json"
        loaded = _ok(_run(str(BIN / "taskmanager-config"), config, cwd=clone, env=env))
        assert "users: alice, bob, carol" in loaded and "templates: lesions, landmarks" in loaded
        again = _ok(_run(str(BIN / "taskmanager-config"), config, cwd=clone, env=env))
        assert "users: -" in again
        assert "Created 10 demo tasks" in _ok(
            _run(str(BIN / "taskmanager-test-tasks"), cwd=clone, env=env)
        )
        assert "Created task group" in _ok(
            _run(str(BIN / "taskmanager-test-taskgroup"), cwd=clone, env=env)
        )

        port = free_port()
        server_env = {
            **env,
            **CHEAP_HASHES,
            "TASKMAN_ADMIN_USERNAME": "admin",
            "TASKMAN_ADMIN_PASSWORD": "howto-admin",
            "TASKMAN_ADMIN_EMAIL": "admin@example.org",
            "TASKMAN_CALLBACK_WORKER": "false",
        }
        flask = str(BIN / "flask")
        with ServerProcess(
            [flask, "run", "--port", str(port)], port=port, env=server_env, cwd=clone
        ) as server:
            spec = requests.get(f"{server.url}/api/v1/openapi.json", timeout=30)
            swagger = requests.get(f"{server.url}/api/v1/swagger.json", timeout=30)
            assert swagger.status_code == 200 and swagger.json() == spec.json()
            assert "/api/v1/swagger.json" not in spec.json()["paths"]

            netrc = tmp_path / ".netrc"
            netrc.write_text("machine 127.0.0.1\n  login admin\n  password howto-admin\n")
            netrc.chmod(0o600)
            task_file = tmp_path / "task.json"
            scans = {"T1": "http://xnat/T1.nii.gz", "FLAIR": "http://xnat/FLAIR.nii.gz"}
            task_file.write_text(json.dumps({"template": "lesions", "scan_sources": scans}))
            added = _run(
                str(BIN / "taskmanager-add-task"),
                str(task_file),
                "-p",
                "howto",
                "-u",
                "alice",
                "bob",
                "-g",
                "annotators",
                "reviewers",
                "-t",
                "example",
                "training",
                "--url",
                server.url,
                cwd=tmp_path,
                env=env,
            )
            assert "created 1" in _ok(added), added.stdout
        with engine.connect() as connection:
            task_id = connection.execute(text("SELECT id FROM tasks WHERE project = 'howto'")).one()
        task = int(task_id[0])
        assert _names(
            engine,
            "SELECT u.username FROM users u JOIN task_users l ON l.user_id = u.id "
            "WHERE l.task_id = :task",
            task,
        ) == {"alice", "bob"}
        assert _names(
            engine,
            "SELECT g.groupname FROM groups g JOIN task_groups_assigned l ON l.group_id = g.id "
            "WHERE l.task_id = :task",
            task,
        ) == {"annotators", "reviewers"}
        assert _names(
            engine,
            "SELECT t.name FROM tags t JOIN task_tags l ON l.tag_id = t.id WHERE l.task_id = :task",
            task,
        ) == {"example", "training"}
    finally:
        engine.dispose()
        databases.drop_database(url)


def test_demo_data_on_a_fresh_database(tmp_path: Path) -> None:
    """Nobody can be assigned yet: the demo tasks go to a group instead of failing."""
    url = databases.create_database(tmp_path)
    try:
        env = {
            "SQLALCHEMY_DATABASE_URI": url,
            **SECRETS,
            "TASKMAN_INSTANCE_PATH": str(tmp_path / "instance"),
        }
        tasks = _ok(_run(str(BIN / "taskmanager-test-tasks"), cwd=tmp_path, env=env))
        assert "go to group 'demo'" in tasks and "Created 10 demo tasks" in tasks
        group = _ok(_run(str(BIN / "taskmanager-test-taskgroup"), cwd=tmp_path, env=env))
        assert "Created task group 'demo-taskgroup'" in group
    finally:
        databases.drop_database(url)


def test_create_config_writes_a_mysql_env_once(tmp_path: Path) -> None:
    script = ROOT / "create_config.py"
    args = [sys.executable, str(script), "-d", "taskmanager", "-u", "taskmanager", "-p", "p@ss"]
    assert "Wrote .env" in _ok(_run(*args, cwd=tmp_path))
    written = (tmp_path / ".env").read_text()
    values = dotenv_values(tmp_path / ".env")
    assert values["FLASK_APP"] == "taskmanager"
    assert stat.S_IMODE((tmp_path / ".env").stat().st_mode) == 0o600
    settings = load_settings({k: v for k, v in values.items() if v is not None})
    assert settings.database_uri.startswith(
        "mysql+pymysql://taskmanager:p%40ss@localhost/taskmanager"
    )
    assert (
        len(values["SECRET_KEY"] or "") >= 32 and len(values["SECURITY_PASSWORD_SALT"] or "") >= 16
    )
    refused = _run(*args, cwd=tmp_path)
    assert refused.returncode == 1 and "not overwritten" in refused.stderr
    assert (tmp_path / ".env").read_text() == written


def test_requirements_production_installs_this_package_with_sentry() -> None:
    lines = [
        line.strip()
        for line in (ROOT / "requirements_production.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines == ["-e .[sentry]"]
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert "sentry" in extras["optional-dependencies"]


def test_sentry_dsn_with_only_raven_names_what_to_install(tmp_path: Path) -> None:
    fake = tmp_path / "modules"
    (fake / "raven").mkdir(parents=True)
    (fake / "raven" / "__init__.py").write_text("")
    (fake / "sentry_sdk.py").write_text("raise ImportError('sentry-sdk hidden by the test')\n")
    started = _run(
        sys.executable,
        "-c",
        "from taskmanager import create_app; create_app()",
        cwd=tmp_path,
        env={
            "PYTHONPATH": str(fake),
            "SENTRY_DSN": "http://key@127.0.0.1:9/1",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'tm.db'}",
            "TASKMAN_CALLBACK_WORKER": "false",
            **SECRETS,
        },
    )
    _ok(started)
    assert "only raven is installed" in started.stderr
    assert "pip install 'task-manager[sentry]'" in started.stderr


def _active(text_: str) -> str:
    return "\n".join(line for line in text_.splitlines() if not line.lstrip().startswith("#"))


def test_nginx_site_at_the_old_name_serves_at_the_root(tmp_path: Path) -> None:
    site = ROOT / "resources" / "nginx" / "taskmanager"
    content = site.read_text()
    active = _active(content)
    assert "location / {" in active and "proxy_pass http://taskmanager_app;" in active
    assert "server 127.0.0.1:5000;" in active and "listen 80" in active
    assert "X-Forwarded-Prefix" not in active
    assert '    # auth_basic "TaskManager";' in content
    assert "    # auth_basic_user_file /etc/nginx/.htpasswd;" in content
    nginx = needs.program("nginx", "apt-get install nginx (to check the site with nginx -t)")
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n  access_log off;\n  include {site};\n}}\n"
    )
    checked = _run(
        nginx, "-t", "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path), cwd=tmp_path
    )
    assert checked.returncode == 0, checked.stderr


def _unit(path: Path) -> list[tuple[str, str, str]]:
    """(section, key, value) of a systemd unit or drop-in, repeated keys kept in order."""
    entries = []
    section = ""
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        entries.append((section, key, value))
    return entries


def test_systemd_old_layout_runs_the_clone_with_its_venv(tmp_path: Path) -> None:
    systemd = ROOT / "resources" / "systemd"
    run = systemd / "taskmanager-run"
    assert os.access(run, os.X_OK)
    _ok(_run("sh", "-n", str(run), cwd=tmp_path))
    # A clone in the old layout, its venv's taskmanager replaced by a recorder.
    clone = tmp_path / "taskmanager"
    (clone / "resources" / "systemd").mkdir(parents=True)
    shutil.copy2(run, clone / "resources" / "systemd" / "taskmanager-run")
    (clone / "venv" / "bin").mkdir(parents=True)
    recorder = clone / "venv" / "bin" / "taskmanager"
    recorder.write_text('#!/bin/sh\necho "$PWD" "$@"\n')
    recorder.chmod(0o755)
    started = _ok(_run(str(clone / "resources" / "systemd" / "taskmanager-run"), cwd=tmp_path))
    assert started.split() == [str(clone), "serve", "--host", "127.0.0.1"]

    drop_in = _unit(systemd / "taskman.conf")
    assert ("Service", "User", "taskman") in drop_in
    exec_start = [value for _s, key, value in drop_in if key == "ExecStart"]
    assert exec_start == ["", "/home/taskman/taskmanager/resources/systemd/taskmanager-run"]
    assert ("Service", "WorkingDirectory", "/home/taskman/taskmanager") in drop_in
    # The unit itself stays what docs/deployment.md installs, and points at the drop-in.
    unit = _unit(systemd / "taskmanager.service")
    assert ("Service", "User", "taskmanager") in unit
    assert "taskman.conf" in (systemd / "taskmanager.service").read_text()
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.read(systemd / "taskmanager.service")
    assert parser.has_section("Install")
    needs.program("systemd-analyze", "install systemd (to verify the units)")
    units = tmp_path / "units"
    (units / "taskmanager.service.d").mkdir(parents=True)
    shutil.copy2(systemd / "taskmanager.service", units)
    shutil.copy2(systemd / "taskman.conf", units / "taskmanager.service.d")
    verified = _run(
        "systemd-analyze",
        "verify",
        str(units / "taskmanager.service"),
        cwd=units,
        env={"SYSTEMD_UNIT_PATH": f"{units}:"},
    )
    complaints = [
        line
        for line in (verified.stdout + verified.stderr).splitlines()
        if line.strip() and "is not executable" not in line
    ]
    assert complaints == [], complaints
    # The drop-in took effect: the missing command named is the clone's run script.
    assert "/home/taskman/taskmanager/resources/systemd/taskmanager-run" in verified.stderr


def test_make_up_and_down_manage_the_k3d_cluster_of_the_tiltfile(tmp_path: Path) -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert "k3d cluster create --config dev/k3d-config.yaml" in makefile.replace("$(K3D)", "k3d")
    assert "k3d cluster delete $(CLUSTER)" in makefile.replace("$(K3D)", "k3d")
    assert "CLUSTER := taskmanager" in makefile
    assert "name: taskmanager\n" in (ROOT / "dev" / "k3d-config.yaml").read_text()
    assert "allow_k8s_contexts('k3d-taskmanager')" in (ROOT / "Tiltfile").read_text()
    make = needs.program("make", "apt-get install make")
    missing = _run(make, "-C", str(ROOT), "up", "K3D=k3d-missing-for-the-test", cwd=tmp_path)
    assert missing.returncode != 0
    assert "k3d-missing-for-the-test is not installed" in missing.stderr
    planned = _ok(_run(make, "-C", str(ROOT), "-n", "down", cwd=tmp_path))
    assert "k3d cluster delete taskmanager" in planned


def test_upgrading_guide_answers_every_old_command() -> None:
    guide = (ROOT / "docs" / "upgrading.md").read_text()
    table = guide[guide.index("## The old how-to, command by command") :]
    for command in (
        "docker-compose",
        "make up",
        "make down",
        "pip install taskmanager",
        "create_config.py",
        "taskmanager-db-init",
        "taskmanager-config taskmanager/tests/config/test_config.json",
        "taskmanager-test-tasks",
        "taskmanager-test-taskgroup",
        "flask run",
        "requirements_production.txt",
        "resources/nginx/taskmanager",
        "resources/systemd/taskmanager.service",
        "resources/upstart/taskmanager.conf",
        "raven",
        "swagger.json",
        "taskmanager-add-task",
    ):
        assert command in table, command
