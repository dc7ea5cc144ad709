"""Task routes: list, create (one or in bulk), read, change, delete, history, timepoint, and the
task lists of a user, a group and a tag."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from flask import Response, current_app, jsonify, request
from pydantic import TypeAdapter, ValidationError
from werkzeug.datastructures import MultiDict

from ..config import CallbackHosts
from ..models import Task, TaskStatus, User, db, utcnow
from ..services.accounts import groups as group_service
from ..services.accounts import users as user_service
from ..services.flows import task_changes
from ..services.kit import paging
from ..services.kit.errors import DomainError, InvalidInput, NotFound
from ..services.metadata import meta as meta_service
from ..services.metadata import rendering
from ..services.reference import tags as tag_service
from ..services.tasks import checks, creation, details, editing, visibility
from ..services.tasks import lists as task_lists
from . import bodies, examples, v1
from .auth import caller, permission_required
from .pagination import page_keys
from .tasks_schemas import (
    DeletedOut,
    DryRunQuery,
    KeysetPagination,
    Pagination,
    TaskCreateBody,
    TaskCreatedOut,
    TaskFilters,
    TaskHistoryOut,
    TaskIn,
    TaskListOut,
    TaskListQuery,
    TaskOut,
    TaskUpdate,
    TimepointQuery,
)
from .uris import uri_maker

READ = ("task_read", "task_read_all")
UPDATE = ("task_update_status", "task_update_status_all", "task_update_user", "task_update_all")
_TASK_LIST = TypeAdapter(list[TaskIn])


@dataclass(frozen=True)
class _Uris:
    """URL makers for what task answers refer to: one url_for each per answer, not per row."""

    task: Callable[[int | str], str]
    template: Callable[[int | str], str]
    tag: Callable[[int | str], str]
    user: Callable[[int | str], str]
    group: Callable[[int | str], str]

    @classmethod
    def make(cls) -> _Uris:
        return cls(
            task=uri_maker("api_v1.get_task", "task_id"),
            template=uri_maker("api_v1.get_task_template", "template_id"),
            tag=uri_maker("api_v1.get_tag", "tag_id"),
            user=uri_maker("api_v1.get_user", "user_id"),
            group=uri_maker("api_v1.get_group", "group_id"),
        )


def _taskgroup_uri(taskgroup_id: int) -> str:
    # Task group routes live in another module; their path is fixed by the API.
    return f"{request.script_root}{v1.url_prefix}/taskgroups/{taskgroup_id}"


def summary_dict(summary: creation.TaskSummary, uris: _Uris) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "uri": uris.task(summary.id),
        "id": str(summary.id),
        "status": summary.status,
        "project": summary.project,
        "template": uris.template(summary.template_id),
        "tags": [{"uri": uris.tag(tag_id), "name": name} for tag_id, name in summary.tags],
    }
    if isinstance(summary, task_lists.Listed) and summary.status == TaskStatus.WAITING:
        answer.update(wait_for=summary.wait_for, wait_detail=summary.wait_detail)
    return answer


def page_response(page: task_lists.Page) -> Response:
    uris = _Uris.make()
    return _listing(
        {
            "tasks": [summary_dict(item, uris) for item in page.items],
            **page_keys(page, "tasks"),
            "total_is_estimate": page.total_is_estimate,
            "next": next_link(page),
        }
    )


def next_link(page: task_lists.Page) -> str | None:
    """The full URL of the page after this one, with the request's other parameters."""
    if not page.more or not page.items:
        return None
    args = MultiDict(request.args)
    for name in ("offset", "after", "after_id"):
        args.poplist(name)
    if page.by_id:
        args["after"] = str(page.items[-1].id)
    else:
        args["offset"] = str(page.offset + page.limit)
    args["limit"] = str(page.limit)
    return f"{request.base_url}?{urlencode(list(args.items(multi=True)))}"


