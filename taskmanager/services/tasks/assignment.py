"""Who gets a task that names no users or groups: weighted stride scheduling.

Every user carries an `assignment_pass`: the virtual time at which they are next due work, which
grows by 1/weight per task they are given. The next task goes to the candidate with the lowest
pass (lowest id on a tie), so over a run each user's share is proportional to their weight.
`assignment_start` keeps the virtual time at which a user's latest work was given; the latest
of these among the candidates is the current virtual time, and a candidate whose pass fell behind
it (new, reactivated, or left out for a while) is lifted to it, so they join the rotation instead
of receiving everything until they catch up.

The choice reads and writes a few user rows and never looks at tasks. Concurrent choices are
serialised by the database: row locks on the candidate users (always all positively
weighted users who may sign in, in id order, so two choices never lock in conflicting orders), or on SQLite the
single writer, taken before the pass values are read.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ...models import Group, Task, User, group_membership, utcnow
from ..accounts.authentication import may_sign_in_condition
from ..kit.errors import Conflict, InvalidInput
from . import policy, readers


def take_write_lock(session: Session) -> None:
    """On SQLite, become the single writer now, so what is read next stays current until commit."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(
            update(User).where(User.id.is_(None)).values(active=User.active),
            execution_options={"synchronize_session": False},
        )


def lock_reader(session: Session, user_id: int) -> None:
    """Hold the user's row until the transaction ends: their claims and the automatic
    assignments that may choose them take turns (and on SQLite, become the writer now)."""
    take_write_lock(session)
    session.execute(
        select(User.id).where(User.id == user_id).with_for_update(key_share=True)
    ).first()


def _locked_candidates(
    session: Session, group: Group | None
) -> dict[int, tuple[float, float, float]]:
    """Lock the eligible users; {user id: (weight, pass, start)} of the candidates."""
    take_write_lock(session)
    rows = session.execute(
        select(User.id, User.assignment_weight, User.assignment_pass, User.assignment_start)
        .where(may_sign_in_condition(), User.assignment_weight > 0)
        .order_by(User.id)
        # NO KEY UPDATE on PostgreSQL: does not wait for inserts that merely reference the user.
        .with_for_update(key_share=True)
    ).all()
    eligible = {row.id: (row[1], row[2], row[3]) for row in rows}
    if group is not None:
        members: set[int] = set(
            session.scalars(
                select(group_membership.c.user_id).where(group_membership.c.group_id == group.id)
            )
        )
        eligible = {user_id: value for user_id, value in eligible.items() if user_id in members}
    return eligible


METHODS = ("each", "same", "unique")


def choose(
    session: Session, *, group: Group | None = None, count: int = 1, method: str = "each"
) -> list[User]:
    """Pick the users for `count` tasks by weight, among `group`'s members or else all users.

    `each`: one choice per task; `same`: one user for all of them; `unique`: a different user for
    each (InvalidInput when there are too few eligible users).
    """
    if count <= 0:
        return []
    candidates = _locked_candidates(session, group)
    _check_any(candidates, group)
    where = _where(group)
    if method == "unique" and count > len(candidates):
        raise InvalidInput(
            f"{count} tasks need {count} different users, but only {len(candidates)} active "
            f"users with an assignment weight above 0 are {where}",
            field="distribute_method",
        )
    strides, passes = _strides_and_passes(candidates)
    starts: dict[int, float] = {}
    chosen: list[int] = []
    for _ in range(1 if method == "same" else count):
        pool = [uid for uid in passes if not (method == "unique" and uid in chosen)]
        user_id = min(pool, key=lambda uid: (passes[uid], uid))
        starts[user_id] = passes[user_id]
        passes[user_id] += strides[user_id] * (count if method == "same" else 1)
        chosen.append(user_id)
    users = _store_passes(session, passes, starts, chosen)
    if method == "same":
        chosen *= count
    return [users[user_id] for user_id in chosen]


def _where(group: Group | None) -> str:
    return f"in group {group.groupname!r}" if group is not None else "available"


