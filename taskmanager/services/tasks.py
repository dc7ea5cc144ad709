"""Tasks: who may see them, creating, listing, changing and deleting them."""

from __future__ import annotations

import functools
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Select,
    Table,
    bindparam,
    exists,
    func,
    or_,
    select,
    true,
    union,
)
from sqlalchemy import delete as sql_delete
from sqlalchemy import update as sql_update
from sqlalchemy.orm import Session, lazyload, load_only
from sqlalchemy.orm.attributes import set_committed_value

from ..config import CallbackHosts
from ..models import (
    Group,
    Tag,
    Task,
    TaskTemplate,
    User,
    group_membership,
    task_groups_assigned,
    task_tags,
    task_users,
    utcnow,
)
from . import (
    assignment,
    bulk,
    history,
    permissions,
    references,
    rendering,
    taskgroups,
    validation,
)
from . import (
    tags as tag_service,
)
from . import (
    templates as template_service,
)
from .callbacks import destinations as callback_destinations
from .callbacks import outbox as callbacks
from .errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound

# Most tasks one request may create, and most rows one list page may hold (also its default:
# the official client asks without a limit and expects every task it may see).
BULK_CREATE_MAX = 10_000
LIST_LIMIT_MAX = 10_000
# Tags one task may name (a clear 400 rather than a huge join table write).
TAGS_PER_TASK_MAX = 1000
# References looked up per query: each is one bound parameter per name column it may match.
LOOKUP_BATCH = 5000

# The column each checked text value goes into (its length, or TEXT's limit, applies).
COLUMNS: dict[str, Any] = {
    "project": Task.project,
    "status": Task.status,
    "raw_content": Task.raw_content,
    "raw_callback_url": Task.raw_callback_url,
    "callback_content": Task.callback_content,
    "tracking_id": Task.tracking_id,
    "generator_url": Task.generator_url,
    "application_name": Task.application_name,
    "application_version": Task.application_version,
}
REQUIRED = frozenset({"project", "status", "raw_content", "tracking_id"})
DEFAULT_TRACKING_ID = "unassigned"

Reference = str | int


# --- visibility ------------------------------------------------------------------------------


def visible_to(user: User) -> ColumnElement[bool]:
    """SQL condition: the task is assigned to the user directly or through one of their groups."""
    if "task_read_all" in permissions.of(user):
        return true()
    return _assigned_exists(user.id)


def _assigned_exists(user_id: int | BindParameter[Any]) -> ColumnElement[bool]:
    direct = exists().where(task_users.c.task_id == Task.id, task_users.c.user_id == user_id)
    via_group = exists().where(
        task_groups_assigned.c.task_id == Task.id,
        task_groups_assigned.c.group_id == group_membership.c.group_id,
        group_membership.c.user_id == user_id,
    )
    return or_(direct, via_group)


def assigned_to(user_id: int) -> ColumnElement[bool]:
    """SQL condition for lists: the task is assigned to the user directly or via a group.

    The same rule as `visible_to`, phrased as one id set so that counting and paging a user's
    tasks costs what the user has, not what the table has.
    """
    direct = select(task_users.c.task_id).where(task_users.c.user_id == user_id)
    via_group = (
        select(task_groups_assigned.c.task_id)
        .join(
            group_membership,
            group_membership.c.group_id == task_groups_assigned.c.group_id,
        )
        .where(group_membership.c.user_id == user_id)
    )
    return Task.id.in_(union(direct, via_group))


def reads_all(user: User) -> bool:
    return "task_read_all" in permissions.of(user)


@functools.cache
def _visible_task_query(all_tasks: bool) -> Select[Task]:
    """One task by id if the user may see it; built once, values bound per call."""
    query = select(Task).where(Task.id == bindparam("visible_task_id"))
    if all_tasks:
        return query
    return query.where(_assigned_exists(bindparam("visible_user_id")))


