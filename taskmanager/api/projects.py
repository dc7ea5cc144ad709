"""Project routes: a project's policy (who may get which of its tasks, how many, in what order)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..models import db
from ..services.tasks import policy
from . import bodies, v1
from .auth import caller, login_required
from .bodies import Body

TAGS = ["Projects"]

_DISTINCT = "A reader never gets two tasks of one subject"
_WASHOUT = (
    "Without distinct_readers: a reader gets a task of a subject again only this many days "
    "after their last one (0 to 3650; null or 0: no wait)"
)
_CONSISTENT = "Every task of a series goes to the reader who got its first one"
_MAX_OPEN = (
    "A reader holding this many open tasks of the project (assigned by name or locked) gets no "
    "more (null: no cap)"
)
_BALANCE = "Automatic assignment shares out task counts (`count`) or their effort (`effort`)"
_PRIORITY = (
    "Claims from the project and its task list go by priority (highest first), then due date, "
    "then id"
)


class PolicyIn(Body):
    """The fields to change; those left out keep their value."""

    model_config = ConfigDict(extra="forbid", strict=True)

    distinct_readers: bool | None = Field(None, description=_DISTINCT)
    washout_days: int | None = Field(None, description=_WASHOUT)
    consistent_series: bool | None = Field(None, description=_CONSISTENT)
    max_open_per_user: int | None = Field(None, description=_MAX_OPEN)
    balance_by: str | None = Field(None, description=_BALANCE)
    priority_order: bool | None = Field(None, description=_PRIORITY)


class PolicyOut(BaseModel):
    project: str
    distinct_readers: bool = Field(description=_DISTINCT)
    washout_days: int | None = Field(description=_WASHOUT)
    consistent_series: bool = Field(description=_CONSISTENT)
    max_open_per_user: int | None = Field(description=_MAX_OPEN)
    balance_by: str = Field(description=_BALANCE)
    priority_order: bool = Field(description=_PRIORITY)


POLICY_EXAMPLE = {
    "project": "liver-study",
    "distinct_readers": True,
    "washout_days": None,
    "consistent_series": True,
    "max_open_per_user": 20,
    "balance_by": "effort",
    "priority_order": True,
}


@v1.get("/projects/<path:project>/policy")
@v1.output(PolicyOut, example=POLICY_EXAMPLE)
@v1.doc(
    summary="A project's policy",
    description="Any signed-in user may read it (a project name with `/` is given as is). A project without one answers the defaults "
    "(no rules: tasks are handed out as they always were).",
    tags=TAGS,
)
@login_required
def get_project_policy(project: str) -> dict[str, Any]:
    return policy.get(db.session, project).as_dict()


@v1.put("/projects/<path:project>/policy")
@bodies.input(
    PolicyIn, arg_name="body", example={"distinct_readers": True, "max_open_per_user": 20}
)
@v1.output(PolicyOut, example=POLICY_EXAMPLE)
@v1.doc(
    summary="Set a project's policy",
    description="Admins and superusers only (403 otherwise). Fields left out keep their value; "
    "`washout_days` and `max_open_per_user` are cleared with null. The rules bind automatic "
    "assignment and claims from then on (tasks handed out before count: their readers are "
    "recorded); tasks assigned by name are not refused. A bad value answers 400 naming the "
    "field. Answers the policy as it now stands.",
    tags=TAGS,
    responses={200: "The policy", 400: "Invalid input", 403: "Not allowed"},
)
@login_required
def update_project_policy(project: str, body: PolicyIn) -> dict[str, Any]:
    # null for a flag or balance_by is refused by the policy's own checks (400 naming it).
    changed = policy.put(db.session, project, body.model_dump(exclude_unset=True), caller())
    db.session.commit()
    return changed.as_dict()
