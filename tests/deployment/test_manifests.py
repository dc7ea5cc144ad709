"""docker-compose and the Helm chart set only variables the server reads, and all it needs."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from taskmanager.config import load_settings

from ..support import charts
from ..support.variables import known_variables

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / ".docker" / "docker-compose.yml"

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
# Rendered by Helm's own engine (tests/support/charts.py) as release "tm".

SERVER = "tm-taskmanager-server"
WORKER = "tm-taskmanager-worker"
# The values that switch on or off each part of the chart, each set rendered and validated whole.
VALUE_SETS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "everything on": {
        "taskmanager": {
            "autoscaling": {"enabled": True},
            "externalUrl": "https://tasks.example.org/taskmanager",
            "extraEnv": [{"name": "MAIL_SERVER", "value": "smtp.example.org"}],
            "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}},
            "project": {"git": {"url": "https://git.example/p.git", "branch": "main"}},
            "db": {"schema": "study"},
        },
        "remind": {"enabled": True, "send": True},
        "ingress": {"className": "nginx", "host": "tasks.example.org", "annotations": {"a": "b"}},
    },
    "own database, broker and secret": {
        "taskmanager": {
            "existingSecret": "mine",
            "db": {"host": "pg.example", "driver": "mariadb", "port": 3306},
            "callbacks": {"broker": "amqp://external//"},
            "podDisruptionBudget": {"minAvailable": 1},
        },
        "postgresql": {"enabled": False},
        "rabbitmq": {"enabled": False},
    },
    "everything off": {
        "taskmanager": {"podDisruptionBudget": {"enabled": False}},
        "migrations": {"job": False},
        "worker": {"enabled": False},
        "ingress": {"enabled": False},
        "service": {"type": "NodePort"},
    },
}


def render(values: dict[str, Any] | None = None, *, upgrade: bool = False) -> charts.Rendered:
    merged: dict[str, Any] = {}
    for layer in (SECRETS, values or {}):
        merged = _merge(merged, layer)
    return charts.render(merged, upgrade=upgrade)


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        merged[key] = (
            _merge(merged[key], value)
            if isinstance(value, dict) and isinstance(merged.get(key), dict)
            else value
        )
    return merged


def documents(rendered: charts.Rendered, kind: str) -> dict[str, dict[str, Any]]:
    return {
        doc["metadata"]["name"]: doc
        for docs in rendered.values()
        for doc in docs
        if doc["kind"] == kind
    }


def pod_spec(rendered: charts.Rendered, kind: str, name: str) -> dict[str, Any]:
    spec: dict[str, Any] = documents(rendered, kind)[name]["spec"]["template"]["spec"]
    return spec


def container_env(rendered: charts.Rendered, name: str, kind: str = "Deployment") -> dict[str, str]:
    """A container's environment, secret references resolved from the rendered Secret."""
    secrets = {name: doc["stringData"] for name, doc in documents(rendered, "Secret").items()}
    container = pod_spec(rendered, kind, name)["containers"][0]
    environment: dict[str, str] = {}
    for entry in container["env"]:
        assert entry["name"] not in environment, f"{entry['name']} set twice"
        if "valueFrom" in entry:
            ref = entry["valueFrom"]["secretKeyRef"]
            environment[entry["name"]] = secrets[ref["name"]][ref["key"]]
        else:
            environment[entry["name"]] = entry["value"]
    return environment


@pytest.mark.parametrize("kubernetes_version", charts.KUBERNETES_VERSIONS)
@pytest.mark.parametrize("value_set", VALUE_SETS)
def test_every_manifest_is_valid_kubernetes(value_set: str, kubernetes_version: str) -> None:
    values = _merge(SECRETS, VALUE_SETS[value_set])
    manifests = [doc for docs in charts.render(values).values() for doc in docs]
    assert len(manifests) >= 4
    errors = [charts.schema_errors(doc, kubernetes_version) for doc in manifests]
    assert not [error for error in errors if error], errors
    assert not charts.lint_findings(values, kubernetes_version)


def test_the_schema_check_and_lint_find_faults(tmp_path: Path) -> None:
    server = documents(render(), "Deployment")[SERVER]
    misspelt = {**server, "spec": {**server["spec"], "replica": 3}}
    assert "replica" in str(charts.schema_errors(misspelt, charts.KUBERNETES_VERSIONS[-1]))
    assert charts.schema_errors(server, charts.KUBERNETES_VERSIONS[-1]) is None

    broken = tmp_path / "taskmanager"
    shutil.copytree(charts.CHART, broken)
    (broken / "templates" / "server.yaml").write_text("{{ if }}\n")
    report = charts.helm.lint(broken, SECRETS, strict=True)
    assert report["errors"] or any(m["severity"] > charts.LINT_WARNING for m in report["messages"])