def _check_any(candidates: dict[int, tuple[float, float, float]], group: Group | None) -> None:
    if not candidates:
        raise InvalidInput(
            f"No active user with an assignment weight above 0 is {_where(group)} to assign "
            "tasks to",
            field="distribute_in_group" if group is not None else "users",
        )


def _strides_and_passes(
    candidates: dict[int, tuple[float, float, float]],
) -> tuple[dict[int, float], dict[int, float]]:
    """Each candidate's stride (1/weight), and their pass lifted to the current virtual time."""
    strides = {user_id: 1.0 / weight for user_id, (weight, _p, _s) in candidates.items()}
    now = max(start for _weight, _pass, start in candidates.values())
    passes = {user_id: max(pass_, now) for user_id, (_w, pass_, _s) in candidates.items()}
    return strides, passes


def _store_passes(
    session: Session, passes: dict[int, float], starts: dict[int, float], chosen: list[int]
) -> dict[int, User]:
    """Write the chosen users' new passes; the chosen users by id."""
    session.execute(
        update(User),
        [
            {"id": user_id, "assignment_pass": passes[user_id], "assignment_start": start}
            for user_id, start in starts.items()
        ],
    )
    return {user.id: user for user in session.scalars(select(User).where(User.id.in_(chosen)))}


@dataclass
class _Known:
    """What the policies need to know of the readers, kept up to date as a batch is shared out."""

    series: dict[tuple[str, str], int] = field(default_factory=dict)
    subjects: dict[tuple[str, str], dict[int, datetime]] = field(default_factory=dict)
    held: dict[str, dict[int, int]] = field(default_factory=dict)


def _known(
    session: Session, tasks: Sequence[Task], policies: dict[str, policy.Policy], users: list[int]
) -> _Known:
    known = _Known()
    by_project: dict[str, list[Task]] = defaultdict(list)
    for task in tasks:
        if task.project in policies:
            by_project[task.project].append(task)
    for project, project_tasks in by_project.items():
        rules = policies[project]
        if rules.consistent_series:
            owners = readers.series_owners(session, project, _keys(project_tasks, "series"))
            known.series.update(((project, key), user_id) for key, user_id in owners.items())
        if rules.subject_rule:
            times = readers.subject_times(session, project, _keys(project_tasks, "subject"))
            known.subjects.update(((project, key), value) for key, value in times.items())
        if rules.max_open_per_user is not None:
            known.held[project] = readers.open_held(session, project, users)
    return known


def _keys(tasks: Sequence[Task], name: str) -> set[str]:
    return {value for task in tasks if (value := getattr(task, name)) is not None}


def _eligible(
    session: Session,
    task: Task,
    rules: policy.Policy | None,
    candidates: Sequence[int],
    known: _Known,
    now: datetime,
) -> list[int]:
    """The candidates the task's project policy lets have it (InvalidInput when none)."""
    pool = list(candidates)
    if rules is None:
        return pool
    if rules.consistent_series and task.series is not None:
        owner = known.series.get((task.project, task.series))
        if owner is not None:
            if owner not in candidates:
                name = session.scalar(select(User.username).where(User.id == owner))
                raise InvalidInput(
                    f"Series {task.series!r} of project {task.project!r} belongs to {name!r}, "
                    "who is not among the users it could be assigned to (consistent_series)",
                    field="series",
                )
            pool = [owner]
    if rules.subject_rule and task.subject is not None:
        last = known.subjects.get((task.project, task.subject), {})
        cutoff = rules.subject_cutoff(now)
        pool = [u for u in pool if u not in last or (cutoff is not None and last[u] <= cutoff)]
        if not pool:
            raise InvalidInput(_refusal(task, rules), field="subject")
    if rules.max_open_per_user is not None:
        held = known.held[task.project]
        pool = [u for u in pool if held.get(u, 0) < rules.max_open_per_user]
        if not pool:
            raise InvalidInput(
                f"Every user who could get a task of project {task.project!r} holds "
                f"{rules.max_open_per_user} open tasks of it already (max_open_per_user)",
                field="max_open_per_user",
            )
    return pool