def task_dict(task: Task, values: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The detail shape; content and callback URL rendered with `values` (default: current)."""
    if values is None:
        # Most content names no variable: then the meta values need not be read at all.
        values = rendering.values_for(db.session, task.raw_content, task.raw_callback_url)
    links = details.links(db.session, task_ids=[task.id])[task.id]
    uris = _Uris.make()
    uri = uris.task(task.id)
    return {
        "uri": uri,
        "id": str(task.id),
        "project": task.project,
        "template": uris.template(task.template_id),
        "content": rendering.render(task.raw_content, values),
        "raw_content": task.raw_content,
        "status": task.status,
        "lock": f"{uri}/lock",
        "tags": [uris.tag(tag_id) for tag_id in links.tags],
        "callback_url": rendering.render_optional(task.raw_callback_url, values),
        "raw_callback_url": task.raw_callback_url,
        "callback_content": task.callback_content,
        "generator_url": task.generator_url,
        "application_name": task.application_name,
        "application_version": task.application_version,
        "tracking_id": task.tracking_id,
        "create_time": task.create_time.isoformat(),
        "update_time": task.update_time.isoformat(),
        "users": [uris.user(user_id) for user_id in links.users],
        "groups": [uris.group(group_id) for group_id in links.groups],
        "users_via_group": [uris.user(user_id) for user_id in links.users_via_group],
        "taskgroup": _taskgroup_uri(task.taskgroup_id) if task.taskgroup_id else None,
        "done_by": uris.user(task.done_by_id) if task.done_by_id else None,
        "done_time": task.done_time.isoformat() if task.done_time else None,
        "subject": task.subject,
        "series": task.series,
        "priority": task.priority,
        "due": _time(task.due),
        "effort": task.effort,
        "wait_for": task.wait_for,
        "wait_detail": task.wait_detail,
        "wait_checked_time": _time(task.wait_checked_time),
    }


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _committed(answer: dict[str, Any]) -> dict[str, Any]:
    """Commit, then answer what was read before: reading it after the commit would take a new
    transaction (pool check, BEGIN, the meta values again, ROLLBACK): four more round trips."""
    db.session.commit()
    return answer


def _new_task(item: TaskIn) -> creation.NewTask:
    return creation.NewTask(**dict(item))  # shallow: content objects stay as given


def _listing(data: dict[str, Any], status: int = 200) -> Response:
    """A list answer as is: its shape is built here and checked by the contract tests, and
    validating thousands of summaries again on the way out would cost more than the query."""
    response = jsonify(data)
    response.status_code = status
    return response


def list_filters(query: TaskFilters) -> task_lists.Filters:
    """The task list's filters of a request (the list's and the export's): `tag` may repeat."""
    return task_lists.Filters(
        project=query.project,
        template=query.template,
        user=query.user,
        status=query.status,
        tags=request.args.getlist("tag"),
        application_name=query.application_name,
        subject=query.subject,
        series=query.series,
        overdue=query.overdue,
    )


@v1.get("/tasks")
@bodies.input(TaskListQuery, location="query", arg_name="query")
@v1.output(TaskListOut, example=examples.TASK_LIST)
@v1.doc(
    summary="List tasks",
    description="Tasks the caller may see, ordered by id (or by priority, see `order`). Filters "
    "combine with AND; `tag` may be repeated. `status=waiting` lists the tasks waiting for their "
    "data; each of those also carries `wait_for` and `wait_detail` (why it still waits). "
    "Without task_read_all the list holds only tasks assigned to the caller (directly or "
    "through a group) and `user` is ignored. `total_tasks` counts every match; the default "
    f"and maximum `limit` is {paging.MAX_TASK_PAGE_SIZE:,} (the official client asks without a "
    "limit). For deep pages, `after` lists the tasks whose id is above it (keyset paging: "
    "as fast on the last page as on the first; `after_id` is its former name); `offset` still "
    "skips, and `total_tasks` still counts every match. `next` is the full URL of the next "
    "page (null on the last); `total_is_estimate` is true when a large total was counted for "
    "an earlier page in the last few seconds.",
    tags=["Tasks"],
)
@permission_required(*READ)
def list_tasks(query: TaskListQuery) -> Response:
    page = task_lists.list_page(
        db.session,
        viewer=caller(),
        filters=list_filters(query),
        order=query.order,
        offset=query.offset,
        limit=query.limit,
        after_id=query.keyset,
        counts=current_app.extensions["taskman_count_cache"],
    )
    return page_response(page)


@v1.post("/tasks")
@bodies.document(DryRunQuery, location="query", arg_name="query")
@bodies.document(TaskCreateBody, arg_name="body", example=examples.TASK_IN)
@v1.output(TaskCreatedOut, status_code=201, example=examples.TASK_OUT)
@v1.doc(
    summary="Create a task, or many at once",
    description="A JSON object creates one task and answers its detail. A JSON array (at most "
    '10,000) creates all of them or none: the answer is `{"tasks": [summary...]}` in the '
    "order given; a rejection (400) lists every problem under `errors` keyed `index.field` "
    "(e.g. `3.template`). A single task naming an unknown template, user or group answers 404. "
    "Tags are created when new. With neither users nor groups the task is given to one user "
    "(weighted), chosen from `distribute_in_group` when given. When the template declares "
    "`scans` and the content has `scan_sources`, their names must match (400 names the missing "
    "and extra ones); with TASKMAN_SCAN_CHECK=warn the task is created and the answer carries "
    "`warnings` (keyed as `errors` are), with `off` the names are not compared. "
    "Retries are safe with an `Idempotency-Key` header (for an array, task i gets the key "
    "`<key>/<i>`) or a task's own `idempotency_key`: a task whose key names one already is "
    "not created again; the answer holds that task (200 for a single task; an array's answer "
    "adds `already_present`, the indices of such tasks). The same key with other values "
    "answers 422 naming the key. "
    "With `?dry_run=true` nothing is stored: the tasks are checked as above (the same 4xx) and "
    'the answer (200) is `{"dry_run": true, "tasks": [{index, project, status, users, groups, '
    'effort}...], "per_user": {username: {tasks, effort}}}`: where each task would go, and '
    "the work each user would get.",
    tags=["Tasks"],
    responses={
        200: "Already created with this idempotency key; or a dry run's answer",
        201: "Created",
        400: "Invalid input",
        404: "Unknown template, user or group",
        422: "Idempotency key already used with other values",
    },
)
@permission_required("task_add")
def create_tasks() -> tuple[dict[str, Any], int] | Response:
    body = request.get_json(force=True)  # a body that is not JSON: 400 saying why
    actor = caller()
    key = _idempotency_key()
    if bodies.parse(DryRunQuery, request.args.to_dict(), prefix="query.").dry_run:
        return _dry_run(body, key, actor)
    if isinstance(body, dict):
        item = bodies.parse(TaskIn, body, depth=1)
        warnings: dict[str, list[str]] = {}
        task, created = creation.get_or_create(
            db.session,
            spec=_keyed(_new_task(item), key),
            actor=actor,
            callback_hosts=callback_hosts(),
            scan_check=scan_check(),
            warnings=warnings,
        )
        return _answer(_committed(task_dict(task)), warnings, 201 if created else 200)
    if isinstance(body, list):
        return _create_many(body, key, actor)
    raise InvalidInput(
        "The body must be a JSON object (one task) or an array of tasks", field="_schema"
    )


def _check_count(body: list[Any]) -> None:
    if len(body) > creation.BULK_CREATE_MAX:
        raise InvalidInput(
            f"At most {creation.BULK_CREATE_MAX} tasks per request, got {len(body)}",
            field="tasks",
        )


def _create_many(body: list[Any], key: str | None, actor: User | None) -> Response:
    """The array form: all or none; `already_present` when any task carries a key."""
    _check_count(body)
    specs, rejected = _validate_many(body)
    if key is not None:
        specs = [
            _keyed(spec, f"{key}/{index}") if spec else None for index, spec in enumerate(specs)
        ]
    noted: dict[str, list[str]] = {}
    summaries = creation.create_many(
        db.session,
        specs=specs,
        actor=actor,
        rejected=rejected,
        callback_hosts=callback_hosts(),
        scan_check=scan_check(),
        warnings=noted,
    )
    db.session.commit()
    uris = _Uris.make()
    answer: dict[str, Any] = {"tasks": [summary_dict(summary, uris) for summary in summaries]}
    if any(spec and spec.idempotency_key for spec in specs):
        answer["already_present"] = [i for i, s in enumerate(summaries) if s.already_present]
    if noted:
        answer["warnings"] = noted
    return _listing(answer, 200 if all(s.already_present for s in summaries) else 201)


def _dry_run(body: Any, key: str | None, actor: User) -> Response:
    """Where the tasks would go, checked as a create checks them; nothing is stored."""
    if isinstance(body, dict):
        specs: list[creation.NewTask | None] = [
            _keyed(_new_task(bodies.parse(TaskIn, body, depth=1)), key)
        ]
        rejected: dict[str, list[str]] = {}
    elif isinstance(body, list):
        _check_count(body)
        specs, rejected = _validate_many(body)
        if key is not None:
            specs = [_keyed(s, f"{key}/{i}") if s else None for i, s in enumerate(specs)]
    else:
        raise InvalidInput(
            "The body must be a JSON object (one task) or an array of tasks", field="_schema"
        )
    try:
        preview = creation.preview_many(
            db.session,
            specs=specs,
            actor=actor,
            rejected=rejected,
            callback_hosts=callback_hosts(),
            scan_check=scan_check(),
        )
    except DomainError as error:
        db.session.rollback()
        raise (_as_single(error) if isinstance(body, dict) else error) from None
    db.session.rollback()
    tasks = preview.task_answers()
    answer = {"dry_run": True, "tasks": tasks, "per_user": preview.per_user}
    # Keys in the order written (each task's index first, a user's tasks before their effort):
    # the answer is read by people deciding whether to send the tasks.
    text = current_app.json.dumps(answer, sort_keys=False)
    return current_app.response_class(f"{text}\n", mimetype="application/json")


def _as_single(error: DomainError) -> DomainError:
    """A batch's refusal of its one task, as the single create answers it: fields without the
    `0.` index, and 404 when a template, user, group or tag named does not exist."""
    errors = {name.removeprefix("0."): messages for name, messages in error.errors.items()}
    if not isinstance(error, InvalidInput):
        return type(error)(error.message, errors=errors, extra=error.extra)
    messages = [message for found in errors.values() for message in found]
    missing = any(message.endswith("does not exist") for message in messages)
    kind = NotFound if missing else InvalidInput
    return kind("; ".join(messages), errors=errors, extra=error.extra)


def _idempotency_key() -> str | None:
    """The request's Idempotency-Key header, checked as a task's key is."""
    key = request.headers.get("Idempotency-Key")
    problems = checks.Problems()
    checks.check_idempotency_key(problems, key, field_name="Idempotency-Key")
    if problems:
        raise problems.error()
    return key


def _keyed(spec: creation.NewTask, key: str | None) -> creation.NewTask:
    """The task with this key, unless it names its own (its `idempotency_key` wins)."""
    if key is None or spec.idempotency_key is not None:
        return spec
    return dataclasses.replace(spec, idempotency_key=key)


def scan_check() -> str:
    """What a scan-name mismatch does (TASKMAN_SCAN_CHECK): strict, warn or off."""
    return current_app.extensions["taskman_settings"].scan_check  # type: ignore[no-any-return]


def _answer(
    answer: dict[str, Any], warnings: dict[str, list[str]], status: int = 200
) -> tuple[dict[str, Any], int] | Response:
    """A task's detail, checked by its schema on the way out; with warnings (field: messages)
    it also carries `warnings`, a key only such answers have, and goes out as built."""
    if warnings:
        return _listing({**answer, "warnings": warnings}, status)
    return answer, status


def callback_hosts() -> CallbackHosts:
    """Where callbacks may go (TASKMAN_CALLBACK_ALLOWED_HOSTS)."""
    return current_app.extensions["taskman_settings"].callback_allowed_hosts  # type: ignore[no-any-return]


def _validate_many(
    body: list[Any],
) -> tuple[list[creation.NewTask | None], dict[str, list[str]]]:
    """Check the shape of every element (not only up to the first bad one)."""
    try:
        return [_new_task(item) for item in _TASK_LIST.validate_python(body)], {}
    except ValidationError:
        pass
    specs: list[creation.NewTask | None] = []
    rejected: dict[str, list[str]] = {}
    for index, element in enumerate(body):
        try:
            specs.append(_new_task(TaskIn.model_validate(element)))
        except ValidationError as exc:
            specs.append(None)
            for name, messages in bodies.field_errors(exc, depth=1).items():
                key = f"{index}.{name}" if name != "_schema" else str(index)
                rejected[key] = messages
    return specs, rejected


@v1.get("/tasks/<task_id>")
@v1.output(TaskOut, example=examples.TASK_OUT)
@v1.doc(summary="One task", description="404 when the caller may not see it.", tags=["Tasks"])
@permission_required(*READ)
def get_task(task_id: str) -> dict[str, Any]:
    task = visibility.get_visible_or_raise(db.session, task_id=task_id, user=caller())
    return task_dict(task)


@v1.put("/tasks/<task_id>")
@bodies.input(TaskUpdate, arg_name="body", example=examples.TASK_UPDATE)
@v1.output(TaskOut, example=examples.TASK_DONE)
@v1.doc(
    summary="Change a task",
    description="Each field has its own permission: status (task_update_status for one's own "
    "tasks, task_update_status_all or task_update_all for any), users, groups, subject, series, "
    "priority, due and effort (task_update_user or task_update_all), everything else "
    "task_update_all. A field the caller may not change "
    "answers 403 naming it, and nothing of the request is applied. Setting status `done` "
    "releases the lock (unless TASKMAN_DONE_RELEASES_LOCK=false), records who finished and "
    "queues the callback; two concurrent requests make one transition. The scheduling fields "
    "are checked as on create; null clears subject, series or due. "
    "`wait_for` may point elsewhere only while the task is `waiting` (it is checked again "
    "soon); it neither starts nor ends the waiting.",
    tags=["Tasks"],
)
@permission_required(*UPDATE)
def update_task(task_id: str, body: TaskUpdate) -> tuple[dict[str, Any], int] | Response:
    actor = caller()
    task = visibility.get_visible_or_raise(db.session, task_id=task_id, user=actor)
    warnings: dict[str, list[str]] = {}
    task_changes.update(
        db.session,
        task=task,
        changes=body.model_dump(exclude_unset=True),
        actor=actor,
        callback_hosts=callback_hosts(),
        scan_check=scan_check(),
        done_releases_lock=current_app.extensions["taskman_settings"].done_releases_lock,
        warnings=warnings,
    )
    return _answer(_committed(task_dict(task)), warnings)


@v1.delete("/tasks/<task_id>")
@v1.output(DeletedOut)
@v1.doc(summary="Delete a task", tags=["Tasks"])
@permission_required("task_delete")
def delete_task(task_id: str) -> dict[str, Any]:
    task = visibility.get_visible_or_raise(db.session, task_id=task_id, user=caller())
    number = task.id
    editing.delete(db.session, task=task)
    db.session.commit()
    return {"message": f"Task {number} deleted"}


@v1.get("/task-at-timepoint/<task_id>")
@bodies.input(TimepointQuery, location="query", arg_name="query")
@v1.output(TaskOut)
@v1.doc(
    summary="One task as it rendered at a time",
    description="content and callback_url rendered with the meta values valid at `timestamp`.",
    tags=["Tasks"],
)
@permission_required(*READ)
def get_task_at_timepoint(task_id: str, query: TimepointQuery) -> dict[str, Any]:
    task = visibility.get_visible_or_raise(db.session, task_id=task_id, user=caller())
    at = query.timestamp or utcnow()
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return task_dict(task, meta_service.values_at(db.session, timestamp=at))


@v1.get("/tasks/<task_id>/history")
@bodies.input(Pagination, location="query", arg_name="query")
@v1.output(TaskHistoryOut)
@v1.doc(
    summary="What happened to a task",
    description="Every create, assignment, lock, unlock, status change and edit, oldest first, "
    "with who did it and when.",
    tags=["Tasks"],
)
@permission_required(*READ)
def get_task_history(task_id: str, query: Pagination) -> dict[str, Any]:
    task = visibility.get_visible_or_raise(db.session, task_id=task_id, user=caller())
    offset, limit = paging.clamp(query.offset, query.limit, cap=paging.MAX_TASK_PAGE_SIZE)
    entries, total = details.list_history(db.session, task=task, offset=offset, limit=limit)
    user_uri = _Uris.make().user
    return {
        "history": [
            {
                "id": entry.id,
                "timestamp": entry.timestamp.isoformat(),
                "action": entry.action,
                "actor": user_uri(entry.actor_id) if entry.actor_id else None,
                "username": entry.actor_username,
                "detail": entry.detail,
            }
            for entry in entries
        ],
        "total": total,
        "offset": offset,
        "limit": limit,
    }


@v1.get("/users/<user_id>/tasks")
@bodies.input(KeysetPagination, location="query", arg_name="query")
@v1.output(TaskListOut)
@v1.doc(
    summary="A user's tasks",
    description="Tasks assigned to the user directly or through a group. One's own with "
    "task_read or user_read; anyone's with task_read_all or user_read_all (403 otherwise).",
    tags=["Tasks", "Users"],
)
@permission_required("task_read", "task_read_all", "user_read", "user_read_all")
def list_user_tasks(user_id: str, query: KeysetPagination) -> Response:
    user = user_service.get_or_raise(db.session, reference=user_id)
    page = task_lists.list_for_user(
        db.session,
        viewer=caller(),
        user=user,
        offset=query.offset,
        limit=query.limit,
        after_id=query.keyset,
    )
    return page_response(page)


@v1.get("/groups/<group_id>/tasks")
@bodies.input(KeysetPagination, location="query", arg_name="query")
@v1.output(TaskListOut)
@v1.doc(
    summary="A group's tasks",
    description="Tasks assigned to the group: for its members, and with task_read_all or "
    "group_read_all (403 otherwise).",
    tags=["Tasks", "Groups"],
)
@permission_required("task_read", "task_read_all", "group_read", "group_read_all")
def list_group_tasks(group_id: str, query: KeysetPagination) -> Response:
    group = group_service.get_or_raise(db.session, reference=group_id)
    page = task_lists.list_for_group(
        db.session,
        viewer=caller(),
        group=group,
        offset=query.offset,
        limit=query.limit,
        after_id=query.keyset,
    )
    return page_response(page)


@v1.get("/tags/<tag_id>/tasks")
@bodies.input(KeysetPagination, location="query", arg_name="query")
@v1.output(TaskListOut)
@v1.doc(
    summary="A tag's tasks",
    description="The tasks with this tag that the caller may see.",
    tags=["Tasks", "Tags"],
)
@permission_required(*READ)
def list_tag_tasks(tag_id: str, query: KeysetPagination) -> Response:
    tag = tag_service.get_or_raise(db.session, reference=tag_id)
    page = task_lists.list_for_tag(
        db.session,
        viewer=caller(),
        tag=tag,
        offset=query.offset,
        limit=query.limit,
        after_id=query.keyset,
    )
    return page_response(page)
