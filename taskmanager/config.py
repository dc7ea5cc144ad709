"""The one place configuration is read: environment variables, then `.env`, then defaults.

Every variable is declared once, on `Settings` (or `DatabaseParts` for the database URL in
parts), with its type, default, bounds and name; everything else asks `load_settings()` (or reads
`app.config`, which is filled from it).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import quote_plus

from dotenv import dotenv_values
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationError,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

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

DB_DRIVERS = {
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mysql+pymysql",
    "sqlite": "sqlite",
}
DEFAULT_DB_PORTS = {"postgresql+psycopg": "5432", "mysql+pymysql": "3306"}
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})


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


def _network(entry: str) -> IPNetwork | None:
    try:
        return ipaddress.ip_network(entry.strip("[]"), strict=False)
    except ValueError:
        return None


def _host_name(entry: str) -> str:
    name = entry.rstrip(".")
    if not _HOST_NAME.fullmatch(name):
        raise ConfigurationError(
            f"TASKMAN_CALLBACK_ALLOWED_HOSTS: {entry!r} is not a host name (international "
            "names in their xn-- form), an IP address or network, or *"
        )
    return name


def _entries(raw: str) -> tuple[bool, list[IPNetwork], list[str]]:
    """`*`, then the networks, then the host names among the comma-separated entries."""
    anywhere, networks, names = False, [], []
    for entry in (part.strip().lower() for part in raw.split(",")):
        network = _network(entry) if entry else None
        if network is not None:
            networks.append(network)
        elif entry == "*":
            anywhere = True
        elif entry:
            names.append(_host_name(entry))
    return anywhere, networks, names


def parse_callback_hosts(raw: str | None) -> CallbackHosts:
    """TASKMAN_CALLBACK_ALLOWED_HOSTS: comma-separated host names (`*.example.org` for the names
    under it), IP addresses or networks (CIDR), or `*` for anywhere at all."""
    if not raw or not raw.strip():
        return CallbackHosts()
    anywhere, networks, names = _entries(raw)
    if not (anywhere or networks or names):
        raise ConfigurationError("TASKMAN_CALLBACK_ALLOWED_HOSTS names no host")
    domains = tuple(name[1:] for name in names if name.startswith("*."))
    return CallbackHosts(
        anywhere=anywhere,
        refused=(),
        names=frozenset(names).difference(f"*{domain}" for domain in domains),
        domains=domains,
        networks=tuple(networks),
    )


def normalise_prefix(prefix: str) -> str:
    """`taskmanager/`, `/taskmanager/` and `/taskmanager` all mean `/taskmanager`; `/` means none."""
    stripped = prefix.strip().strip("/")
    return f"/{stripped}" if stripped else ""


def normalise_external_url(url: str | None) -> str | None:
    """`https://tasks.example.org/taskmanager/` -> without the trailing slash; http(s) only."""
    if url is None or not url.strip():
        return None
    stripped = url.strip().rstrip("/")
    scheme, sep, rest = stripped.partition("://")
    if scheme.lower() not in ("http", "https") or not sep or not rest:
        raise ValueError(f"must be an http:// or https:// address, got {url!r}")
    return stripped


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


def _lenient_bool(value: Any) -> bool:
    """As the old server: 1/true/yes/on (any case) are true, anything else is false."""
    return value if isinstance(value, bool) else str(value).strip().lower() in TRUE_WORDS


def _comma_list(value: Any) -> Any:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


def _host_names(value: Any) -> Any:
    """Comma-separated host names (`*.example.org` for every name under one) or IP addresses,
    in lower case."""
    if not isinstance(value, str):
        return value
    names = tuple(part.strip().lower().strip("[]") for part in value.split(",") if part.strip())
    for name in names:
        if _network(name) is None and not _HOST_NAME.fullmatch(name.rstrip(".")):
            raise ValueError(f"{name!r} is not a host name or an IP address")
    return tuple(name.rstrip(".") for name in names)


def _callback_hosts(value: Any) -> CallbackHosts:
    return value if isinstance(value, CallbackHosts) else parse_callback_hosts(value)


# A switch read as the old server read it: anything but 1/true/yes/on is false.
Switch = Annotated[bool, BeforeValidator(_lenient_bool)]
# A switch that refuses what is neither true nor false (the behaviours changed since 6.6.0).
StrictSwitch = bool
Seconds = Annotated[float, Field(gt=0)]
# pydantic's errors by type, as sentences that name the variable and say why (see _message).
_MESSAGES = {
    "int_parsing": "{name} must be a whole number, got {input!r}",
    "int_from_float": "{name} must be a whole number, got {input!r}",
    "float_parsing": "{name} must be a number, got {input!r}",
    "bool_parsing": "{name} must be true or false, got {input!r}",
    "greater_than_equal": "{name} must be at least {ge:g}, got {input}",
    "greater_than": "{name} must be more than {gt:g}, got {input}",
    "finite_number": "{name} must be a finite number, got {input!r}",
    "literal_error": "{name} must be one of {choices}, got {input!r}",
}


ModelT = TypeVar("ModelT", bound=BaseModel)


def _message(error: ErrorDetails) -> str:
    """One pydantic error as a sentence that names the variable and says why."""
    context = dict(error.get("ctx") or {})
    context["choices"] = str(context.get("expected", "")).replace("'", "")
    template = _MESSAGES.get(error["type"], "{name}: {msg}")
    name = ".".join(str(part) for part in error["loc"]) or "configuration"
    return template.format(**context, name=name, input=error["input"], msg=error["msg"])


def _validated(model: type[ModelT], data: Mapping[str, Any]) -> ModelT:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigurationError("; ".join(map(_message, exc.errors()))) from None


def _env(name: str, default: Any = ..., **bounds: Any) -> Any:
    """A setting read from the environment variable `name`."""
    return Field(default, validation_alias=name, **bounds)


class DatabaseParts(BaseModel):
    """The database URL in parts (container and Helm set-ups), used without SQLALCHEMY_DATABASE_URI."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    driver: Annotated[
        Literal["postgresql", "postgres", "mysql", "mariadb", "sqlite"], BeforeValidator(_lower)
    ] = _env("DB_DRIVER", "postgresql")
    host: str = _env("DB_HOST", "localhost")
    # Without one, the driver's own port (5432 or 3306).
    port: int | None = _env("DB_PORT", None)
    # Without one, taskmanager (taskmanager.db for SQLite).
    name: str | None = _env("DB_NAME", None)
    user: str = _env("DB_USER", "")
    password: str = _env("DB_PASS", "")
    # PostgreSQL's search path.
    schema_: str | None = _env("DB_SCHEMA", None)

    def uri(self) -> str:
        driver = DB_DRIVERS[self.driver]
        if driver == "sqlite":
            return f"sqlite:///{self.name or 'taskmanager.db'}"
        credentials = ""
        if self.user:
            password = ":" + quote_plus(self.password) if self.password else ""
            credentials = f"{quote_plus(self.user)}{password}@"
        port = self.port or DEFAULT_DB_PORTS[driver]
        uri = f"{driver}://{credentials}{self.host}:{port}/{self.name or 'taskmanager'}"
        if self.schema_ and driver.startswith("postgresql"):
            uri += "?options=" + quote_plus(f"-csearch_path={self.schema_}")
        return normalise_database_uri(uri)