def get_visible_or_raise(session: Session, *, task_id: int | str, user: User) -> Task:
    """The task if it exists and the user may see it; otherwise 404 (never reveal existence)."""
    number = references.as_id(task_id)
    if number is None:
        raise NotFound(f"Task {task_id!r} does not exist", field="task")
    query = _visible_task_query(reads_all(user))
    task = session.scalars(query, {"visible_task_id": number, "visible_user_id": user.id}).first()
    if task is None:
        raise NotFound(f"Task {number} does not exist", field="task")
    return task


# --- references: ids, names or URLs ----------------------------------------------------------


@dataclass(frozen=True)
class _NameColumn:
    column: Any
    key: Callable[[Any], str]
    normalise: Callable[[str], str] = str


def _resolve(
    session: Session,
    model: Any,
    names: Sequence[_NameColumn],
    refs: Iterable[Reference],
    *,
    name_first: bool = False,
) -> dict[Reference, Any]:
    """Map each reference (id, name or URL) to its object in one query; unknown ones are absent.

    The batch form of the services' single lookups, with the same precedence: a number is an id
    first and a name second (a name first for templates, whose URLs use the label).
    """
    keys = {ref: references.normalise(ref) for ref in set(refs)}
    found: list[Any] = []
    # In slices: each IN list is a bound parameter per value, and PostgreSQL takes 65,535.
    pending = list(keys.items())
    for start in range(0, len(pending), LOOKUP_BATCH):
        batch = pending[start : start + LOOKUP_BATCH]
        ids = {number for ref, _key in batch if (number := references.as_id(ref)) is not None}
        texts = {key for _ref, key in batch if key}
        conditions = [model.id.in_(ids)] if ids else []
        if texts:
            conditions += [name.column.in_({name.normalise(t) for t in texts}) for name in names]
        if conditions:
            found.extend(session.scalars(select(model).where(or_(*conditions))))
    by_id = {obj.id: obj for obj in found}
    by_name = [(name, {name.key(obj): obj for obj in found}) for name in names]

    def named(key: str) -> Any:
        for name, index in by_name:
            if (obj := index.get(name.normalise(key))) is not None:
                return obj
        return None

    resolved: dict[Reference, Any] = {}
    for ref, key in keys.items():
        number = references.as_id(ref)
        numbered = by_id.get(number) if number is not None else None
        obj = (named(key) or numbered) if name_first else (numbered or named(key))
        if obj is not None:
            resolved[ref] = obj
    return resolved


_USER_NAMES = (
    _NameColumn(User.username, lambda user: user.username),
    _NameColumn(func.lower(User.email), lambda user: user.email.lower(), str.lower),
)
_GROUP_NAMES = (_NameColumn(Group.groupname, lambda group: group.groupname),)
_TEMPLATE_NAMES = (_NameColumn(TaskTemplate.label, lambda template: template.label),)
_TAG_NAMES = (_NameColumn(Tag.name, lambda tag: tag.name),)


def resolve_users(session: Session, refs: Iterable[Reference]) -> dict[Reference, User]:
    return _resolve(session, User, _USER_NAMES, refs)


def resolve_groups(session: Session, refs: Iterable[Reference]) -> dict[Reference, Group]:
    return _resolve(session, Group, _GROUP_NAMES, refs)


def resolve_templates(session: Session, refs: Iterable[Reference]) -> dict[Reference, TaskTemplate]:
    return _resolve(session, TaskTemplate, _TEMPLATE_NAMES, refs, name_first=True)


def resolve_tags(session: Session, refs: Iterable[Reference]) -> dict[Reference, Tag]:
    return _resolve(session, Tag, _TAG_NAMES, refs)


# --- values ----------------------------------------------------------------------------------


def stored_text(value: Any) -> str | None:
    """Content arrives as a JSON object or as text (JSON or YAML); it is stored as text."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)


class _Problems:
    """Errors found while checking a request, keyed by field; 404s kept apart from 400s."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}
        self.not_found = False
        self.extra: dict[str, Any] = {}
        # What the request may do but should know (TASKMAN_SCAN_CHECK=warn), keyed by field.
        self.warnings: dict[str, list[str]] = {}

    def add(self, field_name: str, message: str, *, not_found: bool = False) -> None:
        self.errors.setdefault(field_name, []).append(message)
        self.not_found = self.not_found or not_found

    def __bool__(self) -> bool:
        return bool(self.errors)

    def error(self) -> DomainError:
        message = "; ".join(m for messages in self.errors.values() for m in messages)
        kind = NotFound if self.not_found else InvalidInput
        return kind(message, errors=self.errors, extra=self.extra)


