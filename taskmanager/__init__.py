"""TaskManager: keeps lists of human tasks and dispenses them to the people who must do them."""

from __future__ import annotations

import logging
from datetime import timedelta
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from apiflask import APIFlask

try:
    __version__ = version("task-manager")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"

log = logging.getLogger(__name__)


def _flask_config(settings: Any) -> dict[str, Any]:
    """Everything Flask and its extensions read, derived from the one Settings object."""
    from .models.accounts import User  # noqa: F401  (Security needs the mapped class)
    from .proxying import StaticAsset

    cookie_prefix = "".join(c if c.isalnum() else "_" for c in settings.instance_name.lower())
    config: dict[str, Any] = {
        # Old deployments passed every TASKMAN_/SECURITY_/MAIL_... variable into the config.
        **settings.flask_passthrough,
        "SECRET_KEY": settings.secret_key,
        "SECURITY_PASSWORD_SALT": settings.password_salt,
        "SQLALCHEMY_DATABASE_URI": settings.database_uri,
        "SQLALCHEMY_ENGINE_OPTIONS": _engine_options(settings.database_uri),
        "SQLALCHEMY_TRACK_MODIFICATIONS": False,
        "TASKMAN_INSTANCE_NAME": settings.instance_name,
        "TASKMAN_PROJECT_NAME": settings.project_name,
        # API
        "VALIDATION_ERROR_STATUS_CODE": 400,
        "SECURITY_SCHEMES": {
            "basicAuth": {"type": "http", "scheme": "basic"},
            "tokenAuth": {"type": "apiKey", "in": "header", "name": "Authentication-Token"},
        },
        "AUTO_SERVERS": False,  # proxying sets `servers` per request
        # Built per request, so that they carry a deployment prefix.
        "SWAGGER_UI_CSS": StaticAsset("swagger-ui/swagger-ui.css"),
        "SWAGGER_UI_BUNDLE_JS": StaticAsset("swagger-ui/swagger-ui-bundle.js"),
        "SWAGGER_UI_STANDALONE_PRESET_JS": StaticAsset(
            "swagger-ui/swagger-ui-standalone-preset.js"
        ),
        "DOCS_FAVICON": StaticAsset("swagger-ui/favicon-32x32.png"),
        # Accounts (Flask-Security)
        "SECURITY_PASSWORD_HASH": "argon2",
        # Hashes written by older servers still verify, and are upgraded on the next login.
        "SECURITY_PASSWORD_SCHEMES": [
            "argon2",
            "bcrypt",
            "pbkdf2_sha512",
            "sha512_crypt",
            "plaintext",
        ],
        "SECURITY_DEPRECATED_PASSWORD_SCHEMES": [
            "bcrypt",
            "pbkdf2_sha512",
            "sha512_crypt",
            "plaintext",
        ],
        "SECURITY_USERNAME_ENABLE": True,
        # Every account has a username (clients log in with it); registration asks for one.
        "SECURITY_USERNAME_REQUIRED": True,
        "SECURITY_USERNAME_MIN_LENGTH": 1,
        "SECURITY_USERNAME_MAX_LENGTH": 64,
        "SECURITY_USER_IDENTITY_ATTRIBUTES": [
            {
                "username": {
                    "mapper": "flask_security.uia_username_mapper",
                    "case_insensitive": False,
                }
            },
            {"email": {"mapper": "flask_security.uia_email_mapper", "case_insensitive": True}},
        ],
        "SECURITY_REGISTERABLE": settings.registerable,
        "SECURITY_CHANGEABLE": settings.changeable,
        "SECURITY_RECOVERABLE": settings.recoverable,
        "SECURITY_CONFIRMABLE": settings.confirmable,
        "SECURITY_TRACKABLE": True,
        # One answer whether or not an account exists (login, registration, password reset).
        "SECURITY_RETURN_GENERIC_RESPONSES": True,
        "SECURITY_TOKEN_MAX_AGE": int(timedelta(days=1).total_seconds()),
        "SECURITY_LOGOUT_METHODS": ["GET", "POST"],
        "SECURITY_EMAIL_VALIDATOR_ARGS": {"check_deliverability": False},
        "SECURITY_CSRF_PROTECT_MECHANISMS": ["session"],
        "SECURITY_CSRF_IGNORE_UNAUTH_ENDPOINTS": True,
        "WTF_CSRF_CHECK_DEFAULT": False,
        "SESSION_COOKIE_NAME": f"{cookie_prefix}_session",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "SECURITY_PASSWORD_LENGTH_MIN": settings.password_length_min,
        "SECURITY_PASSWORD_HASH_PASSLIB_OPTIONS": {
            "argon2__rounds": settings.password_hash_rounds,
            "argon2__memory_cost": settings.password_hash_memory_kib,
        },
        "SESSION_COOKIE_SECURE": settings.cookie_secure,
        "REMEMBER_COOKIE_SECURE": settings.cookie_secure,
        # Larger bodies are refused with 413 before they are read (a 10,000-task bulk fits).
        "MAX_CONTENT_LENGTH": settings.max_request_bytes,
        **settings.mail,
    }
    return config


