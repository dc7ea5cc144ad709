"""Where a command sends its work: a server over HTTP, or the configured database directly.

Both backends offer the same operations, so each command is written once. The database backend
calls the services (the same rules the server applies); the HTTP backend calls the REST API.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

import click

from ..config import ConfigurationError, load_settings
from .client import DEFAULT_URL, ApiClient, ApiError, path_segment, resolve_auth
from .errors import EXIT_USAGE, CliError, domain_errors

F = TypeVar("F", bound=Callable[..., Any])

EXPORT_CONCURRENCY = 8

# API collection of each kind of record a config file names.
ROUTES = {
    "role": "roles",
    "user": "users",
    "group": "groups",
    "tag": "tags",
    "template": "task_templates",
}


@dataclass(frozen=True)
class Created:
    """What a bulk create did: tasks created, and tasks whose key named one already."""

    created: int
    already_present: int = 0


@dataclass(frozen=True)
class Preview:
    """Where a batch of tasks would go (a dry run stores nothing): per task its index, project,
    status, users, groups and effort; per username the tasks and effort it would get."""

    tasks: list[dict[str, Any]]
    per_user: dict[str, dict[str, float]]


class BatchRejected(Exception):
    """A bulk create refused as a whole; `by_index` holds each bad task's {field: reasons}."""

    def __init__(
        self,
        message: str,
        by_index: dict[int, dict[str, list[str]]],
        general: dict[str, list[str]],
    ) -> None:
        super().__init__(message)
        self.message = message
        self.by_index = by_index
        self.general = general


def split_index_errors(
    errors: dict[str, list[str]],
) -> tuple[dict[int, dict[str, list[str]]], dict[str, list[str]]]:
    """Errors keyed "index.field" (or "index") per task; the rest concern the whole request."""
    by_index: dict[int, dict[str, list[str]]] = {}
    general: dict[str, list[str]] = {}
    for key, reasons in errors.items():
        head, _, field = str(key).partition(".")
        if head.isdigit():
            by_index.setdefault(int(head), {})[field or "task"] = list(reasons)
        else:
            general[key] = list(reasons)
    return by_index, general


class Backend(Protocol):
    """What commands need, implemented over HTTP or directly on the database."""

    description: str

    def close(self) -> None:
        """Release connections."""
        ...

    def get_template(self, label: str) -> dict[str, Any] | None: ...

    def create_template(self, label: str, content: str) -> None: ...

    def update_template(self, label: str, content: str) -> None: ...

    def create_tasks(self, bodies: list[dict[str, Any]]) -> Created:
        """Create tasks all-or-nothing (BatchRejected otherwise); a task whose
        `idempotency_key` names one already is not created again."""
        ...

    def preview_tasks(self, bodies: list[dict[str, Any]]) -> Preview | None:
        """What create_tasks would do, storing nothing (BatchRejected as it would refuse);
        None when the server offers no dry runs (older than project policies)."""
        ...

    def create_taskgroup(self, body: dict[str, Any]) -> dict[str, Any]: ...

    def create_user(self, fields: dict[str, Any], roles: list[str], *, confirmed: bool) -> None: ...

    def exists(self, kind: str, name: str) -> bool:
        """Whether a role, user, group, tag or template of that name exists."""
        ...

    def import_config(self, definition: dict[str, Any], *, overwrite: bool) -> dict[str, Any]: ...


class ReferenceNames:
    """Names behind the URLs a task answer refers to (its template, users, groups), fetched once
    each."""

    def __init__(self, client: ApiClient) -> None:
        self._client = client
        self._names: dict[str, str] = {}

    def get(self, uri: str | None, key: str) -> str | None:
        if not uri:
            return None
        if uri not in self._names:
            try:
                record = self._client.get(self._client.ref(uri))
            except ApiError as error:
                if error.status not in (403, 404):
                    raise error.cli_error(uri) from None
                record = {}  # not the caller's to read: the export shows the URL instead
            self._names[uri] = str(record.get(key) or uri)
        return self._names[uri]