def _check(problems: _Problems, name: str, value: Any, *, field_name: str | None = None) -> None:
    """The value fits its column (see COLUMNS); problems collected under the field as given."""
    field_name = field_name or name
    try:
        validation.text(value, field=field_name, column=COLUMNS[name], required=name in REQUIRED)
    except InvalidInput as error:
        problems.add(field_name, error.message)


def _check_callback_url(
    problems: _Problems, url: Any, hosts: CallbackHosts, *, field_name: str
) -> None:
    """A written-out callback host that TASKMAN_CALLBACK_ALLOWED_HOSTS never allows is refused."""
    if isinstance(url, str):
        try:
            callback_destinations.check_url(url, hosts=hosts, field=field_name)
        except InvalidInput as error:
            problems.add(field_name, error.message)


def _check_tag_name(problems: _Problems, name: str) -> None:
    try:
        tag_service.validate_name(name, field="tags")
    except InvalidInput as error:
        problems.add("tags", error.message)


def _scan_labels(value: Any) -> set[str] | None:
    """Names in `scan_sources`: a mapping's keys, or the `label` of each list entry."""
    if isinstance(value, dict):
        return {str(key) for key in value}
    if isinstance(value, list):
        return {str(e["label"]) for e in value if isinstance(e, dict) and "label" in e}
    return None


def _parsed(text: str) -> Any:
    try:
        return template_service.parse_document(text)
    except ValueError:
        return None


def scan_mismatch(declared: set[str], document: Any) -> tuple[list[str], list[str]] | None:
    """(missing, extra) names of a task content's `scan_sources` against the scans its template
    declares; None when they match or the content names no scans. (The command line checks
    task files with this before uploading.)"""
    if not isinstance(document, dict) or "scan_sources" not in document:
        return None
    given = _scan_labels(document["scan_sources"])
    if given is None or given == declared:
        return None
    return sorted(declared - given), sorted(given - declared)


def _scan_mismatch(template: TaskTemplate, declared: set[str], document: Any) -> str | None:
    """Why a task's `scan_sources` do not match its template's scans, or None when they do."""
    mismatch = scan_mismatch(declared, document)
    if mismatch is None:
        return None
    missing, extra = mismatch
    parts = []
    if missing:
        parts.append(f"missing {', '.join(missing)}")
    if extra:
        parts.append(f"extra {', '.join(extra)}")
    return (
        f"scan_sources do not match the scans template {template.label!r} declares "
        f"({', '.join(sorted(declared))}): {'; '.join(parts)}"
    )


class _TemplateScans:
    """Declared scans per template, parsed once per request; a mismatch is an error (`strict`),
    a warning (`warn`) or not looked for (`off`), as TASKMAN_SCAN_CHECK says."""

    def __init__(self, mode: str = "strict") -> None:
        self._by_id: dict[int, set[str] | None] = {}
        self.mode = mode

    def of(self, template: TaskTemplate) -> set[str] | None:
        if template.id not in self._by_id:
            self._by_id[template.id] = template_service.declared_scans(template.content)
        return self._by_id[template.id]

    def check(
        self,
        problems: _Problems,
        template: TaskTemplate,
        raw_content: str,
        parsed: Any = None,
    ) -> None:
        declared = None if self.mode == "off" else self.of(template)
        if declared is None:
            return
        document = parsed if parsed is not None else _parsed(raw_content)
        reason = _scan_mismatch(template, declared, document)
        if reason is not None and self.mode == "warn":
            problems.warnings.setdefault("content", []).append(reason)
        elif reason is not None:
            problems.add("content", reason)
            given = _scan_labels(document["scan_sources"]) or set()
            problems.extra.update(
                missing_scans=sorted(declared - given), extra_scans=sorted(given - declared)
            )


# --- creating --------------------------------------------------------------------------------


