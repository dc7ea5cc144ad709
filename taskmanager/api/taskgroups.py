"""Task groups: tasks created together, whose status follows their tasks."""

from __future__ import annotations

from typing import Any, Literal

from flask import Response, jsonify, url_for
from pydantic import BaseModel, Field

from ..models import TaskGroup, db
from ..services.flows import taskgroup_changes
from ..services.kit import paging
from ..services.kit.references import MAX_ID
from ..services.taskgroups import reads
from ..services.tasks import creation
from . import bodies, v1
from .auth import caller, permission_required
from .bodies import Body, Reference
from .statuses import TaskGroupStatusName
from .tasks import _Uris, callback_hosts, scan_check, summary_dict
from .tasks_schemas import TaskIn, TaskSummaryOut

READ = ("task_read", "task_read_all")
WRITE = ("task_add", "task_update_all")
CallbackContent = str | dict[str, Any] | list[Any] | None


class TaskGroupIn(Body):
    label: str = Field(min_length=1, max_length=128)
    callback_url: str | None = Field(None, max_length=512, description="May contain $META vars")
    callback_content: CallbackContent = Field(
        None, description="JSON body of the callback (text, or an object stored as its JSON)"
    )
    tasks: list[TaskIn] = Field(default_factory=list, description="Task bodies, as for POST /tasks")
    distribute_in_group: Reference | None = Field(
        None, description="Group (id or groupname) whose members share the tasks by weight"
    )
    distribute_method: Literal["same", "unique"] | None = Field(
        None,
        description="same (default): every task to one member; unique: each to a different one",
    )


class TaskGroupUpdate(Body):
    label: str | None = Field(None, min_length=1, max_length=128)
    callback_url: str | None = Field(None, max_length=512)
    callback_content: CallbackContent = None
    tasks: list[Reference] | None = Field(
        None, description="Task ids (or URLs): the group's tasks become exactly these"
    )


class TaskGroupQuery(BaseModel):
    status: TaskGroupStatusName | None = None
    offset: int = Field(0, ge=0, le=MAX_ID)
    limit: int | None = Field(None, ge=1)


class TaskGroupSummary(BaseModel):
    url: str
    id: str
    label: str
    status: str


class TaskGroupDetail(TaskGroupSummary):
    callback_url: str | None
    raw_callback_url: str | None
    callback_content: str | None
    tasks: list[TaskSummaryOut]


class TaskGroupList(BaseModel):
    taskgroups: list[TaskGroupSummary]
    offset: int
    limit: int = Field(
        description=f"The limit applied: at most {paging.MAX_TASK_PAGE_SIZE} (the default)"
    )


def summary(taskgroup: TaskGroup, status: str) -> dict[str, Any]:
    return {
        "url": url_for("api_v1.get_taskgroup", reference=taskgroup.id),
        "id": str(taskgroup.id),
        "label": taskgroup.label,
        "status": status,
    }


def detail(
    taskgroup: TaskGroup,
    status: str,
    status_code: int = 200,
    warnings: dict[str, list[str]] | None = None,
) -> Response:
    """The detail, as is: a group may hold thousands of tasks, not worth validating again.

    With `warnings` (TASKMAN_SCAN_CHECK=warn), they are added under `warnings`."""
    group_tasks = reads.tasks_of(db.session, taskgroup=taskgroup, user=caller())
    uris = _Uris.make()
    response = jsonify(
        {
            **summary(taskgroup, status),
            "callback_url": reads.render(db.session, taskgroup.raw_callback_url),
            "raw_callback_url": taskgroup.raw_callback_url,
            "callback_content": taskgroup.callback_content,
            "tasks": [summary_dict(task, uris) for task in group_tasks],
            **({"warnings": warnings} if warnings else {}),
        }
    )
    response.status_code = status_code
    return response


@v1.get("/taskgroups")
@bodies.input(TaskGroupQuery, location="query")
@v1.output(TaskGroupList)
@v1.doc(
    summary="List task groups",
    description=(
        "A group is done when all its tasks are done, else aborted when any is aborted, else "
        "queued. Without task_read_all: the groups holding a task the caller may see."
    ),
    tags=["Task groups"],
)
@permission_required(*READ)
def list_taskgroups(query_data: TaskGroupQuery) -> dict[str, Any]:
    offset, limit = paging.clamp(query_data.offset, query_data.limit, cap=paging.MAX_TASK_PAGE_SIZE)
    rows = reads.list_visible(
        db.session, user=caller(), status=query_data.status, offset=offset, limit=limit
    )
    return {
        "taskgroups": [summary(group, status) for group, status in rows],
        "offset": offset,
        "limit": limit,
    }


@v1.post("/taskgroups")
@bodies.input(TaskGroupIn)
@v1.output(TaskGroupDetail, status_code=201)
@v1.doc(
    summary="Create a task group with its tasks",
    description=(
        "All tasks are created in one transaction. With distribute_in_group the group's "
        "active members with an assignment weight above 0 share the tasks by weight; "
        "`unique` is refused (400) when the tasks outnumber them, and the task bodies must "
        "then not name users, groups or distribute_in_group. 404 names an unknown template, "
        "user or group (as POST /tasks does)."
    ),
    tags=["Task groups"],
    responses={201: "Created", 400: "Invalid input", 404: "Unknown template, user or group"},
)
@permission_required(*WRITE)
def create_taskgroup(json_data: TaskGroupIn) -> Response:
    warnings: dict[str, list[str]] = {}
    specs = [creation.NewTask(**dict(item)) for item in json_data.tasks]
    # The parsed bodies are done with: 10,000 of them would hold megabytes to the end.
    json_data.tasks.clear()
    taskgroup = taskgroup_changes.create(
        db.session,
        actor=caller(),
        label=json_data.label,
        callback_url=json_data.callback_url,
        callback_content=json_data.callback_content,
        specs=specs,
        distribute_in_group=json_data.distribute_in_group,
        distribute_method=json_data.distribute_method,
        callback_hosts=callback_hosts(),
        scan_check=scan_check(),
        warnings=warnings,
    )
    db.session.commit()
    group, status = reads.get_or_raise(db.session, reference=taskgroup.id, user=caller())
    return detail(group, status, 201, {f"tasks.{key}": value for key, value in warnings.items()})


@v1.get("/taskgroups/<reference>")
@v1.output(TaskGroupDetail)
@v1.doc(
    summary="One task group, by id or label (the newest group with that label)",
    tags=["Task groups"],
)
@permission_required(*READ)
def get_taskgroup(reference: str) -> Response:
    return detail(*reads.get_or_raise(db.session, reference=reference, user=caller()))


@v1.put("/taskgroups/<reference>")
@bodies.input(TaskGroupUpdate)
@v1.output(TaskGroupDetail)
@v1.doc(
    summary="Change a task group's label, callback or tasks",
    description="`tasks` replaces the group's tasks with the ones listed.",
    tags=["Task groups"],
)
@permission_required(*WRITE)
def update_taskgroup(reference: str, json_data: TaskGroupUpdate) -> Response:
    me = caller()
    taskgroup, _status = reads.get_or_raise(db.session, reference=reference, user=me)
    taskgroup_changes.update(
        db.session,
        taskgroup=taskgroup,
        actor=me,
        changes=json_data.model_dump(include=json_data.model_fields_set),
        callback_hosts=callback_hosts(),
    )
    db.session.commit()
    return detail(*reads.get_or_raise(db.session, reference=taskgroup.id, user=me))
