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

from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ...models import Group, Task, User, group_membership
from ..accounts.authentication import may_sign_in_condition
from ..kit.errors import InvalidInput


def take_write_lock(session: Session) -> None:
    """On SQLite, become the single writer now, so what is read next stays current until commit."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(
            update(User).where(User.id.is_(None)).values(active=User.active),
            execution_options={"synchronize_session": False},
        )


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
    where = f"in group {group.groupname!r}" if group is not None else "available"
    if not candidates:
        raise InvalidInput(
            f"No active user with an assignment weight above 0 is {where} to assign tasks to",
            field="distribute_in_group" if group is not None else "users",
        )
    if method == "unique" and count > len(candidates):
        raise InvalidInput(
            f"{count} tasks need {count} different users, but only {len(candidates)} active "
            f"users with an assignment weight above 0 are {where}",
            field="distribute_method",
        )
    strides = {user_id: 1.0 / weight for user_id, (weight, _p, _s) in candidates.items()}
    now = max(start for _weight, _pass, start in candidates.values())
    passes = {user_id: max(pass_, now) for user_id, (_w, pass_, _s) in candidates.items()}
    starts: dict[int, float] = {}
    chosen: list[int] = []
    for _ in range(1 if method == "same" else count):
        pool = [uid for uid in passes if not (method == "unique" and uid in chosen)]
        user_id = min(pool, key=lambda uid: (passes[uid], uid))
        starts[user_id] = passes[user_id]
        passes[user_id] += strides[user_id] * (count if method == "same" else 1)
        chosen.append(user_id)
    session.execute(
        update(User),
        [
            {"id": user_id, "assignment_pass": passes[user_id], "assignment_start": start}
            for user_id, start in starts.items()
        ],
    )
    users = {user.id: user for user in session.scalars(select(User).where(User.id.in_(chosen)))}
    if method == "same":
        chosen *= count
    return [users[user_id] for user_id in chosen]


def assign_automatically(
    session: Session, *, tasks: Sequence[Task], group: Group | None = None
) -> list[User]:
    """Give each task one user, chosen by weight among `group`'s members or else all users."""
    if not tasks:
        return []
    chosen = choose(session, group=group, count=len(tasks))
    for task, user in zip(tasks, chosen, strict=True):
        task.users.append(user)
    session.flush()
    return chosen