@dataclass(frozen=True)
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


@dataclass
class TaskSummary:
    """What a list shows of a task."""

    id: int
    status: str
    project: str
    template_id: int
    tags: list[tuple[int, str]] = field(default_factory=list)


@dataclass
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
    scans: _TemplateScans


def _lookups(session: Session, specs: Sequence[NewTask], scan_check: str) -> _Lookups:
    """Every template, user, group and existing tag the batch names, in four queries."""
    group_refs = {ref for spec in specs for ref in spec.groups}
    group_refs |= {s.distribute_in_group for s in specs if s.distribute_in_group is not None}
    tag_refs = {ref for spec in specs for ref in spec.tags if not _is_tag_name(ref)}
    return _Lookups(
        templates=resolve_templates(session, {spec.template for spec in specs}),
        users=resolve_users(session, {ref for spec in specs for ref in spec.users}),
        groups=resolve_groups(session, group_refs),
        tags=resolve_tags(session, tag_refs),
        scans=_TemplateScans(scan_check),
    )


def _is_tag_name(reference: Reference) -> bool:
    """Tags are named by name (created when new); a number or URL names an existing tag."""
    return isinstance(reference, str) and "/" not in reference


def _prepare(
    spec: NewTask, lookups: _Lookups, problems: _Problems, callback_hosts: CallbackHosts
) -> _Prepared | None:
    template = lookups.templates.get(spec.template)
    if template is None:
        problems.add("template", f"Template {spec.template!r} does not exist", not_found=True)
    raw_content: str | None
    if spec.raw_content is not None:
        raw_content, parsed = spec.raw_content, None
    else:
        raw_content = stored_text(spec.content)
        parsed = spec.content if isinstance(spec.content, dict) else None
    row: dict[str, Any] = {
        "project": spec.project,
        "status": "queued",
        "raw_content": raw_content,
        "raw_callback_url": (
            spec.raw_callback_url if spec.raw_callback_url is not None else spec.callback_url
        ),
        "callback_content": stored_text(spec.callback_content),
        "tracking_id": spec.tracking_id if spec.tracking_id is not None else DEFAULT_TRACKING_ID,
        "generator_url": spec.generator_url,
        "application_name": spec.application_name,
        "application_version": spec.application_version,
    }
    given_as = {
        "raw_content": "raw_content" if spec.raw_content is not None else "content",
        "raw_callback_url": "raw_callback_url" if spec.raw_callback_url else "callback_url",
    }
    for name, value in row.items():
        _check(problems, name, value, field_name=given_as.get(name, name))
    _check_callback_url(
        problems,
        row["raw_callback_url"],
        callback_hosts,
        field_name=given_as["raw_callback_url"],
    )

    tag_names: list[str] = []
    known_tags: list[Tag] = []
    if len(spec.tags) > TAGS_PER_TASK_MAX:
        problems.add("tags", f"At most {TAGS_PER_TASK_MAX} tags per task, got {len(spec.tags)}")
    for ref in spec.tags:
        if _is_tag_name(ref):
            assert isinstance(ref, str)
            _check_tag_name(problems, ref)
            tag_names.append(ref)
        elif ref in lookups.tags:
            known_tags.append(lookups.tags[ref])
        else:
            problems.add("tags", f"Tag {ref!r} does not exist", not_found=True)
    users = _pick(lookups.users, spec.users, problems, "users", "User")
    groups = _pick(lookups.groups, spec.groups, problems, "groups", "Group")
    distribute_in_group = None
    if spec.distribute_in_group is not None:
        if spec.users or spec.groups:
            problems.add(
                "distribute_in_group",
                "Give either users/groups or distribute_in_group, not both",
            )
        distribute_in_group = lookups.groups.get(spec.distribute_in_group)
        if distribute_in_group is None:
            problems.add(
                "distribute_in_group",
                f"Group {spec.distribute_in_group!r} does not exist",
                not_found=True,
            )
    if template is not None and raw_content:
        lookups.scans.check(problems, template, raw_content, parsed)
    if problems or template is None:
        return None
    row["template_id"] = template.id
    return _Prepared(row, template, tag_names, known_tags, users, groups, distribute_in_group)


