"""docker-compose and the Helm chart set only variables the server reads, and all it needs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from taskmanager.config import load_settings

from ..support.gotemplate import Chart, TemplateError
from ..support.variables import known_variables

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / ".docker" / "docker-compose.yml"
CHART = ROOT / "charts" / "taskmanager"

SECRETS = {
    "taskmanager": {
        "security": {"secretKey": "k" * 32, "passwordSalt": "s" * 16},
        "db": {"password": "db-password"},
        "admin": {"password": "admin-password"},
    },
    "rabbitmq": {"password": "rabbit-password"},
}
# Without these the server does not start (or, for the callback worker, has nowhere to go).
REQUIRED = {
    "SECRET_KEY",
    "SECURITY_PASSWORD_SALT",
    "DB_HOST",
    "DB_NAME",
    "DB_USER",
    "DB_PASS",
    "TASKMAN_ADMIN_USERNAME",
    "TASKMAN_ADMIN_PASSWORD",
    "TASKMAN_CALLBACK_METHOD",
    "TASKMAN_CELERY_BROKER",
}


# --- docker-compose ----------------------------------------------------------------------------

INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Z_][A-Z0-9_]*)(?::?-(?P<default>[^}]*))?\}")


def compose_environment(service: str) -> dict[str, str]:
    """A service's environment as compose gives it with no .env file (defaults substituted)."""
    document = yaml.safe_load(COMPOSE.read_text())
    environment = document["services"][service]["environment"]
    return {
        str(key): INTERPOLATION.sub(lambda m: m.group("default") or "", str(value))
        for key, value in environment.items()
    }


@pytest.mark.parametrize("service", ["taskmanager", "worker"])
def test_compose_sets_only_known_and_all_required_variables(service: str, tmp_path: Path) -> None:
    environment = compose_environment(service)
    assert set(environment) <= known_variables(), set(environment) - known_variables()
    missing = {name for name in REQUIRED if not environment.get(name)}
    assert not missing
    settings = load_settings({**environment, "TASKMAN_INSTANCE_PATH": str(tmp_path)})
    assert settings.database_uri == (
        "postgresql+psycopg://taskmanager:taskmanager@db:5432/taskmanager"
    )
    assert settings.callback_method == "celery"
    assert settings.celery_broker == "amqp://taskmanager:taskmanager@rabbitmq:5672//"
    assert (settings.admin_username, settings.admin_password) == ("admin", "admin")
    # Trying it out must not open the server to strangers' accounts.
    assert not settings.registerable


def test_compose_services() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    assert set(services) == {"db", "rabbitmq", "taskmanager", "worker"}
    server = services["taskmanager"]
    assert server["ports"] == ["${TASKMANAGER_HOST_PORT:-5000}:5000"]
    assert server["command"] == ["server"] and services["worker"]["command"] == ["worker"]
    assert (COMPOSE.parent / server["build"]["context"] / server["build"]["dockerfile"]).is_file()
    for name in ("taskmanager", "worker"):
        assert services[name]["depends_on"]["db"]["condition"] == "service_healthy"
        assert services[name]["depends_on"]["rabbitmq"]["condition"] == "service_healthy"
    # The database and broker credentials agree with what the server is given.
    env = compose_environment("taskmanager")
    db_env = {
        k: INTERPOLATION.sub(lambda m: m.group("default") or "", str(v))
        for k, v in services["db"]["environment"].items()
    }
    assert (db_env["POSTGRES_USER"], db_env["POSTGRES_PASSWORD"], db_env["POSTGRES_DB"]) == (
        env["DB_USER"],
        env["DB_PASS"],
        env["DB_NAME"],
    )


def test_compose_uses_the_official_images_unless_told_otherwise() -> None:
    """The image variables (scripts/docker-smoke sets them) change nothing when unset."""
    services = yaml.safe_load(COMPOSE.read_text())["services"]

    def default(value: str) -> str:
        return INTERPOLATION.sub(lambda m: m.group("default") or "", value)

    assert default(services["db"]["image"]) == "postgres:16-alpine"
    assert default(services["rabbitmq"]["image"]) == "rabbitmq:3-alpine"
    build = services["taskmanager"]["build"]
    assert default(build["network"]) == "default"
    dockerfile = (COMPOSE.parent / build["context"] / build["dockerfile"]).read_text()
    declared = dict(re.findall(r"^ARG (\w+)=(\S+)$", dockerfile, re.MULTILINE))
    assert {name: default(value) for name, value in build["args"].items()} == declared
    assert declared == {"BASE_IMAGE": "python:3.11-slim"}
    assert "FROM ${BASE_IMAGE}" in dockerfile


# --- Helm chart -----------------------------------------------------------------------------------


def render(values: dict[str, Any] | None = None) -> dict[str, list[dict[str, Any]]]:
    merged: dict[str, Any] = {}
    for layer in (SECRETS, values or {}):
        merged = _merge(merged, layer)
    return Chart(CHART).render(merged)


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        merged[key] = (
            _merge(merged[key], value)
            if isinstance(value, dict) and isinstance(merged.get(key), dict)
            else value
        )
    return merged


