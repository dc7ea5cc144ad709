"""The one place configuration is read: environment variables, then `.env`, then defaults.

Everything else asks `load_settings()` (or reads `app.config`, which is filled from it).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

from dotenv import dotenv_values

# Variables with these prefixes were passed into the Flask config by the old server; we keep that.
PASSTHROUGH_PREFIXES = (
    "TASKMAN_",
    "FLASK_",
    "SQLALCHEMY_",
    "SECURITY_",
    "SECRET_",
    "MAIL_",
    "APPLICATION_",
)
OTHER_KNOWN = (
    "DB_HOST",
    "DB_PORT",
    "DB_NAME",
    "DB_USER",
    "DB_PASS",
    "DB_SCHEMA",
    "DB_DRIVER",
    "TASKMANAGER_PORT",
    "GUNICORN_WORKER_CLASS",
    "GUNICORN_WORKER_CONNECTIONS",
    "GUNICORN_TIMEOUT",
    "GUNICORN_WORKERS",
    "SENTRY_DSN",
    "PROJECT_REPO",
    "PROJECT_BRANCH",
    "PROJECT_RELATIVE_PATH",
    "PROMETHEUS_MULTIPROC_DIR",
)
LOG_FORMATS = ("text", "json")
# TASKMAN_SCAN_CHECK: a task whose scan_sources do not match its template's scans is refused
# (strict), stored with a warning in the answer (warn, as the old server stored it), or stored.
SCAN_CHECKS = ("strict", "warn", "off")
# TASKMAN_EMAIL_CHECK: e-mails given to the API must look like local@domain (strict), or may be
# any text without control characters (loose, as the old server took them).
EMAIL_CHECKS = ("strict", "loose")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

DB_DRIVERS = {
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mysql+pymysql",
    "sqlite": "sqlite",
}
DEFAULT_DB_PORTS = {"postgresql+psycopg": "5432", "mysql+pymysql": "3306"}


class ConfigurationError(RuntimeError):
    """Start-up refused because the configuration is incomplete or contradictory."""


def parse_value(raw: str) -> Any:
    """Turn the strings true/false (any case) into booleans, as the old server did."""
    lowered = raw.strip().lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    return raw


def as_bool(value: Any, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def as_int(name: str, value: Any, default: int | None) -> int | None:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"{name} must be a whole number, got {value!r}") from exc


def as_float(name: str, value: Any, default: float | None) -> float | None:
    if value is None or value == "":
        return default
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"{name} must be a number, got {value!r}") from exc


def boolean(env: dict[str, str], name: str, default: bool) -> bool:
    """A switch: true/false, 1/0, yes/no, on/off (any case); anything else names the variable."""
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigurationError(f"{name} must be true or false, got {raw!r}")


def choice(env: dict[str, str], name: str, choices: tuple[str, ...]) -> str:
    """One of `choices` (any case); the first is the default."""
    value = (env.get(name) or choices[0]).strip().lower()
    if value not in choices:
        raise ConfigurationError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return value


def at_least(env: dict[str, str], name: str, default: int, *, minimum: int) -> int:
    value = as_int(name, env.get(name), default)
    if value is None or value < minimum:
        raise ConfigurationError(f"{name} must be at least {minimum}, got {value}")
    return value


def seconds(env: dict[str, str], name: str, default: float, *, zero_ok: bool = False) -> float:
    value = as_float(name, env.get(name), default)
    if value is None or value < 0 or (value == 0 and not zero_ok):
        kind = "zero or more" if zero_ok else "more than zero"
        raise ConfigurationError(f"{name} must be {kind} seconds, got {value}")
    return value


def _registration_weight(env: dict[str, str]) -> float:
    weight = as_float("TASKMAN_REGISTRATION_WEIGHT", env.get("TASKMAN_REGISTRATION_WEIGHT"), 0.0)
    if weight is None or not 0 <= weight < float("inf"):
        raise ConfigurationError(f"TASKMAN_REGISTRATION_WEIGHT must be 0 or more, got {weight}")
    return weight


def normalise_database_uri(uri: str) -> str:
    """Pick the drivers we ship: psycopg 3 for PostgreSQL, PyMySQL for MariaDB/MySQL.

    The old documentation's URLs keep working: `postgresql+psycopg2://` (the old server was
    tested with psycopg2) is served by psycopg 3, which takes the same libpq connection
    parameters, so one PostgreSQL driver is shipped and tested; `mysql://`, `mariadb://` and
    `mysql+mysqldb://` go to PyMySQL, as mysqlclient needs a compiler and MariaDB's headers.
    """
    scheme, sep, rest = uri.partition("://")
    if not sep:
        return uri
    if scheme in ("postgresql", "postgres", "postgresql+psycopg2", "postgres+psycopg2"):
        return f"postgresql+psycopg://{rest}"
    if scheme in ("mysql", "mariadb", "mariadb+pymysql", "mysql+mysqldb", "mariadb+mysqldb"):
        uri = f"mysql+pymysql://{rest}"
        scheme = "mysql+pymysql"
    if scheme == "mysql+pymysql" and "charset=" not in uri:
        uri += ("&" if "?" in uri else "?") + "charset=utf8mb4"
    return uri


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# Link-local addresses, where clouds serve instance metadata and credentials (169.254.169.254,
# and AWS's fd00:ec2::254): callbacks go there only when TASKMAN_CALLBACK_ALLOWED_HOSTS says so.
METADATA_NETWORKS: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(network) for network in ("169.254.0.0/16", "fe80::/10", "fd00:ec2::254")
)
_HOST_NAME = re.compile(
    r"(\*\.)?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*"
)


@dataclass(frozen=True)
class CallbackHosts:
    """Where callbacks may go: a host in `names` (or under one of `domains`, `.example.org`),
    else only when every address it resolves to is allowed: in `networks`, or, with `anywhere`,
    outside `refused`. The default: anywhere but the link-local (cloud metadata) networks."""

    anywhere: bool = True
    refused: tuple[IPNetwork, ...] = METADATA_NETWORKS
    names: frozenset[str] = frozenset()
    domains: tuple[str, ...] = ()
    networks: tuple[IPNetwork, ...] = ()


def parse_callback_hosts(raw: str | None) -> CallbackHosts:
    """TASKMAN_CALLBACK_ALLOWED_HOSTS: comma-separated host names (`*.example.org` for the names
    under it), IP addresses or networks (CIDR), or `*` for anywhere at all."""
    if not raw or not raw.strip():
        return CallbackHosts()
    anywhere = False
    names: set[str] = set()
    domains: list[str] = []
    networks: list[IPNetwork] = []
    for entry in (part.strip().lower() for part in raw.split(",")):
        if entry == "*":
            anywhere = True
        elif entry:
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
                continue
            except ValueError:
                pass
            name = entry.rstrip(".")
            if not _HOST_NAME.fullmatch(name):
                raise ConfigurationError(
                    f"TASKMAN_CALLBACK_ALLOWED_HOSTS: {entry!r} is not a host name (international "
                    "names in their xn-- form), an IP address or network, or *"
                )
            if name.startswith("*."):
                domains.append(name[1:])
            else:
                names.add(name)
    if not (anywhere or names or domains or networks):
        raise ConfigurationError("TASKMAN_CALLBACK_ALLOWED_HOSTS names no host")
    return CallbackHosts(
        anywhere=anywhere,
        refused=(),
        names=frozenset(names),
        domains=tuple(domains),
        networks=tuple(networks),
    )


def normalise_prefix(prefix: str) -> str:
    """`taskmanager/`, `/taskmanager/` and `/taskmanager` all mean `/taskmanager`; `/` means none."""
    stripped = prefix.strip().strip("/")
    return f"/{stripped}" if stripped else ""


def compose_database_uri(env: dict[str, str]) -> str | None:
    """Build the database URL from DB_* parts (container and Helm set-ups) when given."""
    if not env.get("DB_HOST") and not env.get("DB_NAME"):
        return None
    driver_name = env.get("DB_DRIVER", "postgresql").lower()
    driver = DB_DRIVERS.get(driver_name)
    if driver is None:
        raise ConfigurationError(
            f"DB_DRIVER must be one of {', '.join(sorted(DB_DRIVERS))}, got {driver_name!r}"
        )
    if driver == "sqlite":
        return f"sqlite:///{env.get('DB_NAME', 'taskmanager.db')}"
    host = env.get("DB_HOST", "localhost")
    port = env.get("DB_PORT") or DEFAULT_DB_PORTS[driver]
    name = env.get("DB_NAME", "taskmanager")
    user = env.get("DB_USER", "")
    password = env.get("DB_PASS", "")
    credentials = ""
    if user:
        credentials = quote_plus(user)
        if password:
            credentials += ":" + quote_plus(password)
        credentials += "@"
    uri = f"{driver}://{credentials}{host}:{port}/{name}"
    schema = env.get("DB_SCHEMA")
    if schema and driver.startswith("postgresql"):
        uri += "?options=" + quote_plus(f"-csearch_path={schema}")
    return normalise_database_uri(uri)


@dataclass(frozen=True)
class Settings:
    """Typed view of the configuration, validated once at start-up."""

    database_uri: str
    embedded: bool
    instance_path: Path
    secret_key: str
    password_salt: str
    instance_name: str = "TaskManager"
    project_name: str = "DefaultProject"
    port: int = 5000
    # Self-registration is off unless asked for; a registered account then gets these roles
    # and weight (none and 0: an admin decides what a stranger may see and be given).
    registerable: bool = False
    registration_roles: tuple[str, ...] = ()
    registration_weight: float = 0.0
    changeable: bool = True
    recoverable: bool = True
    confirmable: bool = True
    admin_username: str | None = None
    admin_email: str | None = None
    admin_password: str | None = None
    admin_force_update: bool = False
    callback_method: str = "local"
    callback_secret: str | None = None
    callback_max_attempts: int = 8
    callback_timeout: float = 10.0
    callback_backoff: float = 2.0
    callback_worker: bool = True
    callback_poll_interval: float = 5.0
    callback_concurrency: int = 4
    # Delivered callbacks older than this are deleted; 0 keeps them forever.
    callback_retention_days: int = 30
    callback_allowed_hosts: CallbackHosts = CallbackHosts()
    celery_broker: str = "amqp://guest:guest@localhost//"
    celery_backend: str | None = None
    celery_queue: str = "taskmanager_callbacks"
    redis_queue_url: str = "redis://localhost:6379"
    redis_queue_name: str = "taskmanager_callbacks"
    lock_timeout: float | None = None
    # Switches for the behaviours that changed since 6.6.0 (docs/upgrading.md): each restores the
    # old one while a site's clients catch up.
    scan_check: str = "strict"
    done_releases_lock: bool = True
    email_check: str = "strict"
    auto_migrate: bool = True
    db_wait_timeout: float = 60.0
    auth_cache_seconds: float = 60.0
    # How long a list total of 10,000 tasks or more is reused (services.tasks.lists.CountCache).
    list_count_cache_seconds: float = 5.0
    # Hardening: largest request body, shortest password accepted, cookies Secure even over HTTP.
    max_request_bytes: int = 64 * 1024 * 1024
    password_length_min: int = 8
    # argon2's cost: passes over memory, and KiB of memory per hash (argon2-cffi's defaults).
    password_hash_rounds: int = 3
    password_hash_memory_kib: int = 65536
    cookie_secure: bool = False
    login_max_failures: int = 10
    login_window_seconds: float = 300.0
    gunicorn_worker_class: str | None = None
    gunicorn_worker_connections: int | None = None
    gunicorn_timeout: int | None = None
    gunicorn_workers: int | None = None
    sentry_dsn: str | None = None
    log_request_headers: bool = False
    project_repo: str | None = None
    project_branch: str | None = None
    project_relative_path: str | None = None
    # Behind a reverse proxy: how many proxies' X-Forwarded-* headers to trust, and a fixed path
    # prefix (e.g. /taskmanager) for proxies that pass the full path on.
    proxy_count: int = 0
    url_prefix: str = ""
    log_format: str = "text"
    log_level: str = "INFO"
    metrics_enabled: bool = True
    prometheus_multiproc_dir: str | None = None
    mail: dict[str, Any] = field(default_factory=dict)
    flask_passthrough: dict[str, Any] = field(default_factory=dict)

    @property
    def database_backend(self) -> str:
        return self.database_uri.split(":", 1)[0].split("+", 1)[0]


def read_environment(env_file: str | os.PathLike[str] | None = ".env") -> dict[str, str]:
    """Environment variables win over the `.env` file, as with Flask's own loader."""
    merged: dict[str, str] = {}
    if env_file is not None and Path(env_file).is_file():
        merged.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    merged.update(os.environ)
    return merged