def _engine_options(uri: str) -> dict[str, Any]:
    if uri.startswith("sqlite"):
        # Several threads of the development server share the file; wait for the writer.
        return {"connect_args": {"timeout": 30, "check_same_thread": False}}
    # No pool_pre_ping (a round trip per request): a connection found dead is discarded, and a
    # read runs again on a new one (application.py).
    options: dict[str, Any] = {"pool_recycle": 1800}
    if uri.startswith("mysql"):
        # PostgreSQL's default. Each statement sees what others committed before it, which the
        # conditional updates and row locks of services.locks/taskgroups rely on; InnoDB's
        # REPEATABLE READ would also keep gap locks on rows a claim skipped.
        options["isolation_level"] = "READ COMMITTED"
    return options


def create_app(settings: Any = None, **overrides: Any) -> APIFlask:
    """Application factory: `flask --app taskmanager run` and gunicorn both come through here."""
    from . import api, database, observability, proxying, security, web, workers
    from .application import TaskManager
    from .config import load_settings
    from .models import db

    settings = settings or load_settings()
    database.check_driver(settings.database_uri)
    app = TaskManager(
        __name__,
        title="TaskManager",
        version="1.0",
        spec_path="/api/v1/openapi.json",
        docs_path="/api/v1/",
        docs_oauth2_redirect_path=None,
        instance_path=str(settings.instance_path.resolve()),
    )
    app.config.update(_flask_config(settings))
    # Answer fields in the order the contract lists them (Flask 3 sorts keys by default).
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.config.update(overrides)
    app.extensions["taskman_settings"] = settings

    db.init_app(app)
    if settings.database_uri.startswith("sqlite"):
        _configure_sqlite(app)
    security.init_app(app, settings)
    observability.init_app(app, settings)
    api.init_app(app)
    # Where the old server served its OpenAPI document. Under the `openapi` blueprint, like
    # /api/v1/openapi.json itself, so it is public and not an operation of the document.
    app.add_url_rule(
        "/api/v1/swagger.json", "openapi.swagger_json", app.view_functions["openapi.spec"]
    )
    web.init_app(app)
    proxying.init_app(app, settings)
    workers.init_app(app)

    if settings.auto_migrate and overrides.get("TASKMAN_AUTO_MIGRATE", True):
        prepare_database(app)
    return app


def _configure_sqlite(app: APIFlask) -> None:
    from sqlalchemy import event

    from .models import db

    with app.app_context():
        engine = db.engine

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()


def prepare_database(app: APIFlask) -> None:
    """Migrate to head, run onboarding and load the project repository: every start does this."""
    from . import database
    from .models import db
    from .services.accounts import onboarding, site_secrets
    from .services.projects import project_config

    settings = app.extensions["taskman_settings"]
    with app.app_context():
        database.wait_for_database(db.engine, timeout=settings.db_wait_timeout)
        try:
            database.upgrade(settings.database_uri)
        except BaseException:
            # The start ends here: close the connection the wait left in the app's pool.
            db.engine.dispose()
            raise
        site_secrets.check(db.session, settings)
        for warning in database.configuration_warnings(db.session.connection()):
            log.warning("%s", warning)
        db.session.commit()
        onboarding.run(db.session, settings)
        if not onboarding.has_active_admin(db.session):
            log.warning(
                "No active admin account: nobody can manage users, templates or tasks. Set "
                "TASKMAN_ADMIN_USERNAME, TASKMAN_ADMIN_PASSWORD and TASKMAN_ADMIN_EMAIL and run "
                "`taskmanager onboarding` (or start again)"
            )
        project_config.load_from_repository(db.session, settings)
        for username in onboarding.accounts_with_default_password(db.session, settings):
            log.warning(
                "SECURITY WARNING: the admin account %r still has the default admin/admin "
                "password: change it before anyone else can reach this server",
                username,
            )