def _refusal(task: Task, rules: policy.Policy) -> str:
    if rules.distinct_readers:
        why = "every user who could get it has a task of that subject already (distinct_readers)"
    else:
        why = (
            f"every user who could get it had one of that subject in the last "
            f"{rules.washout_days} days (washout_days)"
        )
    return f"No user may get a task of subject {task.subject!r} in project {task.project!r}: {why}"


def _note(
    known: _Known, task: Task, rules: policy.Policy | None, user_id: int, now: datetime
) -> None:
    """Count the task as given to the user, for the batch's next choices."""
    if rules is None:
        return
    if rules.consistent_series and task.series is not None:
        known.series.setdefault((task.project, task.series), user_id)
    if rules.subject_rule and task.subject is not None:
        known.subjects.setdefault((task.project, task.subject), {})[user_id] = now
    if rules.max_open_per_user is not None:
        held = known.held[task.project]
        held[user_id] = held.get(user_id, 0) + 1


def choose_within_policies(
    session: Session,
    *,
    tasks: Sequence[Task],
    group: Group | None,
    policies: dict[str, policy.Policy],
) -> list[User]:
    """One user per task by weight, as `choose` does, among those the tasks' project policies
    allow; with balance_by effort, a task advances its user's pass by its effort."""
    candidates = _locked_candidates(session, group)
    _check_any(candidates, group)
    strides, passes = _strides_and_passes(candidates)
    now = utcnow()
    known = _known(session, tasks, policies, list(candidates))
    starts: dict[int, float] = {}
    chosen: list[int] = []
    for task in tasks:
        rules = policies.get(task.project)
        pool = _eligible(session, task, rules, list(candidates), known, now)
        user_id = min(pool, key=lambda uid: (passes[uid], uid))
        starts.setdefault(user_id, passes[user_id])
        share = task.effort if rules is not None and rules.balance_by == "effort" else 1.0
        passes[user_id] += strides[user_id] * share
        _note(known, task, rules, user_id, now)
        chosen.append(user_id)
    _record_readers(session, tasks, chosen, policies, now)
    users = _store_passes(session, passes, starts, chosen)
    return [users[user_id] for user_id in chosen]


def _record_readers(
    session: Session,
    tasks: Sequence[Task],
    chosen: list[int],
    policies: dict[str, policy.Policy],
    now: datetime,
) -> None:
    """Write the ledgers; a concurrent request that recorded another reader first (one that did
    not wait for the same users' rows) makes this one fail rather than break a rule."""
    subjects: set[tuple[str, str, int]] = set()
    series: set[tuple[str, str, int]] = set()
    for task, user_id in zip(tasks, chosen, strict=True):
        rules = policies.get(task.project)
        if rules is not None and rules.subject_rule and task.subject is not None:
            subjects.add((task.project, task.subject, user_id))
        if rules is not None and rules.consistent_series and task.series is not None:
            series.add((task.project, task.series, user_id))
    taken = all(readers.take_series(session, *key, now) for key in sorted(series)) and all(
        readers.take_subject(
            session, project, subject, user_id, now, cutoff=policies[project].subject_cutoff(now)
        )
        for project, subject, user_id in sorted(subjects)
    )
    if not taken:
        raise Conflict(
            "Another request gave out tasks of the same subjects or series meanwhile; try again",
            field="policy",
        )


def assign_automatically(
    session: Session, *, tasks: Sequence[Task], group: Group | None = None
) -> list[User]:
    """Give each task one user, chosen by weight among `group`'s members or else all users,
    within the rules of the tasks' project policies (services/tasks/policy.py)."""
    if not tasks:
        return []
    policies = policy.of_projects(session, {task.project for task in tasks})
    if policies:
        chosen = choose_within_policies(session, tasks=tasks, group=group, policies=policies)
    else:
        chosen = choose(session, group=group, count=len(tasks))
    for task, user in zip(tasks, chosen, strict=True):
        task.users.append(user)
    session.flush()
    return chosen
