from pathlib import Path
from typing import Any

import pytest

from taskmanager.config import (
    ConfigurationError,
    compose_database_uri,
    environment_variables,
    load_settings,
    normalise_database_uri,
    parse_callback_hosts,
    parse_value,
)


def test_true_false_strings_become_booleans() -> None:
    assert parse_value("TRUE") is True
    assert parse_value("false") is False
    assert parse_value("5000") == "5000"


def test_embedded_default_generates_secrets_once(tmp_path: Path) -> None:
    first = load_settings({"TASKMAN_INSTANCE_PATH": str(tmp_path)})
    second = load_settings({"TASKMAN_INSTANCE_PATH": str(tmp_path)})
    assert first.embedded
    assert first.database_uri == f"sqlite:///{tmp_path / 'taskmanager.db'}"
    assert first.secret_key == second.secret_key and len(first.secret_key) > 30
    assert first.password_salt == second.password_salt
    assert (tmp_path / "secrets.json").stat().st_mode & 0o077 == 0
    assert (first.admin_username, first.admin_password) == ("admin", "admin")


def test_configured_database_requires_both_secrets(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="SECRET_KEY and SECURITY_PASSWORD_SALT"):
        load_settings(
            {"SQLALCHEMY_DATABASE_URI": "sqlite:///x.db", "TASKMAN_INSTANCE_PATH": str(tmp_path)}
        )
    with pytest.raises(ConfigurationError, match="SECURITY_PASSWORD_SALT") as raised:
        load_settings({"DB_HOST": "db", "SECRET_KEY": "k", "TASKMAN_INSTANCE_PATH": str(tmp_path)})
    assert "SECRET_KEY and" not in str(raised.value)


def test_db_parts_compose_one_uri() -> None:
    uri = compose_database_uri(
        {
            "DB_HOST": "db.local",
            "DB_PORT": "5433",
            "DB_NAME": "tm",
            "DB_USER": "u",
            "DB_PASS": "p@ss",
            "DB_SCHEMA": "study",
        }
    )
    assert uri == "postgresql+psycopg://u:p%40ss@db.local:5433/tm?options=-csearch_path%3Dstudy"
    maria = compose_database_uri(
        {"DB_HOST": "m", "DB_NAME": "tm", "DB_USER": "root", "DB_DRIVER": "mariadb"}
    )
    assert maria == "mysql+pymysql://root@m:3306/tm?charset=utf8mb4"
    assert compose_database_uri({}) is None
    with pytest.raises(ConfigurationError, match="DB_DRIVER"):
        compose_database_uri({"DB_HOST": "x", "DB_DRIVER": "oracle"})


def test_bare_urls_get_our_drivers(tmp_path: Path) -> None:
    base = {
        "SECRET_KEY": "k",
        "SECURITY_PASSWORD_SALT": "s",
        "TASKMAN_INSTANCE_PATH": str(tmp_path),
    }
    assert (
        load_settings({**base, "SQLALCHEMY_DATABASE_URI": "postgresql://h/d"}).database_uri
        == "postgresql+psycopg://h/d"
    )
    assert (
        load_settings({**base, "SQLALCHEMY_DATABASE_URI": "mysql://h/d"}).database_uri
        == "mysql+pymysql://h/d?charset=utf8mb4"
    )


