"""Task locks and next-task claims."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Response, current_app, request, url_for
from pydantic import BaseModel, Field

from ..models import Task, TaskStatus, User, db
from ..services.accounts import users
from ..services.dispensing import claims as dispensing_claims
from ..services.dispensing import locks
from ..services.kit.errors import DomainError
from ..services.tasks import visibility
from . import bodies, examples, v1
from .auth import caller, permission_required
from .bodies import Body, Reference
from .uris import template_uri_by_id, user_uri

F = TypeVar("F", bound=Callable[..., Any])

LOCK_PERMISSIONS = ("task_read", "task_update_lock_all", "task_update_all")
CLAIM_PERMISSIONS = ("task_read", "task_read_all")


class LockIn(Body):
    lock: Reference | None = Field(
        None, description="User id, username or user URL; absent or null: the caller"
    )


class LockOut(BaseModel):
    lock: str | None = Field(description="URL of the user holding the lock, or null")
    username: str | None
    error: str | None


class ClaimIn(Body):
    project: str | None = None
    template: str | None = Field(None, description="Template label or id")
    tag: str | list[str] | None = Field(None, description="Tag name(s); all must be on the task")
    order: str | None = Field(
        None,
        description="`priority`: the most urgent task first (highest priority, then the "
        "earliest due date, then the oldest); `id`: the oldest first. Default: the oldest, or "
        "by priority when `project` names a project whose policy has priority_order",
    )


class ClaimOut(BaseModel):
    uri: str
    id: str
    project: str
    status: str
    template: str
    lock: str = Field(description="URL of the task's lock (GET it to see the holder)")
    username: str = Field(description="The caller, who now holds the lock")


def lock_body(user: User | None, error: str | None = None) -> dict[str, Any]:
    return {
        "lock": user_uri(user.id) if user is not None else None,
        "username": user.username if user is not None else None,
        "error": error,
    }


def with_lock_error_fields(view: F) -> F:
    """Errors of the lock routes also carry the old `lock`, `username` and `error` keys."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except locks.LockHeld as exc:
            exc.extra.update(lock_body(exc.holder, exc.message))
            raise
        except DomainError as exc:
            exc.extra.update(lock_body(None, exc.message))
            raise

    return wrapper  # type: ignore[return-value]


def _timeout() -> float | None:
    timeout: float | None = current_app.extensions["taskman_settings"].lock_timeout
    return timeout


def _visible_task(task_id: str) -> Task:
    return visibility.get_visible_or_raise(db.session, task_id=task_id, user=caller())


LOCK_DOC = (
    "With TASKMAN_LOCK_TIMEOUT set, a lock not renewed (locked again by its holder) within that "
    "many seconds lapses and reads as free."
)


@v1.get("/tasks/<task_id>/lock")
@v1.output(LockOut, example=examples.LOCK_OUT)
@v1.doc(summary="Who holds a task's lock", description=LOCK_DOC, tags=["Locks"])
@with_lock_error_fields
@permission_required("task_read", "task_read_all")
def get_task_lock(task_id: str) -> dict[str, Any]:
    task = _visible_task(task_id)
    return lock_body(locks.holder(db.session, task=task, timeout=_timeout()))


@v1.put("/tasks/<task_id>/lock")
@bodies.input(LockIn, example=examples.LOCK_IN, optional=True)
@v1.output(LockOut, example=examples.LOCK_OUT)
@v1.doc(
    summary="Lock a task (or renew its lease)",
    description=(
        "Without a body (or with `{}`), locks the task to the caller: taken when free or "
        "already theirs, else 409 naming the holder. Under simultaneous requests exactly one "
        'caller wins. `{"lock": user}` names the user: naming someone else, or taking over '
        "a lock someone else holds, requires task_update_lock_all or task_update_all (403 "
        "otherwise); with them the lock is set whoever held it. When the task's project has "
        "a policy that limits readers, a caller locking a task for themselves gets it only "
        "within its rules (409 saying which rule stands in the way); a lock set for someone "
        "else is recorded in the policy's ledgers. " + LOCK_DOC
    ),
    tags=["Locks"],
    responses={200: "Locked", 403: "Not allowed", 404: "Unknown task or user", 409: "Locked"},
)
@with_lock_error_fields
@permission_required(*LOCK_PERMISSIONS)
def lock_task(task_id: str, json_data: LockIn) -> dict[str, Any]:
    task = _visible_task(task_id)
    target = None
    if json_data.lock is not None:
        target = users.get_for_actor_or_raise(
            db.session,
            reference=json_data.lock,
            actor=caller(),
            others_need=locks.LOCK_ALL,
            refusal="Locking a task to another user requires task_update_lock_all or "
            "task_update_all",
            field="lock",
        )
    holder = locks.lock(db.session, task=task, actor=caller(), target=target, timeout=_timeout())
    db.session.commit()
    return lock_body(holder)


@v1.delete("/tasks/<task_id>/lock")
@v1.output(LockOut)
@v1.doc(
    summary="Release a task's lock",
    description=(
        "By its holder, or with task_update_lock_all or task_update_all (403 otherwise). "
        "Releasing a free lock succeeds."
    ),
    tags=["Locks"],
)
@with_lock_error_fields
@permission_required(*LOCK_PERMISSIONS)
def unlock_task(task_id: str) -> dict[str, Any]:
    task = _visible_task(task_id)
    locks.release(db.session, task=task, actor=caller(), timeout=_timeout())
    db.session.commit()
    return lock_body(None)


@v1.post("/tasks/next")
@bodies.input(ClaimIn, example=examples.CLAIM_IN, optional=True)
@v1.output(ClaimOut, example=examples.CLAIM_OUT)
@v1.doc(
    summary="Claim the next task: lock the oldest queued, free task the caller may do",
    description=(
        "Filters (all optional) in the JSON body or the query string: `project`, `template` "
        "(label or id), `tag` (repeatable; every tag must be on the task); `order=priority` "
        "takes the most urgent task instead of the oldest. A project's policy may limit what "
        "the caller gets (reader rules, a cap on open tasks). Concurrent callers "
        "never receive the same task. 204 when there is nothing to do."
    ),
    tags=["Locks"],
    responses={200: "Claimed (the task is now locked to the caller)", 204: "Nothing to do"},
)
@permission_required(*CLAIM_PERMISSIONS)
def claim_next_task(json_data: ClaimIn) -> Any:
    filters = json_data.model_dump(exclude_none=True, exclude={"order"})
    order = json_data.order if json_data.order is not None else request.args.get("order")
    if not filters:
        filters = {
            key: request.args.get(key) for key in ("project", "template") if key in request.args
        }
        if "tag" in request.args:
            filters["tag"] = request.args.getlist("tag")
    tag = filters.get("tag") or []
    me = caller()
    claim = dispensing_claims.claim_next(
        db.session,
        user=me,
        timeout=_timeout(),
        project=filters.get("project"),
        template=filters.get("template"),
        tags=[tag] if isinstance(tag, str) else tag,
        order=order,
    )
    db.session.commit()
    if claim is None:
        return Response(status=204)
    return {
        "uri": url_for("api_v1.get_task", task_id=claim.id),
        "id": str(claim.id),
        "project": claim.project,
        "status": TaskStatus.QUEUED.value,
        "template": template_uri_by_id(claim.template_id),
        "lock": url_for("api_v1.get_task_lock", task_id=claim.id),
        "username": me.username,
    }