def _pick(
    found: Mapping[Reference, Any],
    references: Sequence[Reference],
    problems: _Problems,
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
    lookups = _lookups(session, [spec], scan_check)
    problems = _Problems()
    prepared = _prepare(spec, lookups, problems, callback_hosts)
    if prepared is None:
        raise problems.error()
    if warnings is not None:
        warnings.update(problems.warnings)
    (summary,) = _insert(session, [prepared], actor=actor)
    task = session.get(Task, summary.id)
    assert task is not None
    return task


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
    given, receives the warnings of the created tasks, keyed `index.field` too.
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
        problems = _Problems()
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
    return _insert(session, prepared, actor=actor)


def _index_key(key: str) -> tuple[int, str]:
    index, _, name = key.partition(".")
    return (int(index) if index.isdigit() else -1, name)


def _tags_by_name(session: Session, names: Iterable[str]) -> dict[str, Tag]:
    """The tags with these names, created when missing (in name order, so that concurrent
    requests wait for each other instead of deadlocking), indexed by the names asked for."""
    wanted = sorted(set(names))
    found = tag_service.get_or_create_many(session, names=wanted)
    exact = {tag.name: tag for tag in found}
    # A case- or pad-insensitive collation may answer with a tag spelled differently.
    folded = {tag.name.casefold().rstrip(): tag for tag in found}
    return {name: exact.get(name) or folded[name.casefold().rstrip()] for name in wanted}


def _insert(session: Session, items: list[_Prepared], *, actor: User | None) -> list[TaskSummary]:
    """Bulk INSERT the tasks and their links; hand out tasks that name nobody; record history."""
    tags = _tags_by_name(session, {name for item in items for name in item.tag_names})
    now = utcnow()
    rows = [{**item.row, "create_time": now, "update_time": now} for item in items]
    ids = bulk.insert_rows_returning_ids(session, cast(Table, Task.__table__), rows)
    user_links, group_links, tag_links = [], [], []
    summaries: list[TaskSummary] = []
    created: dict[int, dict[str, Any]] = {}
    automatic: dict[int | None, list[int]] = defaultdict(list)
    groups_by_id: dict[int, Group] = {}
    for task_id, item in zip(ids, items, strict=True):
        task_tags_ = {tag.id: tag for tag in item.known_tags}
        task_tags_.update((tags[name].id, tags[name]) for name in item.tag_names)
        tag_links += [{"task_id": task_id, "tag_id": tag_id} for tag_id in task_tags_]
        user_links += [{"task_id": task_id, "user_id": user.id} for user in item.users]
        group_links += [{"task_id": task_id, "group_id": group.id} for group in item.groups]
        summaries.append(
            TaskSummary(
                id=task_id,
                status="queued",
                project=item.row["project"],
                template_id=item.template.id,
                tags=[(tag.id, tag.name) for _, tag in sorted(task_tags_.items())],
            )
        )
        created[task_id] = {"project": item.row["project"]}
        if item.users or item.groups:
            created[task_id].update(_assignment_detail(item.users, item.groups))
        else:
            group = item.distribute_in_group
            automatic[group.id if group else None].append(task_id)
            if group is not None:
                groups_by_id[group.id] = group
    bulk.insert_rows(session, task_users, user_links)
    bulk.insert_rows(session, task_groups_assigned, group_links)
    bulk.insert_rows(session, task_tags, tag_links)
    for group_id, task_ids in automatic.items():
        group = groups_by_id.get(group_id) if group_id is not None else None
        for task, user in _assign_automatically(session, task_ids, group):
            created[task.id].update(users=[user.username], automatic=True)
            if group is not None:
                created[task.id]["distribute_in_group"] = group.groupname
    # One entry per task: its creation with the assignment it was created with.
    history.record_many(
        session, entries=[(task_id, "create", created[task_id]) for task_id in ids], actor=actor
    )
    return summaries


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
                load_only(Task.id, Task.project, Task.status, Task.template_id),
                lazyload(Task.template),
            )
        )
        tasks.extend(session.scalars(query))
    for task in tasks:
        # Brand new: nobody is assigned yet, so the collection needs no loading.
        set_committed_value(task, "users", [])
    chosen = assignment.assign_automatically(session, tasks=tasks, group=group)
    return list(zip(tasks, chosen, strict=True))


