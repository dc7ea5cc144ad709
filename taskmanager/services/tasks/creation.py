"""Creating tasks, one or in batches, all or nothing.

A task may carry the idempotency key its client named it by (unique in the database). Creating
a task again with a key that already names one creates nothing: the answer holds the task made
the first time, when the request is the same (its fingerprint matches); another request reusing
the key is refused (KeyReused, 422). The unique index decides between concurrent requests.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Table,
    select,
    update,
)
from sqlalchemy.orm import Session, lazyload, load_only
from sqlalchemy.orm.attributes import set_committed_value

from ...config import CallbackHosts
from ...models import (
    Group,
    Tag,
    Task,
    TaskStatus,
    TaskTemplate,
    User,
    task_groups_assigned,
    task_tags,
    task_users,
    utcnow,
)
from ..callbacks import destinations as callback_destinations
from ..kit import bulk, rows
from ..kit.errors import Conflict, InvalidInput, KeyReused
from ..kit.typed_rows import as_tuples
from ..reference import tags as tag_service
from . import assignment, history
from .checks import (
    COLUMNS,
    TAGS_PER_TASK_MAX,
    Problems,
    TemplateScans,
    check,
    check_callback_url,
    check_idempotency_key,
    check_scheduling,
    check_tag_name,
    check_wait_for,
    is_tag_name,
    stored_text,
)
from .resolution import Reference, resolve_groups, resolve_tags, resolve_templates, resolve_users

# Most tasks one request may create.
BULK_CREATE_MAX = 10_000
# Idempotency keys (or task ids) per query: well below every backend's bound-parameter limit.
KEYS_PER_QUERY = 1000
DEFAULT_TRACKING_ID = "unassigned"


# Slots: a bulk create holds 10,000 of these at once, and a per-instance dict of this many
# fields costs about a kilobyte each.
@dataclass(frozen=True, slots=True)
class NewTask:
    """One task to create, as a client describes it (references by id, name or URL)."""

    project: str
    template: Reference
    content: Any = None
    raw_content: str | None = None
    callback_url: str | None = None
    raw_callback_url: str | None = None
    callback_content: Any = None
    generator_url: str | None = None
    tracking_id: str | None = None
    application_name: str | None = None
    application_version: str | None = None
    tags: Sequence[Reference] = ()
    users: Sequence[Reference] = ()
    groups: Sequence[Reference] = ()
    distribute_in_group: Reference | None = None
    idempotency_key: str | None = None
    # Scheduling (services/tasks/policy.py); None: the column's default.
    subject: str | None = None
    series: str | None = None
    priority: int | None = None
    due: datetime | None = None
    effort: float | None = None
    # The task waits (status `waiting`) until a GET of this URL answers 2xx.
    wait_for: str | None = None


@dataclass(slots=True)
class TaskSummary:
    """What a list shows of a task. (Slots: a bulk create or a large task group holds 10,000.)"""

    id: int
    status: str
    project: str
    template_id: int
    tags: list[tuple[int, str]] = field(default_factory=list)
    # In the answer to a create: the task was there already, created with the same key.
    already_present: bool = False
    # Who the task went to (usernames), and its effort: what a dry run answers.
    users: Sequence[str] = ()
    groups: Sequence[str] = ()
    effort: float = 1.0


@dataclass(slots=True)
class _Prepared:
    row: dict[str, Any]
    template: TaskTemplate
    tag_names: list[str]
    known_tags: list[Tag]
    users: list[User]
    groups: list[Group]
    distribute_in_group: Group | None


@dataclass
class _Lookups:
    templates: dict[Reference, TaskTemplate]
    users: dict[Reference, User]
    groups: dict[Reference, Group]
    tags: dict[Reference, Tag]
    scans: TemplateScans


def _lookups(session: Session, specs: Sequence[NewTask], scan_check: str) -> _Lookups:
    """Every template, user, group and existing tag the batch names, in four queries."""
    group_refs = {ref for spec in specs for ref in spec.groups}
    group_refs |= {s.distribute_in_group for s in specs if s.distribute_in_group is not None}
    tag_refs = {ref for spec in specs for ref in spec.tags if not is_tag_name(ref)}
    return _Lookups(
        templates=resolve_templates(session, {spec.template for spec in specs}),
        users=resolve_users(session, {ref for spec in specs for ref in spec.users}),
        groups=resolve_groups(session, group_refs),
        tags=resolve_tags(session, tag_refs),
        scans=TemplateScans(scan_check),
    )


def _prepare(
    spec: NewTask, lookups: _Lookups, problems: Problems, callback_hosts: CallbackHosts
) -> _Prepared | None:
    template = lookups.templates.get(spec.template)
    if template is None:
        problems.add("template", f"Template {spec.template!r} does not exist", not_found=True)
    row, parsed = _row(spec)
    _check_row(problems, spec, row, callback_hosts)
    tag_names, known_tags = _tags(spec, lookups, problems)
    users = pick(lookups.users, spec.users, problems, "users", "User")
    groups = pick(lookups.groups, spec.groups, problems, "groups", "Group")
    distribute_in_group = _distribute_in_group(spec, lookups, problems)
    raw_content = row["raw_content"]
    if template is not None and raw_content:
        lookups.scans.check(problems, template, raw_content, parsed)
    if problems or template is None:
        return None
    row["template_id"] = template.id
    prepared = _Prepared(row, template, tag_names, known_tags, users, groups, distribute_in_group)
    row["idempotency_fingerprint"] = _fingerprint(prepared) if spec.idempotency_key else None
    return prepared


def _fingerprint(item: _Prepared) -> str:
    """What the request asked for, as a SHA-256: a retry has the same, another request reusing
    the key has not. References count by what they name (a template's label or id alike)."""
    asked = {
        name: value
        for name, value in item.row.items()
        if not name.startswith("idempot") and not _is_scheduling_default(name, value)
    }
    asked.update(
        tags=sorted(item.tag_names),
        tag_ids=sorted(tag.id for tag in item.known_tags),
        users=[user.id for user in item.users],
        groups=[group.id for group in item.groups],
        distribute_in_group=item.distribute_in_group.id if item.distribute_in_group else None,
    )
    text = json.dumps(asked, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


# Left out of a fingerprint when unset, so that keys given before these fields existed still
# match their retries.
_SCHEDULING_DEFAULTS = {
    "subject": None,
    "series": None,
    "priority": 0,
    "due": None,
    "effort": 1.0,
    "wait_for": None,
    "status": TaskStatus.QUEUED,
}


def _is_scheduling_default(name: str, value: Any) -> bool:
    return name in _SCHEDULING_DEFAULTS and value == _SCHEDULING_DEFAULTS[name]


def _row(spec: NewTask) -> tuple[dict[str, Any], Any]:
    """The task's column values, and its content when the client sent it parsed (else None)."""
    raw_content: str | None
    if spec.raw_content is not None:
        raw_content, parsed = spec.raw_content, None
    else:
        raw_content = stored_text(spec.content)
        parsed = spec.content if isinstance(spec.content, dict) else None
    row: dict[str, Any] = {
        "project": spec.project,
        "status": TaskStatus.WAITING if spec.wait_for is not None else TaskStatus.QUEUED,
        "raw_content": raw_content,
        "raw_callback_url": (
            spec.raw_callback_url if spec.raw_callback_url is not None else spec.callback_url
        ),
        "callback_content": stored_text(spec.callback_content),
        "tracking_id": spec.tracking_id if spec.tracking_id is not None else DEFAULT_TRACKING_ID,
        "generator_url": spec.generator_url,
        "application_name": spec.application_name,
        "application_version": spec.application_version,
        "idempotency_key": spec.idempotency_key,
        "subject": spec.subject,
        "series": spec.series,
        "priority": spec.priority if spec.priority is not None else 0,
        "due": spec.due,
        "effort": spec.effort if spec.effort is not None else 1.0,
        "wait_for": spec.wait_for,
    }
    return row, parsed


def _check_row(
    problems: Problems, spec: NewTask, row: dict[str, Any], callback_hosts: CallbackHosts
) -> None:
    given_as = {
        "raw_content": "raw_content" if spec.raw_content is not None else "content",
        "raw_callback_url": "raw_callback_url" if spec.raw_callback_url else "callback_url",
    }
    for name, value in row.items():
        if name in COLUMNS and name != "wait_for":
            check(problems, name, value, field_name=given_as.get(name, name))
    check_scheduling(problems, row)
    check_wait_for(problems, row["wait_for"], callback_hosts)
    check_idempotency_key(problems, row["idempotency_key"], field_name="idempotency_key")
    check_callback_url(
        problems,
        row["raw_callback_url"],
        callback_hosts,
        field_name=given_as["raw_callback_url"],
    )


def _tags(spec: NewTask, lookups: _Lookups, problems: Problems) -> tuple[list[str], list[Tag]]:
    """The names of the tags to find or create, and the tags named by id or URL."""
    tag_names: list[str] = []
    known_tags: list[Tag] = []
    if len(spec.tags) > TAGS_PER_TASK_MAX:
        problems.add("tags", f"At most {TAGS_PER_TASK_MAX} tags per task, got {len(spec.tags)}")
    for ref in spec.tags:
        if is_tag_name(ref):
            assert isinstance(ref, str)
            check_tag_name(problems, ref)
            tag_names.append(ref)
        elif ref in lookups.tags:
            known_tags.append(lookups.tags[ref])
        else:
            problems.add("tags", f"Tag {ref!r} does not exist", not_found=True)
    return tag_names, known_tags


def _distribute_in_group(spec: NewTask, lookups: _Lookups, problems: Problems) -> Group | None:
    if spec.distribute_in_group is None:
        return None
    if spec.users or spec.groups:
        problems.add(
            "distribute_in_group",
            "Give either users/groups or distribute_in_group, not both",
        )
    group = lookups.groups.get(spec.distribute_in_group)
    if group is None:
        problems.add(
            "distribute_in_group",
            f"Group {spec.distribute_in_group!r} does not exist",
            not_found=True,
        )
    return group


def pick(
    found: Mapping[Reference, Any],
    references: Sequence[Reference],
    problems: Problems,
    field_name: str,
    kind: str,
) -> list[Any]:
    chosen: dict[int, Any] = {}
    for ref in references:
        obj = found.get(ref)
        if obj is None:
            problems.add(field_name, f"{kind} {ref!r} does not exist", not_found=True)
        else:
            chosen[obj.id] = obj
    return [chosen[key] for key in sorted(chosen)]


def create(
    session: Session,
    *,
    spec: NewTask,
    actor: User | None,
    callback_hosts: CallbackHosts = callback_destinations.DEFAULT,
    scan_check: str = "strict",
    warnings: dict[str, list[str]] | None = None,
) -> Task:
    """Create one task (404 for an unknown template, user or group; 400 for bad values).

    `warnings`, when given, receives what was accepted but should be known (field: messages).
    """
    task, _created = get_or_create(
        session,
        spec=spec,
        actor=actor,
        callback_hosts=callback_hosts,
        scan_check=scan_check,
        warnings=warnings,
    )
    return task


def get_or_create(
    session: Session,
    *,
    spec: NewTask,
    actor: User | None,
    callback_hosts: CallbackHosts = callback_destinations.DEFAULT,
    scan_check: str = "strict",
    warnings: dict[str, list[str]] | None = None,
) -> tuple[Task, bool]:
    """Create one task, as `create` does, and True; or, when its idempotency key names a task
    made by the same request before, that task and False (KeyReused for another request)."""
    lookups = _lookups(session, [spec], scan_check)
    problems = Problems()
    prepared = _prepare(spec, lookups, problems, callback_hosts)
    if prepared is None:
        raise problems.error()
    if warnings is not None:
        warnings.update(problems.warnings)
    (summary,) = _store(session, [prepared], actor=actor, field_of=lambda _index: "idempotency_key")
    task = session.get(Task, summary.id)
    assert task is not None
    return task, not summary.already_present


def create_many(
    session: Session,
    *,
    specs: Sequence[NewTask | None],
    actor: User | None,
    rejected: Mapping[str, list[str]] | None = None,
    callback_hosts: CallbackHosts = callback_destinations.DEFAULT,
    scan_check: str = "strict",
    warnings: dict[str, list[str]] | None = None,
) -> list[TaskSummary]:
    """Create tasks all or nothing: any bad task refuses the whole batch, naming each by index.

    `None` stands for an element the caller already found malformed; its errors, keyed
    `index.field`, come in `rejected` and are reported with the others. `warnings`, when
    given, receives the warnings of the created tasks, keyed `index.field` too. A task whose
    idempotency key names a task made by the same request before is that task, marked
    `already_present`; another request reusing a key refuses the batch (KeyReused).
    """
    if not specs:
        raise InvalidInput("Give at least one task", field="tasks")
    if len(specs) > BULK_CREATE_MAX:
        raise InvalidInput(
            f"At most {BULK_CREATE_MAX} tasks per request, got {len(specs)}", field="tasks"
        )
    lookups = _lookups(session, [spec for spec in specs if spec is not None], scan_check)
    prepared: list[_Prepared] = []
    errors: dict[str, list[str]] = dict(rejected or {})
    noted: dict[str, list[str]] = {}
    for index, spec in enumerate(specs):
        if spec is None:
            continue
        problems = Problems()
        item = _prepare(spec, lookups, problems, callback_hosts)
        for name, messages in problems.warnings.items():
            noted[f"{index}.{name}"] = messages
        if item is None:
            for name, messages in problems.errors.items():
                errors.setdefault(f"{index}.{name}", []).extend(messages)
        else:
            prepared.append(item)
    if errors:
        bad = len({key.split(".", 1)[0] for key in errors})
        raise InvalidInput(
            f"{bad} of {len(specs)} tasks are invalid; none was created",
            errors=dict(sorted(errors.items(), key=lambda kv: _index_key(kv[0]))),
        )
    if warnings is not None:
        warnings.update(noted)
    return _store(session, prepared, actor=actor, field_of=lambda index: f"{index}.idempotency_key")


@dataclass
class Preview:
    """What a create would do: each task's summary (who it would go to) and per user the
    number of tasks and their effort."""

    tasks: list[TaskSummary]
    per_user: dict[str, dict[str, float]]

    def task_answers(self) -> list[dict[str, Any]]:
        """Each task as a dry run answers it: index, project, status, users, groups, effort."""
        return [
            {
                "index": index,
                "project": summary.project,
                "status": summary.status,
                "users": list(summary.users),
                "groups": list(summary.groups),
                "effort": summary.effort,
            }
            for index, summary in enumerate(self.tasks)
        ]


def preview_many(
    session: Session,
    *,
    specs: Sequence[NewTask | None],
    actor: User | None,
    rejected: Mapping[str, list[str]] | None = None,
    callback_hosts: CallbackHosts = callback_destinations.DEFAULT,
    scan_check: str = "strict",
) -> Preview:
    """Create the tasks as create_many would, with the same checks and the same assignment,
    and undo it all: nothing is stored, and the same errors are raised."""
    savepoint = session.begin_nested()
    try:
        summaries = create_many(
            session,
            specs=specs,
            actor=actor,
            rejected=rejected,
            callback_hosts=callback_hosts,
            scan_check=scan_check,
        )
    finally:
        savepoint.rollback()
    per_user: dict[str, dict[str, float]] = {}
    for summary in summaries:
        for name in summary.users:
            share = per_user.setdefault(name, {"tasks": 0, "effort": 0.0})
            share["tasks"] += 1
            share["effort"] += summary.effort
    return Preview(tasks=summaries, per_user=dict(sorted(per_user.items())))


def _index_key(key: str) -> tuple[int, str]:
    index, _, name = key.partition(".")
    return (int(index) if index.isdigit() else -1, name)


def tags_by_name(session: Session, names: Iterable[str]) -> dict[str, Tag]:
    """The tags with these names, created when missing (in name order, so that concurrent
    requests wait for each other instead of deadlocking), indexed by the names asked for."""
    wanted = sorted(set(names))
    found = tag_service.get_or_create_many(session, names=wanted)
    exact = {tag.name: tag for tag in found}
    # A case- or pad-insensitive collation may answer with a tag spelled differently.
    folded = {tag.name.casefold().rstrip(): tag for tag in found}
    return {name: exact.get(name) or folded[name.casefold().rstrip()] for name in wanted}


def _store(
    session: Session,
    items: list[_Prepared],
    *,
    actor: User | None,
    field_of: Callable[[int], str],
) -> list[TaskSummary]:
    """Insert the tasks whose idempotency key (if any) names no task yet; in the answer, a task
    whose key does holds that one. `field_of(index)` names a reused key in the KeyReused error.
    """
    keys: list[str | None] = [item.row["idempotency_key"] for item in items]
    if not any(keys):
        return [summary for summary in _insert(session, items, actor=actor) if summary]
    found = _tasks_by_key(session, {key for key in keys if key})
    todo = _to_insert(keys, found)
    inserted = _insert(session, [items[index] for index in todo], actor=actor)
    made = {index: summary for index, summary in zip(todo, inserted, strict=True) if summary}
    taken = {key for index in todo if index not in made and (key := keys[index])}
    if taken:  # created by a concurrent request meanwhile
        found.update(_tasks_by_key(session, taken, fresh=True))
    for index, summary in made.items():
        if key := keys[index]:
            found[key] = (summary, items[index].row["idempotency_fingerprint"])
    return _answer(items, keys, made, found, field_of)


def _to_insert(keys: list[str | None], found: Mapping[str, Any]) -> list[int]:
    """Indices of the tasks to insert: those without a key, and the first of each key not found."""
    todo: list[int] = []
    claimed: set[str] = set()
    for index, key in enumerate(keys):
        if key is not None and (key in found or key in claimed):
            continue
        if key is not None:
            claimed.add(key)
        todo.append(index)
    return todo


def _answer(
    items: list[_Prepared],
    keys: list[str | None],
    made: dict[int, TaskSummary],
    found: dict[str, tuple[TaskSummary, str | None]],
    field_of: Callable[[int], str],
) -> list[TaskSummary]:
    """Each task's summary in order: the new one, or the one its key named already."""
    answer: list[TaskSummary] = []
    reused: dict[str, list[str]] = {}
    for index, (item, key) in enumerate(zip(items, keys, strict=True)):
        if index in made:
            answer.append(made[index])
            continue
        if key not in found:  # inserted by another request, which was then rolled back
            raise Conflict(
                f"The task of idempotency key {key!r} changed meanwhile; try again",
                field=field_of(index),
            )
        summary, fingerprint = found[key]
        if fingerprint != item.row["idempotency_fingerprint"]:
            reused[field_of(index)] = [
                f"Idempotency key {key!r} already names task {summary.id}, created by another "
                "request (other values)"
            ]
        answer.append(dataclasses.replace(summary, already_present=True))
    if reused:
        message = f"{len(reused)} of {len(items)} tasks reuse an idempotency key with other values"
        if len(items) == 1:
            message = next(iter(reused.values()))[0]
        raise KeyReused(message, errors=reused)
    return answer


def _tasks_by_key(
    session: Session, keys: set[str], *, fresh: bool = False
) -> dict[str, tuple[TaskSummary, str | None]]:
    """The tasks these idempotency keys name, with their tags, and the fingerprint of the request
    that made each. `fresh`: also what other transactions committed since this one began."""
    found: dict[str, tuple[TaskSummary, str | None]] = {}
    ordered = sorted(keys)
    for start in range(0, len(ordered), KEYS_PER_QUERY):
        query = select(
            Task.id,
            Task.status,
            Task.project,
            Task.template_id,
            Task.idempotency_key,
            Task.idempotency_fingerprint,
        ).where(Task.idempotency_key.in_(ordered[start : start + KEYS_PER_QUERY]))
        if fresh and session.get_bind().dialect.name in {"mysql", "mariadb"}:
            # A locking read sees rows committed after this transaction's snapshot was taken.
            query = query.with_for_update(read=True)
        for task_id, status, project, template_id, key, fingerprint in as_tuples(
            session.execute(query)
        ):
            found[key] = (TaskSummary(task_id, status, project, template_id), fingerprint)
    by_id = {summary.id: summary for summary, _fingerprint in found.values()}
    for start in range(0, len(by_id), KEYS_PER_QUERY):
        chunk = list(by_id)[start : start + KEYS_PER_QUERY]
        tagged = session.execute(
            select(task_tags.c.task_id, Tag.id, Tag.name)
            .join(Tag, Tag.id == task_tags.c.tag_id)
            .where(task_tags.c.task_id.in_(chunk))
            .order_by(task_tags.c.task_id, Tag.id)
        )
        for task_id, tag_id, name in as_tuples(tagged):
            by_id[task_id].tags.append((tag_id, name))
    return found


def _insert_rows(session: Session, new_rows: list[dict[str, Any]]) -> list[int | None]:
    """INSERT the task rows; their ids in order, None for a keyed row whose key another request
    took meanwhile (that row is not inserted)."""
    table = cast(Table, Task.__table__)
    if all(row["idempotency_key"] is None for row in new_rows):
        return list(bulk.insert_rows_returning_ids(session, table, new_rows))
    plain = iter(
        bulk.insert_rows_returning_ids(
            session, table, [row for row in new_rows if row["idempotency_key"] is None]
        )
    )
    by_key = rows.insert_missing_returning(
        session,
        table,
        [row for row in new_rows if row["idempotency_key"] is not None],
        key="idempotency_key",
    )
    return [
        next(plain) if row["idempotency_key"] is None else by_key.get(row["idempotency_key"])
        for row in new_rows
    ]


def _insert(
    session: Session, items: list[_Prepared], *, actor: User | None
) -> list[TaskSummary | None]:
    """Bulk INSERT the tasks and their links; hand out tasks that name nobody; record history.

    None in place of a keyed task whose key another request took meanwhile.
    """
    if not items:
        return []
    tags = tags_by_name(session, {name for item in items for name in item.tag_names})
    now = utcnow()
    ids = _insert_rows(
        session, [{**item.row, "create_time": now, "update_time": now} for item in items]
    )
    new = [(task_id, item) for task_id, item in zip(ids, items, strict=True) if task_id]
    linked = _link(session, new, tags, actor=actor)
    return [linked[task_id] if task_id else None for task_id in ids]


def _link(
    session: Session, new: list[tuple[int, _Prepared]], tags: dict[str, Tag], *, actor: User | None
) -> dict[int, TaskSummary]:
    """The new tasks' users, groups and tags; hand out tasks that name nobody; record history.
    Their summaries by id."""
    user_links, group_links, tag_links = [], [], []
    summaries: dict[int, TaskSummary] = {}
    created: dict[int, dict[str, Any]] = {}
    automatic: dict[int | None, list[int]] = defaultdict(list)
    groups_by_id: dict[int, Group] = {}
    pending: list[dict[str, Any]] = []
    for task_id, item in new:
        task_tags_ = {tag.id: tag for tag in item.known_tags}
        task_tags_.update((tags[name].id, tags[name]) for name in item.tag_names)
        tag_links += [{"task_id": task_id, "tag_id": tag_id} for tag_id in task_tags_]
        user_links += [{"task_id": task_id, "user_id": user.id} for user in item.users]
        group_links += [{"task_id": task_id, "group_id": group.id} for group in item.groups]
        summaries[task_id] = _summary(task_id, item, sorted(task_tags_.items()))
        created[task_id] = _creation_detail(item)
        group = item.distribute_in_group
        if item.users or item.groups:
            continue
        if item.row["status"] == TaskStatus.WAITING:
            # Handed out once its data is there (services/tasks/waiting.py).
            pending.append(
                {
                    "id": task_id,
                    "dispatch_pending": True,
                    "dispatch_group_id": group.id if group else None,
                }
            )
        else:
            automatic[group.id if group else None].append(task_id)
            if group is not None:
                groups_by_id[group.id] = group
    bulk.insert_rows(session, task_users, user_links)
    bulk.insert_rows(session, task_groups_assigned, group_links)
    bulk.insert_rows(session, task_tags, tag_links)
    if pending:
        session.execute(
            update(Task),
            pending,
            execution_options={"synchronize_session": False},
        )
    for group_id, task_ids in automatic.items():
        group = groups_by_id.get(group_id) if group_id is not None else None
        for task, user in _assign_automatically(session, task_ids, group):
            created[task.id].update(users=[user.username], automatic=True)
            summaries[task.id].users = [user.username]
            if group is not None:
                created[task.id]["distribute_in_group"] = group.groupname
    # One entry per task: its creation with the assignment it was created with.
    history.record_many(
        session,
        entries=[(task_id, "create", detail) for task_id, detail in created.items()],
        actor=actor,
    )
    return summaries


def _summary(task_id: int, item: _Prepared, tags: list[tuple[int, Tag]]) -> TaskSummary:
    return TaskSummary(
        id=task_id,
        status=item.row["status"],
        project=item.row["project"],
        template_id=item.template.id,
        tags=[(tag.id, tag.name) for _, tag in tags],
        users=[user.username for user in item.users],
        groups=[group.groupname for group in item.groups],
        effort=item.row["effort"],
    )


def _creation_detail(item: _Prepared) -> dict[str, Any]:
    """The history detail of a task's creation: its project and the assignment it was made with."""
    detail: dict[str, Any] = {"project": item.row["project"]}
    if item.row["wait_for"] is not None:
        detail["wait_for"] = item.row["wait_for"]
    if item.users or item.groups:
        detail.update(assignment_detail(item.users, item.groups))
    return detail


def _assign_automatically(
    session: Session, task_ids: list[int], group: Group | None
) -> list[tuple[Task, User]]:
    """One call to weighted assignment for the tasks created without users or groups."""
    tasks: list[Task] = []
    for start in range(0, len(task_ids), 1000):
        chunk = task_ids[start : start + 1000]
        query = (
            select(Task)
            .where(Task.id.in_(chunk))
            .order_by(Task.id)
            .options(
                load_only(
                    Task.id,
                    Task.project,
                    Task.status,
                    Task.template_id,
                    Task.subject,
                    Task.series,
                    Task.effort,
                ),
                lazyload(Task.template),
            )
        )
        tasks.extend(session.scalars(query))
    for task in tasks:
        # Brand new: nobody is assigned yet, so the collection needs no loading.
        set_committed_value(task, "users", [])
    chosen = assignment.assign_automatically(session, tasks=tasks, group=group)
    return list(zip(tasks, chosen, strict=True))


def assignment_detail(users: Iterable[User], groups: Iterable[Group]) -> dict[str, Any]:
    return {
        "users": [user.username for user in users],
        "groups": [group.groupname for group in groups],
    }


# --- reading ---------------------------------------------------------------------------------