def compose_database_uri(env: Mapping[str, str]) -> str | None:
    """Build the database URL from DB_* parts when given."""
    if not env.get("DB_HOST") and not env.get("DB_NAME"):
        return None
    return _validated(DatabaseParts, _given(env)).uri()


def _given(env: Mapping[str, str]) -> dict[str, str]:
    """An empty variable counts as unset, as it always has."""
    return {name: value for name, value in env.items() if value != ""}


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


def _database(env: Mapping[str, str], instance_path: Path) -> dict[str, Any]:
    """The database URL, and whether it is the embedded SQLite default."""
    uri = env.get("SQLALCHEMY_DATABASE_URI") or compose_database_uri(env)
    if uri is not None:
        return {"SQLALCHEMY_DATABASE_URI": normalise_database_uri(uri), "embedded": False}
    instance_path.mkdir(parents=True, exist_ok=True)
    return {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance_path / 'taskmanager.db'}",
        "embedded": True,
    }


def _secrets(env: Mapping[str, str], *, embedded: bool, instance_path: Path) -> dict[str, str]:
    """Only the embedded default generates (and keeps) its secrets; any other database needs both."""
    given = {name: env.get(name, "") for name in ("SECRET_KEY", "SECURITY_PASSWORD_SALT")}
    if embedded and not all(given.values()):
        generated = _embedded_secrets(instance_path)
        given = {name: value or generated[name] for name, value in given.items()}
    missing = [name for name, value in given.items() if not value]
    if missing:
        raise ConfigurationError(
            f"{' and '.join(missing)} must be set when a database is configured "
            "(only the embedded SQLite default generates them)"
        )
    return given