def _assignment_detail(users: Iterable[User], groups: Iterable[Group]) -> dict[str, Any]:
    return {
        "users": [user.username for user in users],
        "groups": [group.groupname for group in groups],
    }


# --- reading ---------------------------------------------------------------------------------


# --- changing --------------------------------------------------------------------------------

STATUS_FIELDS = frozenset({"status"})
ASSIGNMENT_FIELDS = frozenset({"users", "groups"})
EDIT_FIELDS = frozenset(
    {
        "project",
        "template",
        "content",
        "raw_content",
        "callback_url",
        "raw_callback_url",
        "callback_content",
        "generator_url",
        "tracking_id",
        "application_name",
        "application_version",
        "tags",
    }
)
# Fields that may not be cleared (lists are emptied with [], not null).
_NOT_NULL = frozenset(
    {
        "project",
        "template",
        "content",
        "raw_content",
        "status",
        "tracking_id",
        "tags",
        "users",
        "groups",
    }
)


def may_set_status(user: User, task: Task, session: Session) -> bool:
    held = permissions.of(user)
    if held & {"task_update_all", "task_update_status_all"}:
        return True
    if "task_update_status" not in held:
        return False
    assigned = session.scalar(
        _assigned_task_query(), {"visible_task_id": task.id, "visible_user_id": user.id}
    )
    return assigned is not None


@functools.cache
def _assigned_task_query() -> Select[int]:
    """The task's id if it is assigned to the user; built once, values bound per call."""
    return select(Task.id).where(
        Task.id == bindparam("visible_task_id"), _assigned_exists(bindparam("visible_user_id"))
    )


def _forbidden_fields(session: Session, actor: User, task: Task, names: Iterable[str]) -> list[str]:
    held = permissions.of(actor)
    refused = []
    for name in sorted(names):
        if name in STATUS_FIELDS:
            allowed = may_set_status(actor, task, session)
        elif name in ASSIGNMENT_FIELDS:
            allowed = bool(held & {"task_update_user", "task_update_all"})
        else:
            allowed = "task_update_all" in held
        if not allowed:
            refused.append(name)
    return refused


def update(
    session: Session,
    *,
    task: Task,
    changes: Mapping[str, Any],
    actor: User,
    callback_hosts: CallbackHosts = callback_destinations.DEFAULT,
    scan_check: str = "strict",
    done_releases_lock: bool = True,
    warnings: dict[str, list[str]] | None = None,
) -> Task:
    """Change a task: every field is checked against the actor's rights before anything is set.

    `warnings`, when given, receives what was accepted but should be known (field: messages).
    """
    unknown = set(changes) - STATUS_FIELDS - ASSIGNMENT_FIELDS - EDIT_FIELDS
    if unknown:
        raise InvalidInput(f"Unknown fields: {', '.join(sorted(unknown))}", field="task")
    refused = _forbidden_fields(session, actor, task, changes)
    if refused:
        _lock_or_raise(session, task)  # a task deleted meanwhile is not found, not forbidden
        raise Forbidden(
            f"You may not change: {', '.join(refused)}",
            errors={name: [f"You may not change {name}"] for name in refused},
        )
    problems = _Problems()
    for name in _NOT_NULL & set(changes):
        if changes[name] is None:
            problems.add(name, f"{name} may not be null")
    if problems:
        raise problems.error()

    if set(changes) - STATUS_FIELDS:
        _lock_or_raise(session, task)  # (a status change locks the row itself)
    edits = _prepare_edits(session, task, changes, problems, callback_hosts, scan_check)
    users = groups = None
    if "users" in changes:
        users = _pick(
            resolve_users(session, changes["users"]), changes["users"], problems, "users", "User"
        )
    if "groups" in changes:
        found = resolve_groups(session, changes["groups"])
        groups = _pick(found, changes["groups"], problems, "groups", "Group")
    if "status" in changes:
        _check(problems, "status", changes["status"])
    if problems:
        raise problems.error()
    if warnings is not None:
        warnings.update(problems.warnings)

    _apply_edits(session, task, edits, actor)
    if users is not None or groups is not None:
        _reassign(session, task, users, groups, actor)
    if "status" in changes:
        set_status(
            session,
            task=task,
            status=changes["status"],
            actor=actor,
            release_lock=done_releases_lock,
        )
    session.flush()
    return task