def test_variables_are_read_and_typed(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "SQLALCHEMY_DATABASE_URI": "sqlite:///x.db",
            "SECRET_KEY": "k",
            "SECURITY_PASSWORD_SALT": "s",
            "TASKMAN_INSTANCE_PATH": str(tmp_path),
            "SECURITY_REGISTERABLE": "False",
            "SECURITY_CONFIRMABLE": "false",
            "TASKMAN_INSTANCE_NAME": "Study X",
            "TASKMAN_PROJECT_NAME": "Landmarks",
            "TASKMANAGER_PORT": "8080",
            "GUNICORN_TIMEOUT": "120",
            "TASKMAN_CALLBACK_METHOD": "celery",
            "TASKMAN_ADMIN_FORCE_UPDATE": "true",
            "MAIL_SERVER": "smtp.example.org",
            "MAIL_USE_TLS": "true",
            "TASKMAN_LOCK_TIMEOUT": "300",
        }
    )
    assert settings.registerable is False and settings.confirmable is False
    assert settings.changeable is True
    assert (settings.instance_name, settings.project_name, settings.port) == (
        "Study X",
        "Landmarks",
        8080,
    )
    assert settings.gunicorn_timeout == 120
    assert settings.callback_method == "celery"
    assert settings.admin_force_update is True
    assert settings.mail == {"MAIL_SERVER": "smtp.example.org", "MAIL_USE_TLS": True}
    assert settings.lock_timeout == 300.0
    assert settings.flask_passthrough["SECURITY_REGISTERABLE"] is False
    assert settings.admin_username is None  # only the embedded default invents admin/admin


def test_bad_values_name_the_variable(tmp_path: Path) -> None:
    base = {"TASKMAN_INSTANCE_PATH": str(tmp_path)}
    with pytest.raises(ConfigurationError, match="TASKMANAGER_PORT"):
        load_settings({**base, "TASKMANAGER_PORT": "fivethousand"})
    with pytest.raises(ConfigurationError, match="TASKMAN_CALLBACK_METHOD"):
        load_settings({**base, "TASKMAN_CALLBACK_METHOD": "pigeon"})


def test_switches_restoring_old_behaviour(tmp_path: Path) -> None:
    """docs/upgrading.md: each changed behaviour has a setting that restores 6.6.0's."""
    base = {"TASKMAN_INSTANCE_PATH": str(tmp_path)}
    defaults = load_settings(base)
    assert (defaults.scan_check, defaults.done_releases_lock, defaults.email_check) == (
        "strict",
        True,
        "strict",
    )
    old = load_settings(
        {
            **base,
            "TASKMAN_SCAN_CHECK": "Warn",
            "TASKMAN_DONE_RELEASES_LOCK": "false",
            "TASKMAN_EMAIL_CHECK": "loose",
        }
    )
    assert (old.scan_check, old.done_releases_lock, old.email_check) == ("warn", False, "loose")
    assert load_settings({**base, "TASKMAN_SCAN_CHECK": "off"}).scan_check == "off"
    assert load_settings({**base, "TASKMAN_DONE_RELEASES_LOCK": "0"}).done_releases_lock is False
    for name, value in (
        ("TASKMAN_SCAN_CHECK", "lenient"),
        ("TASKMAN_DONE_RELEASES_LOCK", "maybe"),
        ("TASKMAN_EMAIL_CHECK", "off"),
    ):
        with pytest.raises(ConfigurationError, match=name):
            load_settings({**base, name: value})


def test_dotenv_file_is_read_and_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from taskmanager.config import read_environment

    env_file = tmp_path / ".env"
    env_file.write_text('TASKMAN_PROJECT_NAME="FromFile"\nTASKMAN_INSTANCE_NAME=FromFile\n')
    monkeypatch.setenv("TASKMAN_INSTANCE_NAME", "FromEnvironment")
    merged = read_environment(env_file)
    assert merged["TASKMAN_PROJECT_NAME"] == "FromFile"
    assert merged["TASKMAN_INSTANCE_NAME"] == "FromEnvironment"


