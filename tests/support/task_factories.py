"""Building blocks for task tests: users with roles, groups, templates, meta values, tasks."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from flask_security.utils import hash_password
from sqlalchemy.orm import Session

from taskmanager.models import Group, Meta, MetaHistory, Task, TaskTemplate, User, utcnow
from taskmanager.services.accounts import users
from taskmanager.services.tasks import creation

PASSWORD = "secret-pass"
_password_hashes: dict[str, str] = {}


def _password_hash() -> str:
    """Hashing is slow on purpose; tests hash the one password once."""
    if PASSWORD not in _password_hashes:
        _password_hashes[PASSWORD] = hash_password(PASSWORD)
    return _password_hashes[PASSWORD]


def make_user(
    session: Session,
    username: str,
    *,
    roles: Sequence[str] = ("user",),
    weight: float = 1.0,
    active: bool = True,
) -> User:
    user = users.create(
        session,
        username=username,
        password=None,
        email=f"{username}@example.org",
        roles=roles,
        assignment_weight=weight,
        active=active,
    )
    user.password = _password_hash()
    return user


def make_group(session: Session, groupname: str, members: Iterable[User] = ()) -> Group:
    group = Group(groupname=groupname, name=groupname.title(), create_time=utcnow())
    group.users.extend(members)
    session.add(group)
    session.flush()
    return group


def make_template(session: Session, label: str = "tpl", content: Any = None) -> TaskTemplate:
    text = content if isinstance(content, str) else json.dumps(content or {"template_name": label})
    template = TaskTemplate(label=label, content=text)
    session.add(template)
    session.flush()
    return template


def set_meta(session: Session, label: str, value: str, at: datetime | None = None) -> Meta:
    """Set a meta value the way the meta service does: the row and a history entry."""
    meta = session.query(Meta).filter_by(label=label).one_or_none()
    if meta is None:
        meta = Meta(label=label, value=value)
        session.add(meta)
    meta.value = value
    session.flush()
    session.add(MetaHistory(meta_id=meta.id, value=value, timestamp=at or utcnow()))
    session.flush()
    return meta


def make_task(
    session: Session,
    *,
    template: TaskTemplate | str = "tpl",
    actor: User | None = None,
    **fields: Any,
) -> Task:
    label = template.label if isinstance(template, TaskTemplate) else template
    fields.setdefault("project", "proj")
    fields.setdefault("content", {"template": label})
    if not fields.get("users") and not fields.get("groups"):
        fields.setdefault("users", ["admin"])
    return creation.create(session, spec=creation.NewTask(template=label, **fields), actor=actor)


def build_world(session: Session, admin: User) -> dict[str, Any]:
    """alice has t1 directly and t2 via her group; bob has t3; admin has t4 (tagged y)."""
    make_template(session, "tpl")
    make_template(session, "other")
    alice = make_user(session, "alice")
    bob = make_user(session, "bob")
    superuser = make_user(session, "sue", roles=["superuser"])
    make_group(session, "team", [alice])
    t1 = make_task(session, users=["alice"], tags=["x", "y"], project="p1")
    t2 = make_task(session, groups=["team"], tags=["x"], project="p2", application_name="viewr")
    t3 = make_task(session, users=["bob"], template="other", project="p1")
    t4 = make_task(session, users=["admin"], tags=["y"], project="p2")
    session.flush()
    return {
        "admin": admin,
        "alice": alice,
        "bob": bob,
        "sue": superuser,
        "tasks": [t1.id, t2.id, t3.id, t4.id],
    }