@dataclass
class _Edits:
    columns: dict[str, Any]
    template: TaskTemplate | None
    tags: list[Tag] | None


def _prepare_edits(
    session: Session,
    task: Task,
    changes: Mapping[str, Any],
    problems: _Problems,
    callback_hosts: CallbackHosts,
    scan_check: str,
) -> _Edits:
    columns: dict[str, Any] = {}
    for name in (
        "project",
        "generator_url",
        "tracking_id",
        "application_name",
        "application_version",
    ):
        if name in changes:
            columns[name] = changes[name]
    given_as: dict[str, str] = {}
    for column, raw, rendered in (
        ("raw_content", "raw_content", "content"),
        ("raw_callback_url", "raw_callback_url", "callback_url"),
    ):
        given = raw if raw in changes else rendered if rendered in changes else None
        if given is not None:
            columns[column] = stored_text(changes[given])
            given_as[column] = given
    if "callback_content" in changes:
        columns["callback_content"] = stored_text(changes["callback_content"])
    for name, value in columns.items():
        _check(problems, name, value, field_name=given_as.get(name, name))
    if "raw_callback_url" in columns:
        _check_callback_url(
            problems,
            columns["raw_callback_url"],
            callback_hosts,
            field_name=given_as["raw_callback_url"],
        )

    template = None
    if "template" in changes:
        template = resolve_templates(session, [changes["template"]]).get(changes["template"])
        if template is None:
            problems.add(
                "template", f"Template {changes['template']!r} does not exist", not_found=True
            )
    if "template" in changes or "raw_content" in columns:
        effective = template if "template" in changes else task.template
        if effective is not None:
            content = changes.get("content")
            parsed = content if isinstance(content, dict) and "raw_content" not in changes else None
            _TemplateScans(scan_check).check(
                problems, effective, columns.get("raw_content", task.raw_content), parsed
            )

    tags = None
    if "tags" in changes:
        if len(changes["tags"]) > TAGS_PER_TASK_MAX:
            problems.add(
                "tags", f"At most {TAGS_PER_TASK_MAX} tags per task, got {len(changes['tags'])}"
            )
            return _Edits(columns, template, tags)
        names = [ref for ref in changes["tags"] if _is_tag_name(ref)]
        for name in names:
            _check_tag_name(problems, name)
        others = [ref for ref in changes["tags"] if not _is_tag_name(ref)]
        known = resolve_tags(session, others)
        for ref in others:
            if ref not in known:
                problems.add("tags", f"Tag {ref!r} does not exist", not_found=True)
        if not problems:
            created = _tags_by_name(session, names)
            by_id = {tag.id: tag for tag in [*created.values(), *known.values()]}
            tags = [by_id[key] for key in sorted(by_id)]
    return _Edits(columns, template, tags)


def _apply_edits(session: Session, task: Task, edits: _Edits, actor: User) -> None:
    detail: dict[str, Any] = {}
    for name, value in edits.columns.items():
        old = getattr(task, name)
        if old != value:
            detail[name] = (
                {"old": old, "new": value} if name != "raw_content" else {"changed": True}
            )
            setattr(task, name, value)
    if edits.template is not None and edits.template.id != task.template_id:
        detail["template"] = {"old": task.template.label, "new": edits.template.label}
        task.template = edits.template
    if edits.tags is not None:
        old_names = [tag.name for tag in task.tags]
        new_names = [tag.name for tag in edits.tags]
        if old_names != new_names:
            detail["tags"] = {"old": old_names, "new": new_names}
            task.tags = edits.tags
    if detail:
        task.update_time = utcnow()
        history.record(session, task_id=task.id, actor=actor, action="edit", detail=detail)


