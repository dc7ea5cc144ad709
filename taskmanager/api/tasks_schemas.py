"""Pydantic shapes of the task routes (wire format of API v1, plus our additions)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, field_validator

from ..services.kit.paging import MAX_TASK_PAGE_SIZE
from ..services.kit.references import MAX_ID
from .bodies import Body, DateTime, Reference

Content = dict[str, Any] | list[Any] | str

_REFERENCE = "an id, a name or a URL path ending in either"
_SUBJECT = "The case or patient the task reads (at most 128 characters); reader rules of the project's policy count it"
_SERIES = (
    "Key whose tasks go to one reader when the project's policy has consistent_series (at most 128)"
)
_PRIORITY = "Higher first in priority order (a whole number, default 0)"
_DUE = "When the task should be done: ISO 8601 date-time, UTC when no zone is given"
_EFFORT = "How much work the task is, relative to others (above 0, default 1); balance_by effort shares it out"
_WAIT_FOR = (
    "http(s) URL where the task's data will appear: the task is `waiting` until a GET of it "
    "answers 2xx, then handed out"
)


class Scheduling(BaseModel):
    """The scheduling fields a task may carry (all optional; 6.6.0 clients send none). In a
    change, null clears subject, series or due."""

    subject: str | None = Field(None, description=_SUBJECT)
    series: str | None = Field(None, description=_SERIES)
    priority: int | None = Field(None, description=_PRIORITY)
    due: DateTime | None = Field(None, description=_DUE)
    effort: float | None = Field(None, description=_EFFORT)
    wait_for: str | None = Field(None, description=_WAIT_FOR)


class TaskIn(Body, Scheduling):
    """One task to create (POST /tasks takes one of these, or a list of up to 10,000)."""

    model_config = ConfigDict(extra="ignore")

    project: str = Field(description="Project name (at most 64 characters)")
    template: Reference = Field(description=f"The task template: {_REFERENCE} (label)")
    content: Content | None = Field(
        None,
        description="The task document: a JSON object, or JSON/YAML text. May hold $META "
        "variables. Required unless raw_content is given.",
    )
    raw_content: str | None = Field(
        None, description="Content as stored, with $META variables; wins over content"
    )
    callback_url: str | None = Field(None, description="URL called (PUT) when the task is done")
    raw_callback_url: str | None = Field(None, description="callback_url with $META variables")
    callback_content: Content | None = Field(None, description="Body of the callback (JSON)")
    generator_url: str | None = Field(None, description="Who made the task (at most 512)")
    tracking_id: str | None = Field(None, description="Outside reference (default 'unassigned')")
    application_name: str | None = Field(None, description="Client that should open the task")
    application_version: str | None = Field(None, description="Minimum client version")
    tags: list[Reference] = Field(
        default_factory=list, description="Tag names (created if new), or tag ids/URLs"
    )
    users: list[Reference] = Field(
        default_factory=list, description=f"Assigned users: {_REFERENCE}"
    )
    groups: list[Reference] = Field(
        default_factory=list, description=f"Assigned groups: {_REFERENCE}"
    )
    distribute_in_group: Reference | None = Field(
        None,
        description="Give the task to one member of this group (weighted); not together with "
        "users or groups. With neither, the task goes to one user chosen among all users.",
    )
    idempotency_key: str | None = Field(
        None,
        description="The client's key for this task (at most 255 characters): a task whose key "
        "names one already is not created again (wins over the Idempotency-Key header)",
    )


class TaskCreateBody(RootModel[TaskIn | list[TaskIn]]):
    """One task, or a JSON array of tasks created all or nothing."""

    model_config = ConfigDict(strict=True)


class TaskUpdate(Body, Scheduling):
    """Fields of PUT /tasks/{id}; each has its own permission (403 names the field)."""

    model_config = ConfigDict(extra="ignore")

    status: str | None = Field(
        None,
        description="queued, done, aborted or another word (task_update_status for one's own "
        "tasks, task_update_status_all or task_update_all for any)",
    )
    users: list[Reference] | None = Field(
        None, description="Replace assigned users (task_update_user or task_update_all)"
    )
    groups: list[Reference] | None = Field(
        None, description="Replace assigned groups (task_update_user or task_update_all)"
    )
    project: str | None = None
    template: Reference | None = None
    content: Content | None = Field(None, description="Sets raw_content to the same text")
    raw_content: str | None = None
    callback_url: str | None = None
    raw_callback_url: str | None = None
    callback_content: Content | None = None
    generator_url: str | None = None
    tracking_id: str | None = None
    application_name: str | None = None
    application_version: str | None = None
    tags: list[Reference] | None = Field(None, description="Replace all tags (names or URLs)")


class Pagination(BaseModel):
    offset: int = Field(0, ge=0, le=MAX_ID, description="Rows to skip")
    limit: int | None = Field(
        None,
        ge=0,
        description=f"Rows to return (default and maximum {MAX_TASK_PAGE_SIZE:,}; the answer "
        "gives the limit used)",
    )


class KeysetPagination(Pagination):
    """Offset paging, or keyset paging from a task id (what the answer's `next` link uses)."""

    after: int | None = Field(
        None,
        ge=0,
        le=MAX_ID,
        description="Only tasks whose id is above this one (keyset paging: pass the last id of "
        "the previous page, with offset 0; the answer's `next` link does)",
    )
    after_id: int | None = Field(
        None, ge=0, le=MAX_ID, description="The former name of `after` (which wins over it)"
    )

    @property
    def keyset(self) -> int | None:
        return self.after if self.after is not None else self.after_id


class TaskFilters(BaseModel):
    """What a task list (or export) may be narrowed to."""

    project: str | None = None
    template: str | None = Field(None, description="Template label (or id)")
    user: str | None = Field(
        None,
        description="Username: tasks assigned to that user, directly or via a group. Only with "
        "task_read_all; otherwise the list always holds the caller's tasks.",
    )
    status: str | None = None
    tag: list[str] = Field(
        default_factory=list, description="Tag name; repeat the parameter to require several"
    )
    application_name: str | None = None
    subject: str | None = Field(None, description="Only the tasks of this subject")
    series: str | None = Field(None, description="Only the tasks of this series")
    overdue: bool = Field(
        False, description="true: only tasks due before now and not yet done or aborted"
    )

    @field_validator("tag", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class TaskListQuery(KeysetPagination, TaskFilters):
    order: Literal["id", "priority"] | None = Field(
        None,
        description="`id` (the default), or `priority`: highest priority first, then the "
        "earliest due date (tasks without one last), then id. With `project` naming a project "
        "whose policy has priority_order, `priority` is the default (unless `after` is "
        "given). `after` pages in id order only.",
    )


class TaskExportQuery(TaskFilters):
    format: Literal["ndjson", "csv"] = Field(
        "ndjson",
        description="`ndjson`: one JSON object per line; `csv`: a header line, then one row per "
        "task, lists as `a;b`",
    )
    after: int | None = Field(
        None,
        ge=0,
        le=MAX_ID,
        description="Only tasks whose id is above this one (to resume an interrupted export)",
    )


class TimepointQuery(BaseModel):
    timestamp: datetime | None = Field(
        None, description="ISO 8601 time (UTC when no zone is given); default now"
    )


class TagRef(BaseModel):
    uri: str
    name: str


class TaskSummaryOut(BaseModel):
    uri: str
    id: str
    status: str
    project: str
    template: str
    tags: list[TagRef]
    wait_for: str | None = Field(None, description="Only on waiting tasks: " + _WAIT_FOR)
    wait_detail: str | None = Field(
        None, description="Only on waiting tasks: why it still waits (the last check's answer)"
    )


class TaskListOut(BaseModel):
    tasks: list[TaskSummaryOut]
    total_tasks: int
    offset: int
    limit: int
    total_is_estimate: bool = Field(
        False,
        description="true when total_tasks was counted a few seconds ago for an earlier page "
        "(large lists, TASKMAN_LIST_COUNT_CACHE_SECONDS) and may lag behind changes since",
    )
    next: str | None = Field(
        None,
        description="Full URL of the next page (keyset form `after=<last id>` in id order, "
        "`offset` in priority order) with the same filters and limit; null on the last page",
    )


class TaskCreatedList(BaseModel):
    """The answer to a bulk create: the new tasks, in the order they were given."""

    tasks: list[TaskSummaryOut]
    already_present: list[int] | None = Field(
        None,
        description="When idempotency keys were given: the indices of the tasks their key "
        "named already (not created again)",
    )


class TaskOut(BaseModel):
    uri: str
    id: str
    project: str
    template: str
    content: str
    raw_content: str
    status: str
    lock: str
    tags: list[str]
    callback_url: str | None
    raw_callback_url: str | None
    callback_content: str | None
    generator_url: str | None
    application_name: str | None
    application_version: str | None
    tracking_id: str
    create_time: str
    update_time: str
    users: list[str]
    groups: list[str]
    users_via_group: list[str]
    taskgroup: str | None
    done_by: str | None
    done_time: str | None
    subject: str | None = Field(description=_SUBJECT)
    series: str | None = Field(description=_SERIES)
    priority: int = Field(description=_PRIORITY)
    due: str | None = Field(description=_DUE)
    effort: float = Field(description=_EFFORT)
    wait_for: str | None = Field(description=_WAIT_FOR)
    wait_detail: str | None = Field(
        description="Why a waiting task still waits (the last check's answer), or null"
    )
    wait_checked_time: str | None = Field(description="When wait_for was last checked, or null")


class DryRunQuery(BaseModel):
    dry_run: bool = Field(
        False,
        description="Check the tasks and say where they would go (status, users, groups, "
        "effort, and the work each user would get), storing nothing",
    )


class DryRunTaskOut(BaseModel):
    index: int = Field(description="Position in the request (0 for a single task)")
    project: str
    status: str = Field(description="queued, or waiting when the task names wait_for")
    users: list[str] = Field(description="Usernames it would be assigned to")
    groups: list[str] = Field(description="Group names it would be assigned to")
    effort: float


class UserLoadOut(BaseModel):
    tasks: int
    effort: float


class DryRunOut(BaseModel):
    """What a create would do; nothing was stored."""

    dry_run: bool = Field(description="Always true")
    tasks: list[DryRunTaskOut]
    per_user: dict[str, UserLoadOut] = Field(
        description="Per username: the tasks this request would assign to them and their effort"
    )


class TaskCreatedOut(RootModel[TaskOut | TaskCreatedList | DryRunOut]):
    """A single create answers the task's detail; a bulk create `{"tasks": [summary...]}`; a
    dry run what would be created."""


class HistoryEntryOut(BaseModel):
    id: int
    timestamp: str
    action: str = Field(description="create, assign, lock, unlock, status or edit")
    actor: str | None = Field(description="URL of the user who did it")
    username: str | None
    detail: Any = Field(description="What changed (JSON), or null")


class TaskHistoryOut(BaseModel):
    history: list[HistoryEntryOut]
    total: int
    offset: int
    limit: int


class DeletedOut(BaseModel):
    message: str