def _embedded_admin(env: Mapping[str, str]) -> dict[str, str]:
    """The embedded default invents admin/admin when no administrator is named."""
    if env.get("TASKMAN_ADMIN_USERNAME"):
        return {}
    return {
        "TASKMAN_ADMIN_USERNAME": "admin",
        "TASKMAN_ADMIN_PASSWORD": env.get("TASKMAN_ADMIN_PASSWORD") or "admin",
        "TASKMAN_ADMIN_EMAIL": env.get("TASKMAN_ADMIN_EMAIL") or "admin@example.org",
    }


class Settings(BaseSettings):
    """Typed view of the configuration, validated once at start-up."""

    model_config = SettingsConfigDict(case_sensitive=True, extra="ignore", frozen=True)

    database_uri: str = _env("SQLALCHEMY_DATABASE_URI")
    instance_path: Path = Field(
        default_factory=default_instance_path, validation_alias="TASKMAN_INSTANCE_PATH"
    )
    secret_key: str = _env("SECRET_KEY")
    password_salt: str = _env("SECURITY_PASSWORD_SALT")
    instance_name: str = _env("TASKMAN_INSTANCE_NAME", "TaskManager")
    project_name: str = _env("TASKMAN_PROJECT_NAME", "DefaultProject")
    port: int = _env("TASKMANAGER_PORT", 5000)
    # Self-registration is off unless asked for; a registered account then gets these roles
    # and weight (none and 0: an admin decides what a stranger may see and be given).
    registerable: Switch = _env("SECURITY_REGISTERABLE", False)
    registration_roles: Annotated[tuple[str, ...], BeforeValidator(_comma_list)] = _env(
        "TASKMAN_REGISTRATION_ROLES", ()
    )
    registration_weight: float = _env("TASKMAN_REGISTRATION_WEIGHT", 0.0, ge=0, allow_inf_nan=False)
    changeable: Switch = _env("SECURITY_CHANGEABLE", True)
    recoverable: Switch = _env("SECURITY_RECOVERABLE", True)
    confirmable: Switch = _env("SECURITY_CONFIRMABLE", True)
    admin_username: str | None = _env("TASKMAN_ADMIN_USERNAME", None)
    admin_email: str | None = _env("TASKMAN_ADMIN_EMAIL", None)
    admin_password: str | None = _env("TASKMAN_ADMIN_PASSWORD", None)
    admin_force_update: Switch = _env("TASKMAN_ADMIN_FORCE_UPDATE", False)
    callback_method: Annotated[
        Literal["local", "celery", "redis_queue"], BeforeValidator(_lower)
    ] = _env("TASKMAN_CALLBACK_METHOD", "local")
    callback_secret: str | None = _env("TASKMAN_CALLBACK_SECRET", None)
    callback_max_attempts: int = _env("TASKMAN_CALLBACK_MAX_ATTEMPTS", 8, ge=1)
    callback_timeout: Seconds = _env("TASKMAN_CALLBACK_TIMEOUT", 10.0)
    callback_backoff: float = _env("TASKMAN_CALLBACK_BACKOFF", 2.0, ge=0)
    callback_worker: Switch = _env("TASKMAN_CALLBACK_WORKER", True)
    callback_poll_interval: Seconds = _env("TASKMAN_CALLBACK_POLL_INTERVAL", 5.0)
    # A published id whose row is still pending this long after is published again (the message
    # was lost: a process killed between marking and publishing, a broker connection closed).
    callback_republish_after: Seconds = _env("TASKMAN_CALLBACK_REPUBLISH_AFTER", 60.0)
    callback_concurrency: int = _env("TASKMAN_CALLBACK_CONCURRENCY", 4, ge=1)
    # Delivered callbacks older than this are deleted; 0 keeps them forever.
    callback_retention_days: int = _env("TASKMAN_CALLBACK_RETENTION_DAYS", 30, ge=0)
    callback_allowed_hosts: Annotated[CallbackHosts, PlainValidator(_callback_hosts)] = _env(
        "TASKMAN_CALLBACK_ALLOWED_HOSTS", CallbackHosts()
    )
    # Tasks waiting for their data (wait_for): checked by the callback workers, first after
    # the interval, then doubling after each answer that is not 2xx, up to the longest.
    wait_for_interval: Seconds = _env("TASKMAN_WAIT_FOR_INTERVAL", 60.0)
    wait_for_max_interval: Seconds = _env("TASKMAN_WAIT_FOR_MAX_INTERVAL", 3600.0)
    # The only credentials a check sends: a netrc file's entry for the URL's host, else the
    # token as `Authorization: Bearer`, to the hosts listed only (none when none is).
    wait_for_netrc: Path | None = _env("TASKMAN_WAIT_FOR_NETRC", None)
    wait_for_token: str | None = _env("TASKMAN_WAIT_FOR_TOKEN", None)
    wait_for_token_hosts: Annotated[tuple[str, ...], BeforeValidator(_host_names)] = _env(
        "TASKMAN_WAIT_FOR_TOKEN_HOSTS", ()
    )
    celery_broker: str = _env("TASKMAN_CELERY_BROKER", "amqp://guest:guest@localhost//")
    celery_backend: str | None = _env("TASKMAN_CELERY_BACKEND", None)
    celery_queue: str = _env("TASKMAN_CELERY_QUEUE", "taskmanager_callbacks")
    redis_queue_url: str = _env("TASKMAN_REDIS_QUEUE_URL", "redis://localhost:6379")
    redis_queue_name: str = _env("TASKMAN_REDIS_QUEUE_NAME", "taskmanager_callbacks")
    lock_timeout: float | None = _env("TASKMAN_LOCK_TIMEOUT", None)
    # Switches for the behaviours that changed since 6.6.0 (docs/upgrading.md): each restores the
    # old one while a site's clients catch up. TASKMAN_SCAN_CHECK: a task whose scan_sources do
    # not match its template's scans is refused (strict), stored with a warning in the answer
    # (warn, as the old server stored it), or stored. TASKMAN_EMAIL_CHECK: e-mails given to the
    # API must look like local@domain (strict), or may be any text without control characters.
    scan_check: Annotated[Literal["strict", "warn", "off"], BeforeValidator(_lower)] = _env(
        "TASKMAN_SCAN_CHECK", "strict"
    )
    done_releases_lock: StrictSwitch = _env("TASKMAN_DONE_RELEASES_LOCK", True)
    email_check: Annotated[Literal["strict", "loose"], BeforeValidator(_lower)] = _env(
        "TASKMAN_EMAIL_CHECK", "strict"
    )
    auto_migrate: Switch = _env("TASKMAN_AUTO_MIGRATE", True)
    db_wait_timeout: float = _env("TASKMAN_DB_WAIT_TIMEOUT", 60.0)
    auth_cache_seconds: float = _env("TASKMAN_AUTH_CACHE_SECONDS", 60.0)
    # How long a list total of 10,000 tasks or more is reused (services.tasks.lists.CountCache).
    list_count_cache_seconds: float = _env("TASKMAN_LIST_COUNT_CACHE_SECONDS", 5.0)
    # Hardening: largest request body, shortest password accepted, cookies Secure even over HTTP.
    max_request_bytes: int = _env("TASKMAN_MAX_REQUEST_BYTES", 64 * 1024 * 1024, ge=1024)
    password_length_min: int = _env("SECURITY_PASSWORD_LENGTH_MIN", 8, ge=1)
    # argon2's cost: passes over memory, and KiB of memory per hash (argon2-cffi's defaults).
    password_hash_rounds: int = _env("TASKMAN_PASSWORD_HASH_ROUNDS", 3, ge=1)
    password_hash_memory_kib: int = _env("TASKMAN_PASSWORD_HASH_MEMORY_KIB", 65536, ge=1024)
    cookie_secure: Switch = _env("TASKMAN_COOKIE_SECURE", False)
    login_max_failures: int = _env("TASKMAN_LOGIN_MAX_FAILURES", 10, ge=1)
    login_window_seconds: Seconds = _env("TASKMAN_LOGIN_WINDOW_SECONDS", 300.0)
    # Unset: serving.py's defaults (gthread, 4 threads, 4 workers) and gunicorn's timeout.
    gunicorn_worker_class: str | None = _env("GUNICORN_WORKER_CLASS", None)
    gunicorn_worker_connections: int | None = _env("GUNICORN_WORKER_CONNECTIONS", None)
    gunicorn_timeout: int | None = _env("GUNICORN_TIMEOUT", None)
    gunicorn_workers: int | None = _env("GUNICORN_WORKERS", None)
    sentry_dsn: str | None = _env("SENTRY_DSN", None)
    log_request_headers: Switch = _env("TASKMAN_LOG_REQUEST_HEADERS", False)
    project_repo: str | None = _env("PROJECT_REPO", None)
    project_branch: str | None = _env("PROJECT_BRANCH", None)
    project_relative_path: str | None = _env("PROJECT_RELATIVE_PATH", None)
    # Behind a reverse proxy: how many proxies' X-Forwarded-* headers to trust, and a fixed path
    # prefix (e.g. /taskmanager) for proxies that pass the full path on.
    proxy_count: int = _env("TASKMAN_PROXY_COUNT", 0, ge=0)
    url_prefix: Annotated[str, AfterValidator(normalise_prefix)] = _env("TASKMAN_URL_PREFIX", "")
    # The server's address as its users reach it (scheme, host and any path prefix), for links
    # in mails sent outside a request (`taskmanager remind`); unset, those mails have no links.
    external_url: Annotated[str | None, AfterValidator(normalise_external_url)] = _env(
        "TASKMAN_EXTERNAL_URL", None
    )
    # `taskmanager remind`: a task locked this long (hours) is in its holder's digest.
    remind_locked_hours: int = _env("TASKMAN_REMIND_LOCKED_HOURS", 48, ge=1)
    log_format: Annotated[Literal["text", "json"], BeforeValidator(_lower)] = _env(
        "TASKMAN_LOG_FORMAT", "text"
    )
    log_level: Annotated[
        Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], BeforeValidator(_upper)
    ] = _env("TASKMAN_LOG_LEVEL", "INFO")
    metrics_enabled: Switch = _env("TASKMAN_METRICS", True)
    prometheus_multiproc_dir: str | None = _env("PROMETHEUS_MULTIPROC_DIR", None)
    # Not variables of their own: derived from the database URL, and the prefixed variables.
    embedded: bool = False
    mail: dict[str, Any] = Field(default_factory=dict)
    flask_passthrough: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # One source: the mapping load_settings is given (read_environment puts the environment
        # over `.env`). The prefixed variables pass into Flask whole, so every variable is
        # needed, not only the declared ones, and tests give their own mapping.
        return (init_settings,)

    @property
    def database_backend(self) -> str:
        return self.database_uri.split(":", 1)[0].split("+", 1)[0]

    @model_validator(mode="before")
    @classmethod
    def _derive(cls, data: Any) -> Any:
        """Keep the declared variables, then add what is derived from several of them."""
        env = _given(data)
        values: dict[str, Any] = {
            name: env[name] for name in environment_variables() if name in env
        }
        instance_path = Path(env.get("TASKMAN_INSTANCE_PATH") or default_instance_path())
        database = _database(env, instance_path)
        values.update(database, TASKMAN_INSTANCE_PATH=instance_path)
        values.update(_secrets(env, embedded=database["embedded"], instance_path=instance_path))
        if database["embedded"]:
            values.update(_embedded_admin(env))
        values["mail"] = {
            key: parse_value(value) for key, value in data.items() if key.startswith("MAIL_")
        }
        values["flask_passthrough"] = {
            key: parse_value(value)
            for key, value in data.items()
            if key.startswith(PASSTHROUGH_PREFIXES)
        }
        return values


def environment_variables() -> dict[str, FieldInfo]:
    """Every variable the server reads, with its declaration (DB_* parts included)."""
    fields = [*Settings.model_fields.values(), *DatabaseParts.model_fields.values()]
    return {
        info.validation_alias: info for info in fields if isinstance(info.validation_alias, str)
    }


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the configuration; raise ConfigurationError naming what is wrong."""
    return _validated(Settings, read_environment() if env is None else env)