def test_chart_refuses_to_render_without_secrets() -> None:
    with pytest.raises(charts.RenderError, match="set taskmanager.security.secretKey"):
        charts.render()


def test_every_value_a_template_uses_exists() -> None:
    defaults = yaml.safe_load((charts.CHART / "values.yaml").read_text())
    for template in (charts.CHART / "templates").iterdir():
        for path in re.findall(r"\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)", template.read_text()):
            node: Any = defaults
            for part in path.strip(".").split("."):
                assert isinstance(node, dict) and part in node, f"{template.name}: .Values{path}"
                node = node[part]


@pytest.mark.parametrize("deployment", [SERVER, WORKER])
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
    environment = container_env(rendered, SERVER)
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
    assert pod_spec(rendered, "Deployment", SERVER)["containers"][0]["ports"][0] == {
        "name": "http",
        "containerPort": 6000,
    }
    assert not documents(rendered, "StatefulSet")
    assert set(documents(rendered, "Deployment")) == {SERVER, WORKER}


def test_chart_server_and_worker_are_separate_deployments_of_their_own_size() -> None:
    rendered = render({"taskmanager": {"replicas": 5}, "worker": {"replicas": 3}})
    deployments = documents(rendered, "Deployment")
    server, worker = deployments[SERVER], deployments[WORKER]
    assert (server["spec"]["replicas"], worker["spec"]["replicas"]) == (5, 3)
    assert server["spec"]["template"]["spec"]["containers"][0]["args"] == ["server"]
    assert worker["spec"]["template"]["spec"]["containers"][0]["args"] == ["worker"]
    # Neither Deployment's selector takes the other's pods, and the Service reaches servers only.
    server_labels = server["spec"]["template"]["metadata"]["labels"]
    worker_labels = worker["spec"]["template"]["metadata"]["labels"]
    assert not _selects(server["spec"]["selector"]["matchLabels"], worker_labels)
    assert not _selects(worker["spec"]["selector"]["matchLabels"], server_labels)
    service_selector = documents(rendered, "Service")["tm-taskmanager"]["spec"]["selector"]
    assert _selects(service_selector, server_labels)
    assert not _selects(service_selector, worker_labels)

    assert set(documents(render({"worker": {"enabled": False}}), "Deployment")) >= {SERVER}
    assert WORKER not in documents(render({"worker": {"enabled": False}}), "Deployment")


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return selector.items() <= labels.items()


def test_chart_disruption_budget_keeps_server_pods_up() -> None:
    rendered = render()
    server_labels = documents(rendered, "Deployment")[SERVER]["spec"]["template"]["metadata"][
        "labels"
    ]
    budget = documents(rendered, "PodDisruptionBudget")[SERVER]["spec"]
    assert budget["maxUnavailable"] == 1 and "minAvailable" not in budget
    assert _selects(budget["selector"]["matchLabels"], server_labels)
    for other in ("Deployment", "StatefulSet"):
        for name, doc in documents(rendered, other).items():
            if name != SERVER:
                labels = doc["spec"]["template"]["metadata"]["labels"]
                assert not _selects(budget["selector"]["matchLabels"], labels), name

    at_least = render({"taskmanager": {"podDisruptionBudget": {"minAvailable": 2}}})
    budget = documents(at_least, "PodDisruptionBudget")[SERVER]["spec"]
    assert budget["minAvailable"] == 2 and "maxUnavailable" not in budget
    off = render({"taskmanager": {"podDisruptionBudget": {"enabled": False}}})
    assert not documents(off, "PodDisruptionBudget")


def test_chart_autoscaler_only_when_enabled() -> None:
    rendered = render()
    assert not documents(rendered, "HorizontalPodAutoscaler")
    assert documents(rendered, "Deployment")[SERVER]["spec"]["replicas"] == 2

    scaled = render(
        {"taskmanager": {"autoscaling": {"enabled": True, "minReplicas": 3, "maxReplicas": 9}}}
    )
    autoscaler = documents(scaled, "HorizontalPodAutoscaler")[SERVER]["spec"]
    assert autoscaler["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": SERVER,
    }
    assert (autoscaler["minReplicas"], autoscaler["maxReplicas"]) == (3, 9)
    assert autoscaler["metrics"][0]["resource"]["target"]["averageUtilization"] == 70
    # The autoscaler owns the count: a replicas field would reset it at every upgrade.
    assert "replicas" not in documents(scaled, "Deployment")[SERVER]["spec"]
    assert documents(scaled, "Deployment")[WORKER]["spec"]["replicas"] == 1