def test_password_hash_cost_is_configurable_with_a_floor(tmp_path: Path) -> None:
    base = {"TASKMAN_INSTANCE_PATH": str(tmp_path)}
    defaults = load_settings(base)
    assert (defaults.password_hash_rounds, defaults.password_hash_memory_kib) == (3, 65536)
    cheap = load_settings(
        {**base, "TASKMAN_PASSWORD_HASH_ROUNDS": "2", "TASKMAN_PASSWORD_HASH_MEMORY_KIB": "19456"}
    )
    assert (cheap.password_hash_rounds, cheap.password_hash_memory_kib) == (2, 19456)
    with pytest.raises(ConfigurationError, match="TASKMAN_PASSWORD_HASH_MEMORY_KIB"):
        load_settings({**base, "TASKMAN_PASSWORD_HASH_MEMORY_KIB": "512"})
    with pytest.raises(ConfigurationError, match="TASKMAN_PASSWORD_HASH_ROUNDS"):
        load_settings({**base, "TASKMAN_PASSWORD_HASH_ROUNDS": "0"})


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgresql+psycopg2://u:p@db/tm", "postgresql+psycopg://u:p@db/tm"),
        (
            "postgresql://u:p@db/tm?sslmode=require",
            "postgresql+psycopg://u:p@db/tm?sslmode=require",
        ),
        ("postgres://u@db/tm", "postgresql+psycopg://u@db/tm"),
        ("mysql+pymysql://u:p@localhost/tm", "mysql+pymysql://u:p@localhost/tm?charset=utf8mb4"),
        ("mysql://u:p@localhost/tm", "mysql+pymysql://u:p@localhost/tm?charset=utf8mb4"),
        ("mysql+mysqldb://u@h/tm?charset=utf8", "mysql+pymysql://u@h/tm?charset=utf8"),
        ("sqlite:////srv/tm.db", "sqlite:////srv/tm.db"),
    ],
)
def test_the_old_documentations_database_urls_name_the_drivers_we_ship(
    given: str, used: str
) -> None:
    assert normalise_database_uri(given) == used


def test_an_old_dotenv_with_spaces_around_equals_reaches_the_database(tmp_path: Path) -> None:
    """The old how-to's `.env`: `SQLALCHEMY_DATABASE_URI = "..."` with the driver it names
    (psycopg2 for PostgreSQL, pymysql for MariaDB), used against this suite's database."""
    from sqlalchemy import create_engine, text

    from taskmanager.config import read_environment

    from .support import databases

    url = databases.create_database(tmp_path)
    try:
        old_style = url.replace("postgresql+psycopg://", "postgresql+psycopg2://")
        (tmp_path / ".env").write_text(
            'FLASK_APP="taskmanager"\n'
            f'SQLALCHEMY_DATABASE_URI = "{old_style}"\n'
            'SECURITY_PASSWORD_SALT = "old-salt"\n'
            "SECRET_KEY = 'old-key'\n"
        )
        settings = load_settings(read_environment(tmp_path / ".env"))
        assert settings.secret_key == "old-key" and settings.password_salt == "old-salt"
        engine = create_engine(settings.database_uri)
        try:
            with engine.connect() as connection:
                assert connection.execute(text("SELECT 1")).scalar() == 1
        finally:
            engine.dispose()
    finally:
        databases.drop_database(url)


def _below(info: Any) -> tuple[str, str] | None:
    """A value just under a declared bound, and the words the refusal uses."""
    for bound in info.metadata:
        if getattr(bound, "ge", None) is not None:
            return str(bound.ge - 1), f"at least {bound.ge:g}"
        if getattr(bound, "gt", None) is not None:
            return str(bound.gt), f"more than {bound.gt:g}"
    return None


BOUNDED = {
    name: below
    for name, info in environment_variables().items()
    if (below := _below(info)) is not None
}


def test_the_bounds_are_declared() -> None:
    assert {
        "TASKMAN_CALLBACK_MAX_ATTEMPTS",
        "TASKMAN_CALLBACK_TIMEOUT",
        "TASKMAN_CALLBACK_BACKOFF",
        "TASKMAN_PROXY_COUNT",
        "TASKMAN_REGISTRATION_WEIGHT",
        "TASKMAN_MAX_REQUEST_BYTES",
        "SECURITY_PASSWORD_LENGTH_MIN",
        "TASKMAN_LOGIN_WINDOW_SECONDS",
    } <= set(BOUNDED)


@pytest.mark.parametrize("name", sorted(BOUNDED))
def test_a_value_out_of_bounds_is_refused_naming_the_variable(tmp_path: Path, name: str) -> None:
    value, words = BOUNDED[name]
    with pytest.raises(ConfigurationError, match=rf"^{name} must be {words}, got {value}$"):
        load_settings({"TASKMAN_INSTANCE_PATH": str(tmp_path), name: value})