def _reassign(
    session: Session,
    task: Task,
    users: list[User] | None,
    groups: list[Group] | None,
    actor: User,
) -> None:
    old = _assignment_detail(task.users, task.groups)
    if users is not None:
        task.users = users
    if groups is not None:
        task.groups = groups
    new = _assignment_detail(task.users, task.groups)
    if new != old:
        task.update_time = utcnow()
        history.record(
            session, task_id=task.id, actor=actor, action="assign", detail={"old": old, "new": new}
        )


def _lock_or_raise(session: Session, task: Task) -> None:
    """Lock the task's row for the rest of the transaction; NotFound when it was deleted.

    A change then waits for a concurrent change or deletion of the task to end, and finds the
    task gone here rather than as a row missing when its changes are flushed.
    """
    query = select(Task.id).where(Task.id == task.id).with_for_update(key_share=True)
    if session.execute(query).first() is None:
        raise NotFound(f"Task {task.id} does not exist", field="task")


def set_status(
    session: Session,
    *,
    task: Task,
    status: str,
    actor: User | None,
    release_lock: bool = True,
) -> bool:
    """Move a task to `status` once: concurrent requests for the same change make one transition.

    Done records who finished it, writes the callback to the outbox and, with `release_lock`
    (TASKMAN_DONE_RELEASES_LOCK), releases the lock. Returns whether the status changed.
    """
    for _attempt in range(3):
        # A locking read: waits for a concurrent change of this task and then sees its result.
        current = session.execute(
            select(Task.status, Task.lock_id).where(Task.id == task.id).with_for_update()
        ).one_or_none()
        if current is None:
            raise NotFound(f"Task {task.id} does not exist", field="task")
        old_status, lock_id = current
        if old_status == status:
            set_committed_value(task, "status", status)
            return False
        now = utcnow()
        values: dict[str, Any] = {"status": status, "update_time": now}
        done = status == "done"
        if done:
            values.update(done_by_id=actor.id if actor else None, done_time=now)
            if release_lock:
                values.update(lock_id=None, lock_time=None)
        # Only the request that still sees the old status makes the transition.
        result = session.execute(
            # The table, not the entity: the ORM's bulk-update layer cost more than the SQL.
            sql_update(cast(Table, Task.__table__))
            .where(Task.id == task.id, Task.status == old_status)
            .values(**values)
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            break
    else:
        raise Conflict(
            "The task's status keeps changing under this request; read it and retry",
            field="status",
        )
    for name, value in values.items():
        set_committed_value(task, name, value)
    for name in ("lock", "done_by"):
        if f"{name}_id" in values:
            session.expire(task, [name])
    entries: list[tuple[int, str, dict[str, Any] | None]] = [
        (task.id, "status", {"old": old_status, "new": status})
    ]
    if done and release_lock and lock_id is not None:
        # Named like every unlock entry (by username), with why it was released.
        holder = session.scalar(select(User.username).where(User.id == lock_id))
        entries.append((task.id, "unlock", {"user": holder, "reason": "done"}))
    history.record_many(session, entries=entries, actor=actor)
    if done:
        meta_values = rendering.values_for(session, task.raw_callback_url)
        url = rendering.render_optional(task.raw_callback_url, meta_values)
        callbacks.enqueue_for_task(session, task=task, rendered_url=url)
    taskgroups.on_task_status_changed(session, task=task, old_status=old_status, actor=actor)
    return True


def mark_done(
    session: Session, *, task: Task, actor: User | None, release_lock: bool = True
) -> bool:
    """Set the task done (see `set_status`)."""
    return set_status(session, task=task, status="done", actor=actor, release_lock=release_lock)


def delete(session: Session, *, task: Task) -> None:
    """Remove a task with its links and history (callback rows stay, detached)."""
    result = session.execute(
        sql_delete(Task).where(Task.id == task.id).execution_options(synchronize_session=False)
    )
    session.expunge(task)
    if not result.rowcount:  # type: ignore[attr-defined]
        raise NotFound(f"Task {task.id} does not exist", field="task")