def test_chart_server_probes_service_and_ingress() -> None:
    rendered = render()
    server = pod_spec(rendered, "Deployment", SERVER)
    container = server["containers"][0]
    assert container["readinessProbe"]["httpGet"] == {"path": "/-/ready", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/-/healthy", "port": "http"}
    assert container["startupProbe"]["httpGet"] == {"path": "/-/healthy", "port": "http"}
    assert server["securityContext"]["runAsNonRoot"] is True

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


@pytest.mark.parametrize("upgrade", [False, True])
def test_chart_migrates_in_a_hook_job_and_the_pods_do_not(upgrade: bool, tmp_path: Path) -> None:
    rendered = render(upgrade=upgrade)
    job = documents(rendered, "Job")["tm-taskmanager-migrate"]
    annotations = job["metadata"]["annotations"]
    # The install makes the Secret and PostgreSQL the Job needs: it runs after them, and before
    # every upgrade rolls out new server pods.
    assert annotations["helm.sh/hook"] == "post-install,pre-upgrade"
    assert set(annotations["helm.sh/hook-delete-policy"].split(",")) == {
        "before-hook-creation",
        "hook-succeeded",
    }
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and pod["securityContext"]["runAsNonRoot"] is True
    assert pod["containers"][0]["args"] == ["migrate"]
    assert job["spec"]["backoffLimit"] == 3 and job["spec"]["activeDeadlineSeconds"] == 900

    job_env = container_env(rendered, "tm-taskmanager-migrate", kind="Job")
    for name in (SERVER, WORKER):
        environment = container_env(rendered, name)
        # The same database, admin account and project repository as the pods it prepares for.
        assert environment == job_env
        settings = load_settings({**environment, "TASKMAN_INSTANCE_PATH": str(tmp_path)})
        assert settings.auto_migrate is False


def test_chart_migration_job_runs_before_install_when_it_needs_nothing_of_the_release() -> None:
    rendered = render(
        {
            "taskmanager": {"existingSecret": "mine", "db": {"host": "pg.example"}},
            "postgresql": {"enabled": False},
        }
    )
    job = documents(rendered, "Job")["tm-taskmanager-migrate"]
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    made_by_the_release = {
        (doc["kind"], doc["metadata"]["name"]) for docs in rendered.values() for doc in docs
    }
    refs = {
        ("Secret", entry["valueFrom"]["secretKeyRef"]["name"])
        for entry in job["spec"]["template"]["spec"]["containers"][0]["env"]
        if "valueFrom" in entry
    }
    assert refs == {("Secret", "mine")} and not refs & made_by_the_release


def test_chart_without_the_migration_job_every_pod_migrates(tmp_path: Path) -> None:
    rendered = render({"migrations": {"job": False}})
    assert not documents(rendered, "Job")
    environment = container_env(rendered, SERVER)
    assert "TASKMAN_AUTO_MIGRATE" not in environment
    settings = load_settings({**environment, "TASKMAN_INSTANCE_PATH": str(tmp_path)})
    assert settings.auto_migrate is True


def test_chart_with_an_existing_secret_makes_none() -> None:
    rendered = render({"taskmanager": {"existingSecret": "mine"}})
    assert not documents(rendered, "Secret")
    container = pod_spec(rendered, "Deployment", SERVER)["containers"][0]
    refs = {e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"] if "valueFrom" in e}
    assert refs == {"mine"}


def test_development_values_render() -> None:
    values = yaml.safe_load((ROOT / "dev" / "values-dev.yaml").read_text())
    rendered = charts.render(values)
    environment = container_env(rendered, SERVER)
    assert environment["TASKMAN_ADMIN_PASSWORD"] == "supersecretpassword"
    assert documents(rendered, "Deployment")[SERVER]["spec"]["replicas"] == 1
    # One pod, and a drain may still take it.
    assert documents(rendered, "PodDisruptionBudget")[SERVER]["spec"]["maxUnavailable"] == 1
    # Tilt keeps no Helm hook order: the pods migrate themselves.
    assert not documents(rendered, "Job") and "TASKMAN_AUTO_MIGRATE" not in environment


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
    server = pod_spec(rendered, "Deployment", SERVER)
    assert container["env"] == server["containers"][0]["env"]
    settings = load_settings(
        {**container_env(rendered, SERVER), "TASKMAN_INSTANCE_PATH": str(tmp_path)}
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