def documents(rendered: dict[str, list[dict[str, Any]]], kind: str) -> dict[str, dict[str, Any]]:
    return {
        doc["metadata"]["name"]: doc
        for docs in rendered.values()
        for doc in docs
        if doc["kind"] == kind
    }


def container_env(rendered: dict[str, list[dict[str, Any]]], deployment: str) -> dict[str, str]:
    """A container's environment, secret references resolved from the rendered Secret."""
    secrets = {name: doc["stringData"] for name, doc in documents(rendered, "Secret").items()}
    container = documents(rendered, "Deployment")[deployment]["spec"]["template"]["spec"][
        "containers"
    ][0]
    environment: dict[str, str] = {}
    for entry in container["env"]:
        assert entry["name"] not in environment, f"{entry['name']} set twice"
        if "valueFrom" in entry:
            ref = entry["valueFrom"]["secretKeyRef"]
            environment[entry["name"]] = secrets[ref["name"]][ref["key"]]
        else:
            environment[entry["name"]] = entry["value"]
    return environment


def test_chart_refuses_to_render_without_secrets() -> None:
    with pytest.raises(TemplateError, match="required"):
        Chart(CHART).render()


def test_every_value_a_template_uses_exists() -> None:
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    for template in (CHART / "templates").iterdir():
        for path in re.findall(r"\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)", template.read_text()):
            node: Any = defaults
            for part in path.strip(".").split("."):
                assert isinstance(node, dict) and part in node, f"{template.name}: .Values{path}"
                node = node[part]


@pytest.mark.parametrize("deployment", ["tm-taskmanager-server", "tm-taskmanager-worker"])
def test_chart_sets_only_known_and_all_required_variables(deployment: str, tmp_path: Path) -> None:
    environment = container_env(render(), deployment)
    assert set(environment) <= known_variables(), set(environment) - known_variables()
    missing = {name for name in REQUIRED if not environment.get(name)}
    assert not missing
    settings = load_settings({**environment, "TASKMAN_INSTANCE_PATH": str(tmp_path)})
    assert settings.database_uri == (
        "postgresql+psycopg://taskmanager:db-password@tm-taskmanager-postgresql:5432/taskmanager"
    )
    assert (
        settings.celery_broker
        == "amqp://taskmanager:rabbit-password@tm-taskmanager-rabbitmq:5672//"
    )
    assert settings.url_prefix == "/taskmanager" and settings.proxy_count == 1