class HttpBackend:
    def __init__(self, client: ApiClient) -> None:
        self.client = client
        self.description = client.root
        # Whether the server answers dry runs of task creation (asked once, when needed).
        self._dry_runs: bool | None = None

    def close(self) -> None:
        self.client.close()

    def _call(self, method: str, path: str, *, source: str | None = None, **kwargs: Any) -> Any:
        try:
            return self.client.request(method, path, **kwargs)
        except ApiError as error:
            raise error.cli_error(source) from None

    def get_template(self, label: str) -> dict[str, Any] | None:
        try:
            found = self.client.get_or_none(f"/task_templates/{path_segment(label)}")
        except ApiError as error:
            raise error.cli_error(f"template {label!r}") from None
        if found is None:
            return None
        return {"label": found.get("label", label), "content": found.get("content") or ""}

    def create_template(self, label: str, content: str) -> None:
        self._call(
            "POST",
            "/task_templates",
            json={"label": label, "content": content},
            source=f"template {label!r}",
        )

    def update_template(self, label: str, content: str) -> None:
        self._call(
            "PUT",
            f"/task_templates/{path_segment(label)}",
            json={"content": content},
            source=f"template {label!r}",
        )

    def _post_tasks(self, bodies: list[dict[str, Any]], **params: str) -> Any:
        try:
            return self.client.request(
                "POST", "/tasks", json=bodies, params=params or None, expect=(200, 201)
            )
        except ApiError as error:
            if error.status not in (400, 404, 409, 422):
                raise error.cli_error() from None
            message = error.body.get("message") if isinstance(error.body, dict) else None
            by_index, general = split_index_errors(error.errors)
            raise BatchRejected(str(message or f"HTTP {error.status}"), by_index, general) from None

    def preview_tasks(self, bodies: list[dict[str, Any]]) -> Preview | None:
        if self._dry_runs is None:
            # A server without dry runs would create the tasks: ask first whether it knows
            # project policies, which came with them (any project answers, unless the route
            # is unknown).
            try:
                known = self.client.get_or_none("/projects/_/policy")
            except ApiError as error:
                raise error.cli_error() from None
            self._dry_runs = known is not None
        if not self._dry_runs:
            return None
        answer = self._post_tasks(bodies, dry_run="true")
        if not isinstance(answer, dict) or answer.get("dry_run") is not True:
            raise CliError(f"The server at {self.description} did not answer the dry run")
        return Preview(list(answer["tasks"]), dict(answer["per_user"]))

    def create_tasks(self, bodies: list[dict[str, Any]]) -> Created:
        answer = self._post_tasks(bodies)
        present = len(answer.get("already_present") or ()) if isinstance(answer, dict) else 0
        if isinstance(answer, dict):
            answer = answer.get("tasks", [answer])
        total = len(answer) if isinstance(answer, list) else len(bodies)
        return Created(total - present, present)

    def create_taskgroup(self, body: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = self._call("POST", "/taskgroups", json=body, source="task group")
        return answer

    def task_pages(
        self, filters: dict[str, Any], *, page_size: int
    ) -> Iterator[tuple[list[dict[str, Any]], int | None]]:
        """Export rows a page at a time, each with the total number of matching tasks: streamed
        by the server's export route, or built from each task's detail on a server without it."""
        try:
            lines = self.client.lines_or_none("/tasks/export", params=filters)
        except ApiError as error:
            raise error.cli_error() from None
        if lines is None:
            yield from self._detail_pages(filters, page_size=page_size)
            return
        total = self._call("GET", "/tasks", params={**filters, "limit": 0}).get("total_tasks")
        rows: list[dict[str, Any]] = []
        for line in lines:
            rows.append(json.loads(line))
            if len(rows) == page_size:
                yield rows, total
                rows = []
        yield rows, total

    def _detail_pages(
        self, filters: dict[str, Any], *, page_size: int
    ) -> Iterator[tuple[list[dict[str, Any]], int | None]]:
        names = ReferenceNames(self.client)
        offset = 0
        # A row needs the task's detail and its lock: fetched for a page's tasks in parallel.
        with ThreadPoolExecutor(max_workers=EXPORT_CONCURRENCY) as pool:
            while True:
                page = self._call(
                    "GET", "/tasks", params={**filters, "offset": offset, "limit": page_size}
                )
                summaries = page.get("tasks") or []
                total = page.get("total_tasks")
                rows = pool.map(lambda summary: self._export_row(summary, names), summaries)
                yield list(rows), total
                offset += len(summaries)
                if not summaries or (total is not None and offset >= total):
                    return

    def _export_row(self, summary: dict[str, Any], names: ReferenceNames) -> dict[str, Any]:
        detail = self._call("GET", self.client.ref(summary["uri"]))
        lock = detail.get("lock")
        holder = self._call("GET", self.client.ref(lock)).get("username") if lock else None
        return {
            "id": int(summary["id"]),
            "project": detail.get("project"),
            "template": names.get(detail.get("template"), "label"),
            "status": detail.get("status"),
            "users": [names.get(uri, "username") for uri in detail.get("users") or ()],
            "groups": [names.get(uri, "groupname") for uri in detail.get("groups") or ()],
            "lock": holder,
            "create_time": detail.get("create_time"),
            "update_time": detail.get("update_time"),
            "tags": [tag.get("name") for tag in summary.get("tags") or ()],
            "tracking_id": detail.get("tracking_id"),
        }

    def create_user(self, fields: dict[str, Any], roles: list[str], *, confirmed: bool) -> None:
        source = f"user {fields['username']!r}"
        if not confirmed:
            raise CliError(
                "--unconfirmed is only possible with --database-insert: the API creates "
                "confirmed accounts",
                exit_code=EXIT_USAGE,
            )
        self._call("POST", "/users", json={**fields, "roles": roles}, source=source)

    def exists(self, kind: str, name: str) -> bool:
        try:
            return self.client.get_or_none(f"/{ROUTES[kind]}/{path_segment(name)}") is not None
        except ApiError as error:
            raise error.cli_error(f"{kind} {name!r}") from None

    def import_config(self, definition: dict[str, Any], *, overwrite: bool) -> dict[str, Any]:
        answer: dict[str, Any] = self._call(
            "PUT" if overwrite else "POST",
            "/service/config/import-config",
            json={"config_definition": json.dumps(definition)},
            source="config",
        )
        return answer


class DatabaseBackend:
    """The configured database (TASKMAN_*/SQLALCHEMY_DATABASE_URI/DB_*), through the services."""

    def __init__(self) -> None:
        from .. import create_app

        try:
            settings = load_settings()
        except ConfigurationError as error:
            raise CliError(str(error), exit_code=EXIT_USAGE) from None
        if settings.embedded and not (settings.instance_path / "taskmanager.db").is_file():
            raise CliError(
                "No database is configured (set SQLALCHEMY_DATABASE_URI or DB_*, or run this "
                "where the server's .env is); use --url to go through a server instead",
                exit_code=EXIT_USAGE,
            )
        # Migrate and onboard first, as a server start does, so the schema is the expected one.
        self._app = create_app(settings.model_copy(update={"auto_migrate": True}))
        self._context = self._app.app_context()
        self._context.push()
        self.description = f"the {settings.database_backend} database"
        self._callback_hosts = settings.callback_allowed_hosts

    @property
    def session(self) -> Any:
        from ..models import db

        return db.session

    def close(self) -> None:
        from ..models import db

        db.remove_session()
        db.engine.dispose()
        self._context.pop()

    @contextlib.contextmanager
    def transaction(self, source: str | None = None) -> Iterator[Any]:
        """Commit when the block succeeds; roll back and report a DomainError otherwise."""
        try:
            with domain_errors(source):
                yield self.session
                self.session.commit()
        except BaseException:
            self.session.rollback()
            raise

    def get_template(self, label: str) -> dict[str, Any] | None:
        from ..services.reference import templates

        template = templates.get_by_reference(self.session, reference=label)
        if template is None:
            return None
        return {"label": template.label, "content": template.content}

    def create_template(self, label: str, content: str) -> None:
        from ..services.reference import templates

        with self.transaction(f"template {label!r}") as session:
            templates.create(session, label=label, content=content)

    def update_template(self, label: str, content: str) -> None:
        from ..services.reference import templates

        with self.transaction(f"template {label!r}") as session:
            template = templates.get_or_raise(session, reference=label)
            templates.update(session, template=template, changes={"content": content})

    def create_tasks(self, bodies: list[dict[str, Any]]) -> Created:
        from sqlalchemy.exc import DBAPIError

        from ..services.kit import transactions
        from ..services.kit.errors import DomainError
        from ..services.tasks import creation

        try:
            specs = [creation.NewTask(**body) for body in bodies]
            created = creation.create_many(
                self.session, specs=specs, actor=None, callback_hosts=self._callback_hosts
            )
            self.session.commit()
        except DomainError as error:
            self.session.rollback()
            by_index, general = split_index_errors(error.errors)
            raise BatchRejected(error.message, by_index, general) from None
        except DBAPIError as error:
            transactions.discard(self.session)
            raise CliError(f"The database failed: {transactions.describe(error)}") from None
        except BaseException:
            self.session.rollback()
            raise
        present = sum(summary.already_present for summary in created)
        return Created(len(created) - present, present)

    def preview_tasks(self, bodies: list[dict[str, Any]]) -> Preview | None:
        from ..services.kit.errors import DomainError
        from ..services.tasks import creation

        try:
            specs = [creation.NewTask(**body) for body in bodies]
            preview = creation.preview_many(
                self.session, specs=specs, actor=None, callback_hosts=self._callback_hosts
            )
        except DomainError as error:
            by_index, general = split_index_errors(error.errors)
            raise BatchRejected(error.message, by_index, general) from None
        finally:
            self.session.rollback()
        tasks = preview.task_answers()
        return Preview(tasks, preview.per_user)

    def create_taskgroup(self, body: dict[str, Any]) -> dict[str, Any]:
        from ..services.flows import taskgroup_changes
        from ..services.tasks import creation

        with self.transaction("task group") as session:
            group = taskgroup_changes.create(
                session,
                actor=None,
                label=body["label"],
                callback_url=body.get("callback_url"),
                callback_content=body.get("callback_content"),
                specs=[creation.NewTask(**item) for item in body.get("tasks") or ()],
                callback_hosts=self._callback_hosts,
            )
        return {"id": str(group.id), "label": group.label}

    def create_user(self, fields: dict[str, Any], roles: list[str], *, confirmed: bool) -> None:
        from ..services.accounts import users

        with self.transaction(f"user {fields['username']!r}") as session:
            users.create(session, **fields, roles=roles, confirmed=confirmed)

    def exists(self, kind: str, name: str) -> bool:
        from ..services.accounts import groups, roles, users
        from ..services.reference import tags, templates

        service: Any = {
            "role": roles,
            "user": users,
            "group": groups,
            "tag": tags,
            "template": templates,
        }[kind]
        return service.get_by_reference(self.session, reference=name) is not None

    def import_config(self, definition: dict[str, Any], *, overwrite: bool) -> dict[str, Any]:
        from ..services.projects import config_import

        with self.transaction("config") as session:
            result = config_import.import_config(
                session, definition=definition, overwrite=overwrite
            )
            return {
                "roles": [role.name for role in result.roles],
                "users": [user.username for user in result.users],
                "groups": [group.groupname for group in result.groups],
                "tags": [tag.name for tag in result.tags],
                "templates": [template.label for template in result.templates],
            }


def _wants_http(ctx: click.Context) -> bool:
    """Whether the user named a server or credentials (on the command line, or as TASKMAN_URL
    or TASKMAN_TOKEN, which the help offers)."""
    named = (click.core.ParameterSource.COMMANDLINE, click.core.ParameterSource.ENVIRONMENT)
    return any(
        ctx.get_parameter_source(name) in named
        for name in ("url", "auth_user", "auth_password", "token")
    )


def backend_options(
    *, auth_names: tuple[str, str] = ("--user", "--password"), database: bool = True
) -> Callable[[F], F]:
    """Add --url, credentials and (when `database`) -db/--database-insert; pass the command a
    `backend`.

    The old console scripts whose tools wrote to the database (e.g. taskmanager-add-user) keep
    doing so unless a server or credentials are named; see `commands.py`.
    """
    user_flag, password_flag = auth_names
    options = [
        click.option(
            "--url",
            default=DEFAULT_URL,
            show_default=True,
            envvar="TASKMAN_URL",
            help="The server's address (also TASKMAN_URL).",
        ),
        click.option(
            *dict.fromkeys(("--auth-user", user_flag)),
            "auth_user",
            help="User to log in as (default: the entry for the URL's host in $NETRC or ~/.netrc).",
        ),
        click.option(
            *dict.fromkeys(("--auth-password", password_flag)),
            "auth_password",
            help="Password (asked for when omitted).",
        ),
        click.option(
            "--token",
            envvar="TASKMAN_TOKEN",
            help="An auth token, sent as Authentication-Token (also TASKMAN_TOKEN).",
        ),
    ]
    if database:
        options.append(
            click.option(
                "-db",
                "--database-insert",
                "database_insert",
                is_flag=True,
                default=None,
                help="Write to the configured database directly instead of a server.",
            )
        )

    def decorator(command: F) -> F:
        @functools.wraps(command)
        def wrapper(
            *args: Any,
            url: str,
            auth_user: str | None,
            auth_password: str | None,
            token: str | None,
            database_insert: bool | None = None,
            **kwargs: Any,
        ) -> Any:
            ctx = click.get_current_context()
            prefer_database = database and bool((ctx.find_root().obj or {}).get("prefer_database"))
            use_database = database_insert or (prefer_database and not _wants_http(ctx))
            backend = open_backend(
                url=url,
                user=auth_user,
                password=auth_password,
                token=token,
                database=bool(use_database),
            )
            try:
                return command(*args, backend=backend, **kwargs)
            finally:
                backend.close()

        for option in reversed(options):
            wrapper = option(wrapper)
        return wrapper  # type: ignore[return-value]

    return decorator


def open_backend(
    *, url: str, user: str | None, password: str | None, token: str | None, database: bool
) -> HttpBackend | DatabaseBackend:
    if database:
        return DatabaseBackend()
    if not urlsplit(url).hostname:
        raise CliError(f"--url must be an http(s) address, got {url!r}", exit_code=EXIT_USAGE)
    auth, who = resolve_auth(url, user=user, password=password, token=token)
    return HttpBackend(ApiClient(url, auth, who))