def test_each_variable_reaches_its_attribute_under_its_own_name_only(tmp_path: Path) -> None:
    base = {"TASKMAN_INSTANCE_PATH": str(tmp_path)}
    settings = load_settings(
        {
            **base,
            "TASKMAN_CALLBACK_RETENTION_DAYS": "0",
            "TASKMAN_REGISTRATION_ROLES": " user, ,reviewer ",
            "TASKMAN_URL_PREFIX": "taskmanager/",
            "TASKMAN_LOG_LEVEL": "debug",
            "TASKMAN_CALLBACK_ALLOWED_HOSTS": "*.example.org, 10.0.5.0/24",
            "SECURITY_PASSWORD_LENGTH_MIN": "1",
            "callback_retention_days": "7",
            "port": "1",
        }
    )
    assert settings.callback_retention_days == 0
    assert settings.registration_roles == ("user", "reviewer")
    assert settings.url_prefix == "/taskmanager"
    assert settings.log_level == "DEBUG"
    assert settings.callback_allowed_hosts == parse_callback_hosts("*.example.org,10.0.5.0/24")
    assert settings.password_length_min == 1
    assert settings.port == 5000


def test_an_empty_variable_counts_as_unset(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "TASKMAN_INSTANCE_PATH": str(tmp_path),
            "TASKMANAGER_PORT": "",
            "TASKMAN_CALLBACK_TIMEOUT": "",
            "TASKMAN_SCAN_CHECK": "",
            "TASKMAN_CALLBACK_SECRET": "",
            "TASKMAN_METRICS": "",
        }
    )
    assert (settings.port, settings.callback_timeout, settings.scan_check) == (5000, 10.0, "strict")
    assert settings.callback_secret is None and settings.metrics_enabled is True


def test_switches_read_as_the_old_server_read_them(tmp_path: Path) -> None:
    base = {"TASKMAN_INSTANCE_PATH": str(tmp_path)}
    for word in ("1", "yes", "ON", "True"):
        assert load_settings({**base, "TASKMAN_COOKIE_SECURE": word}).cookie_secure is True
    assert load_settings({**base, "TASKMAN_METRICS": "nope"}).metrics_enabled is False


def test_several_bad_values_are_named_together(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as raised:
        load_settings(
            {
                "TASKMAN_INSTANCE_PATH": str(tmp_path),
                "TASKMAN_LOG_FORMAT": "xml",
                "GUNICORN_WORKERS": "many",
            }
        )
    assert str(raised.value) == (
        "GUNICORN_WORKERS must be a whole number, got 'many'; "
        "TASKMAN_LOG_FORMAT must be one of text or json, got 'xml'"
    )


def test_db_driver_refusal_names_the_choices() -> None:
    with pytest.raises(ConfigurationError) as raised:
        compose_database_uri({"DB_HOST": "x", "DB_DRIVER": "Oracle"})
    assert str(raised.value) == (
        "DB_DRIVER must be one of postgresql, postgres, mysql, mariadb or sqlite, got 'oracle'"
    )
    assert compose_database_uri({"DB_NAME": "tm.db", "DB_DRIVER": "SQLite"}) == "sqlite:///tm.db"


def test_a_copy_with_changes_keeps_the_rest(tmp_path: Path) -> None:
    settings = load_settings({"TASKMAN_INSTANCE_PATH": str(tmp_path)})
    changed = settings.model_copy(update={"auto_migrate": False})
    assert changed.auto_migrate is False and settings.auto_migrate is True
    assert changed.secret_key == settings.secret_key


def test_a_given_mapping_is_the_only_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("SQLALCHEMY_DATABASE_URI", "DB_HOST", "DB_NAME", "TASKMAN_INSTANCE_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TASKMAN_LOG_LEVEL", "DEBUG")
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("TASKMAN_PROJECT_NAME=FromFile\n")
    settings = load_settings({"TASKMAN_INSTANCE_PATH": str(tmp_path)})
    assert (settings.log_level, settings.project_name) == ("INFO", "DefaultProject")
    assert load_settings().log_level == "DEBUG"
    assert load_settings().project_name == "FromFile"