def default_instance_path() -> Path:
    return Path.cwd() / "instance"


def _embedded_secrets(instance_path: Path) -> dict[str, str]:
    """Generate SECRET_KEY and SECURITY_PASSWORD_SALT once and keep them in the instance folder."""
    path = instance_path / "secrets.json"
    if path.is_file():
        stored: dict[str, str] = json.loads(path.read_text())
        return stored
    instance_path.mkdir(parents=True, exist_ok=True)
    generated = {
        "SECRET_KEY": secrets.token_urlsafe(48),
        "SECURITY_PASSWORD_SALT": secrets.token_urlsafe(24),
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(generated))
    os.chmod(tmp, 0o600)
    tmp.replace(path)
    return generated


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Read and validate the configuration; raise ConfigurationError naming what is wrong."""
    env = read_environment() if env is None else env
    instance_path = Path(env.get("TASKMAN_INSTANCE_PATH") or default_instance_path())

    uri = env.get("SQLALCHEMY_DATABASE_URI") or compose_database_uri(env)
    embedded = uri is None
    if uri is None:
        instance_path.mkdir(parents=True, exist_ok=True)
        uri = f"sqlite:///{instance_path / 'taskmanager.db'}"
    uri = normalise_database_uri(uri)

    secret_key = env.get("SECRET_KEY")
    salt = env.get("SECURITY_PASSWORD_SALT")
    if embedded and (not secret_key or not salt):
        generated = _embedded_secrets(instance_path)
        secret_key = secret_key or generated["SECRET_KEY"]
        salt = salt or generated["SECURITY_PASSWORD_SALT"]
    missing = [
        name
        for name, value in (("SECRET_KEY", secret_key), ("SECURITY_PASSWORD_SALT", salt))
        if not value
    ]
    if missing:
        raise ConfigurationError(
            f"{' and '.join(missing)} must be set when a database is configured "
            "(only the embedded SQLite default generates them)"
        )

    callback_method = env.get("TASKMAN_CALLBACK_METHOD", "local").strip().lower()
    if callback_method not in {"local", "celery", "redis_queue"}:
        raise ConfigurationError(
            f"TASKMAN_CALLBACK_METHOD must be local, celery or redis_queue, got {callback_method!r}"
        )

    admin_username = env.get("TASKMAN_ADMIN_USERNAME")
    admin_password = env.get("TASKMAN_ADMIN_PASSWORD")
    admin_email = env.get("TASKMAN_ADMIN_EMAIL")
    if embedded and not admin_username:
        admin_username, admin_password = "admin", admin_password or "admin"
        admin_email = admin_email or "admin@example.org"

    log_format = (env.get("TASKMAN_LOG_FORMAT") or "text").strip().lower()
    if log_format not in LOG_FORMATS:
        raise ConfigurationError(f"TASKMAN_LOG_FORMAT must be text or json, got {log_format!r}")
    log_level = (env.get("TASKMAN_LOG_LEVEL") or "INFO").strip().upper()
    if log_level not in LOG_LEVELS:
        raise ConfigurationError(
            f"TASKMAN_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {log_level!r}"
        )
    proxy_count = as_int("TASKMAN_PROXY_COUNT", env.get("TASKMAN_PROXY_COUNT"), 0) or 0
    if proxy_count < 0:
        raise ConfigurationError("TASKMAN_PROXY_COUNT must be zero or more")

    mail = {key: parse_value(value) for key, value in env.items() if key.startswith("MAIL_")}
    passthrough = {
        key: parse_value(value)
        for key, value in env.items()
        if key.startswith(PASSTHROUGH_PREFIXES)
    }

    return Settings(
        database_uri=uri,
        embedded=embedded,
        instance_path=instance_path,
        secret_key=str(secret_key),
        password_salt=str(salt),
        instance_name=env.get("TASKMAN_INSTANCE_NAME") or "TaskManager",
        project_name=env.get("TASKMAN_PROJECT_NAME") or "DefaultProject",
        port=as_int("TASKMANAGER_PORT", env.get("TASKMANAGER_PORT"), 5000) or 5000,
        registerable=as_bool(env.get("SECURITY_REGISTERABLE"), False),
        registration_roles=tuple(
            role.strip()
            for role in (env.get("TASKMAN_REGISTRATION_ROLES") or "").split(",")
            if role.strip()
        ),
        registration_weight=_registration_weight(env),
        changeable=as_bool(env.get("SECURITY_CHANGEABLE"), True),
        recoverable=as_bool(env.get("SECURITY_RECOVERABLE"), True),
        confirmable=as_bool(env.get("SECURITY_CONFIRMABLE"), True),
        admin_username=admin_username,
        admin_email=admin_email,
        admin_password=admin_password,
        admin_force_update=as_bool(env.get("TASKMAN_ADMIN_FORCE_UPDATE")),
        callback_method=callback_method,
        callback_secret=env.get("TASKMAN_CALLBACK_SECRET") or None,
        callback_max_attempts=at_least(env, "TASKMAN_CALLBACK_MAX_ATTEMPTS", 8, minimum=1),
        callback_timeout=seconds(env, "TASKMAN_CALLBACK_TIMEOUT", 10.0),
        callback_backoff=seconds(env, "TASKMAN_CALLBACK_BACKOFF", 2.0, zero_ok=True),
        callback_worker=as_bool(env.get("TASKMAN_CALLBACK_WORKER"), True),
        callback_poll_interval=seconds(env, "TASKMAN_CALLBACK_POLL_INTERVAL", 5.0),
        callback_concurrency=at_least(env, "TASKMAN_CALLBACK_CONCURRENCY", 4, minimum=1),
        callback_retention_days=at_least(env, "TASKMAN_CALLBACK_RETENTION_DAYS", 30, minimum=0),
        callback_allowed_hosts=parse_callback_hosts(env.get("TASKMAN_CALLBACK_ALLOWED_HOSTS")),
        celery_broker=env.get("TASKMAN_CELERY_BROKER") or "amqp://guest:guest@localhost//",
        celery_backend=env.get("TASKMAN_CELERY_BACKEND") or None,
        celery_queue=env.get("TASKMAN_CELERY_QUEUE") or "taskmanager_callbacks",
        redis_queue_url=env.get("TASKMAN_REDIS_QUEUE_URL") or "redis://localhost:6379",
        redis_queue_name=env.get("TASKMAN_REDIS_QUEUE_NAME") or "taskmanager_callbacks",
        lock_timeout=as_float("TASKMAN_LOCK_TIMEOUT", env.get("TASKMAN_LOCK_TIMEOUT"), None),
        scan_check=choice(env, "TASKMAN_SCAN_CHECK", SCAN_CHECKS),
        done_releases_lock=boolean(env, "TASKMAN_DONE_RELEASES_LOCK", True),
        email_check=choice(env, "TASKMAN_EMAIL_CHECK", EMAIL_CHECKS),
        auto_migrate=as_bool(env.get("TASKMAN_AUTO_MIGRATE"), True),
        db_wait_timeout=as_float(
            "TASKMAN_DB_WAIT_TIMEOUT", env.get("TASKMAN_DB_WAIT_TIMEOUT"), 60.0
        )
        or 0.0,
        auth_cache_seconds=as_float(
            "TASKMAN_AUTH_CACHE_SECONDS", env.get("TASKMAN_AUTH_CACHE_SECONDS"), 60.0
        )
        or 0.0,
        list_count_cache_seconds=as_float(
            "TASKMAN_LIST_COUNT_CACHE_SECONDS", env.get("TASKMAN_LIST_COUNT_CACHE_SECONDS"), 5.0
        )
        or 0.0,
        max_request_bytes=at_least(
            env, "TASKMAN_MAX_REQUEST_BYTES", 64 * 1024 * 1024, minimum=1024
        ),
        password_length_min=at_least(env, "SECURITY_PASSWORD_LENGTH_MIN", 8, minimum=1),
        password_hash_rounds=at_least(env, "TASKMAN_PASSWORD_HASH_ROUNDS", 3, minimum=1),
        password_hash_memory_kib=at_least(
            env, "TASKMAN_PASSWORD_HASH_MEMORY_KIB", 65536, minimum=1024
        ),
        cookie_secure=as_bool(env.get("TASKMAN_COOKIE_SECURE")),
        login_max_failures=at_least(env, "TASKMAN_LOGIN_MAX_FAILURES", 10, minimum=1),
        login_window_seconds=seconds(env, "TASKMAN_LOGIN_WINDOW_SECONDS", 300.0),
        gunicorn_worker_class=env.get("GUNICORN_WORKER_CLASS") or None,
        gunicorn_worker_connections=as_int(
            "GUNICORN_WORKER_CONNECTIONS", env.get("GUNICORN_WORKER_CONNECTIONS"), None
        ),
        gunicorn_timeout=as_int("GUNICORN_TIMEOUT", env.get("GUNICORN_TIMEOUT"), None),
        gunicorn_workers=as_int("GUNICORN_WORKERS", env.get("GUNICORN_WORKERS"), None),
        sentry_dsn=env.get("SENTRY_DSN") or None,
        log_request_headers=as_bool(env.get("TASKMAN_LOG_REQUEST_HEADERS")),
        project_repo=env.get("PROJECT_REPO") or None,
        project_branch=env.get("PROJECT_BRANCH") or None,
        project_relative_path=env.get("PROJECT_RELATIVE_PATH") or None,
        proxy_count=proxy_count,
        url_prefix=normalise_prefix(env.get("TASKMAN_URL_PREFIX") or ""),
        log_format=log_format,
        log_level=log_level,
        metrics_enabled=as_bool(env.get("TASKMAN_METRICS"), True),
        prometheus_multiproc_dir=env.get("PROMETHEUS_MULTIPROC_DIR") or None,
        mail=mail,
        flask_passthrough=passthrough,
    )