def test_chart_values_map_onto_the_documented_variables(tmp_path: Path) -> None:
    values = {
        "taskmanager": {
            "port": 6000,
            "gunicorn": {"workerClass": "sync", "workerConnections": 20, "timeout": 90},
            "instanceName": "Brain Study",
            "projectName": "brain",
            "db": {
                "schema": "study",
                "name": "tm",
                "user": "u",
                "host": "pg.example",
                "port": 6432,
            },
            "security": {
                "registerable": False,
                "changable": False,
                "recoverable": False,
                "confirmable": False,
            },
            "project": {
                "git": {"url": "https://git.example/p.git", "branch": "b", "relativePath": "c"}
            },
            "callbacks": {"broker": "amqp://external//"},
        },
        "postgresql": {"enabled": False},
        "rabbitmq": {"enabled": False},
    }
    rendered = render(values)
    environment = container_env(rendered, "tm-taskmanager-server")
    expected = {
        "TASKMANAGER_PORT": "6000",
        "GUNICORN_WORKER_CLASS": "sync",
        "GUNICORN_WORKER_CONNECTIONS": "20",
        "GUNICORN_TIMEOUT": "90",
        "TASKMAN_INSTANCE_NAME": "Brain Study",
        "TASKMAN_PROJECT_NAME": "brain",
        "DB_SCHEMA": "study",
        "DB_NAME": "tm",
        "DB_USER": "u",
        "DB_PASS": "db-password",
        "DB_HOST": "pg.example",
        "DB_PORT": "6432",
        "SECURITY_REGISTERABLE": "false",
        "SECURITY_CHANGEABLE": "false",
        "SECURITY_RECOVERABLE": "false",
        "SECURITY_CONFIRMABLE": "false",
        "SECRET_KEY": "k" * 32,
        "SECURITY_PASSWORD_SALT": "s" * 16,
        "PROJECT_REPO": "https://git.example/p.git",
        "PROJECT_BRANCH": "b",
        "PROJECT_RELATIVE_PATH": "c",
        "TASKMAN_CELERY_BROKER": "amqp://external//",
    }
    assert {key: environment.get(key) for key in expected} == expected
    settings = load_settings({**environment, "TASKMAN_INSTANCE_PATH": str(tmp_path)})
    assert not (settings.registerable or settings.changeable or settings.recoverable)
    assert settings.port == 6000 and settings.gunicorn_timeout == 90
    assert "?options=-csearch_path%3Dstudy" in settings.database_uri
    server = documents(rendered, "Deployment")["tm-taskmanager-server"]
    assert server["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] == 6000
    assert not documents(rendered, "StatefulSet")
    assert set(documents(rendered, "Deployment")) == {
        "tm-taskmanager-server",
        "tm-taskmanager-worker",
    }


def test_chart_server_probes_service_and_ingress() -> None:
    rendered = render()
    server = documents(rendered, "Deployment")["tm-taskmanager-server"]["spec"]["template"]["spec"]
    container = server["containers"][0]
    assert container["args"] == ["server"]
    assert container["readinessProbe"]["httpGet"] == {"path": "/-/ready", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/-/healthy", "port": "http"}
    assert server["securityContext"]["runAsNonRoot"] is True
    worker = documents(rendered, "Deployment")["tm-taskmanager-worker"]["spec"]["template"]["spec"]
    assert worker["containers"][0]["args"] == ["worker"]

    service = documents(rendered, "Service")["tm-taskmanager"]
    assert service["spec"]["selector"]["app.kubernetes.io/component"] == "server"
    ingress = documents(rendered, "Ingress")["tm-taskmanager"]
    path = ingress["spec"]["rules"][0]["http"]["paths"][0]
    assert path["path"] == "/taskmanager" and path["pathType"] == "Prefix"
    assert path["backend"]["service"] == {"name": "tm-taskmanager", "port": {"name": "http"}}

    # Secrets are in the Secret, not in the pod specs.
    secret = documents(rendered, "Secret")["tm-taskmanager"]["stringData"]
    assert secret["SECRET_KEY"] == "k" * 32
    for entry in container["env"]:
        if entry["name"] in {
            "SECRET_KEY",
            "SECURITY_PASSWORD_SALT",
            "DB_PASS",
            "TASKMAN_ADMIN_PASSWORD",
        }:
            assert "valueFrom" in entry


def test_chart_with_an_existing_secret_makes_none() -> None:
    rendered = render({"taskmanager": {"existingSecret": "mine"}})
    assert not documents(rendered, "Secret")
    container = documents(rendered, "Deployment")["tm-taskmanager-server"]["spec"]["template"][
        "spec"
    ]["containers"][0]
    refs = {e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"] if "valueFrom" in e}
    assert refs == {"mine"}


def test_development_values_render() -> None:
    values = yaml.safe_load((ROOT / "dev" / "values-dev.yaml").read_text())
    environment = container_env(Chart(CHART).render(values), "tm-taskmanager-server")
    assert environment["TASKMAN_ADMIN_PASSWORD"] == "supersecretpassword"


def test_chart_reminder_cronjob_is_off_by_default_and_a_dry_run_when_on(tmp_path: Path) -> None:
    assert not documents(render(), "CronJob")
    external = {"externalUrl": "https://tasks.example.org/taskmanager"}
    rendered = render({"remind": {"enabled": True}, "taskmanager": external})
    job = documents(rendered, "CronJob")["tm-taskmanager-remind"]
    assert job["spec"]["schedule"] == "0 7 * * *"
    assert job["spec"]["concurrencyPolicy"] == "Forbid"
    pod = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    assert container["args"] == ["taskmanager", "remind"]
    # The same configuration and Secret as the server's.
    server = documents(rendered, "Deployment")["tm-taskmanager-server"]["spec"]["template"]["spec"]
    assert container["env"] == server["containers"][0]["env"]
    settings = load_settings(
        {**container_env(rendered, "tm-taskmanager-server"), "TASKMAN_INSTANCE_PATH": str(tmp_path)}
    )
    assert settings.external_url == "https://tasks.example.org/taskmanager"

    sending = render({"remind": {"enabled": True, "send": True, "schedule": "30 6 * * 1-5"}})
    job = documents(sending, "CronJob")["tm-taskmanager-remind"]
    assert job["spec"]["schedule"] == "30 6 * * 1-5"
    (container,) = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["taskmanager", "remind", "--send"]


# --- manual install -------------------------------------------------------------------------------


def test_systemd_environment_file_sets_known_and_required_variables(tmp_path: Path) -> None:
    lines = (ROOT / "resources" / "systemd" / "taskmanager.env").read_text().splitlines()
    environment = dict(
        line.split("=", 1) for line in lines if line.strip() and not line.lstrip().startswith("#")
    )
    assert set(environment) <= known_variables(), set(environment) - known_variables()
    assert not {name for name in REQUIRED if not environment.get(name)}
    settings = load_settings({**environment, "TASKMAN_INSTANCE_PATH": str(tmp_path)})
    assert settings.proxy_count == 1
    for unit in ("taskmanager.service", "taskmanager-worker.service"):
        text = (ROOT / "resources" / "systemd" / unit).read_text()
        assert "EnvironmentFile=/etc/taskmanager/taskmanager.env" in text
        assert "User=taskmanager" in text


def test_nginx_site_forwards_what_the_server_trusts() -> None:
    text = (ROOT / "resources" / "nginx" / "taskmanager.conf").read_text()
    active = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    for header in ("X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host"):
        assert f"proxy_set_header {header} " in active
    assert "proxy_set_header X-Forwarded-Prefix /taskmanager;" in active
    assert "location /taskmanager/ {" in active and "proxy_pass http://taskmanager/;" in active
    assert "server 127.0.0.1:5000;" in active
    assert "# auth_basic " in text and "# auth_basic_user_file " in text
