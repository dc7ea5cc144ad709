from collections import Counter

import pytest
from sqlalchemy import select

from taskmanager.models import Task, User
from taskmanager.services.kit.errors import InvalidInput
from taskmanager.services.tasks import assignment

from ...support import rows
from ...support.task_factories import make_group, make_user


def _shares(chosen: list[User]) -> dict[str, float]:
    counts = Counter(user.username for user in chosen)
    return {name: count / len(chosen) for name, count in counts.items()}


def test_shares_follow_weights_and_skip_weight_zero_and_inactive(session) -> None:
    members = [
        make_user(session, "w1a", weight=1),
        make_user(session, "w1b", weight=1),
        make_user(session, "w05", weight=0.5),
        make_user(session, "w0", weight=0),
        make_user(session, "gone", weight=1, active=False),
    ]
    team = make_group(session, "team", members)
    chosen = assignment.choose(session, group=team, count=3000)
    assert _shares(chosen) == {"w1a": 0.4, "w1b": 0.4, "w05": 0.2}


def test_an_account_that_may_not_sign_in_is_never_chosen(app, session) -> None:
    """With e-mail confirmation on (the default), an unconfirmed account cannot sign in, so it
    gets no work by weight, however large; once confirmation is off, it may."""
    confirmed = make_user(session, "confirmed", weight=1)
    pending = make_user(session, "pending", weight=5)
    pending.confirmed_at = None
    team = make_group(session, "team", [confirmed, pending])
    assert {user.username for user in assignment.choose(session, group=team, count=50)} == {
        "confirmed"
    }
    assert "pending" not in {user.username for user in assignment.choose(session, count=50)}
    app.config["SECURITY_CONFIRMABLE"] = False
    try:
        assert "pending" in {u.username for u in assignment.choose(session, group=team, count=50)}
    finally:
        app.config["SECURITY_CONFIRMABLE"] = True


def test_one_choice_at_a_time_is_as_proportional_as_a_batch(session) -> None:
    heavy = make_user(session, "heavy", weight=1)
    light = make_user(session, "light", weight=0.1)
    team = make_group(session, "team", [heavy, light])
    chosen = [assignment.choose(session, group=team)[0] for _ in range(1100)]
    assert Counter(user.username for user in chosen) == {"heavy": 1000, "light": 100}


def test_ties_go_to_the_lowest_id_and_the_rotation_is_deterministic(session) -> None:
    first = make_user(session, "first")
    second = make_user(session, "second")
    team = make_group(session, "team", [second, first])
    chosen = [user.username for user in assignment.choose(session, group=team, count=4)]
    assert chosen == ["first", "second", "first", "second"]


def test_without_group_all_eligible_users_are_candidates(session) -> None:
    # The onboarded admin (weight 1) is a candidate too.
    make_user(session, "u1")
    make_user(session, "u0", weight=0)
    chosen = assignment.choose(session, count=4)
    assert sorted(user.username for user in chosen) == ["admin", "admin", "u1", "u1"]


def test_newcomer_joins_the_rotation_instead_of_taking_everything(session) -> None:
    old = make_user(session, "old")
    team = make_group(session, "team", [old])
    assignment.choose(session, group=team, count=500)
    team.users.append(make_user(session, "new"))
    session.flush()
    chosen = [user.username for user in assignment.choose(session, group=team, count=10)]
    assert Counter(chosen) == {"old": 5, "new": 5}


def test_same_weighs_every_task_and_unique_needs_enough_users(session) -> None:
    a = make_user(session, "a")
    b = make_user(session, "b")
    team = make_group(session, "team", [a, b])
    same = assignment.choose(session, group=team, count=3, method="same")
    assert [user.username for user in same] == ["a", "a", "a"]
    # a was given 3 tasks: b now gets the next three single choices but one.
    following = [user.username for user in assignment.choose(session, group=team, count=4)]
    assert following == ["b", "b", "b", "a"]
    unique = assignment.choose(session, group=team, count=2, method="unique")
    assert sorted(user.username for user in unique) == ["a", "b"]
    with pytest.raises(InvalidInput) as refused:
        assignment.choose(session, group=team, count=3, method="unique")
    assert "distribute_method" in refused.value.errors


def test_no_eligible_user_is_refused(session) -> None:
    idle = make_user(session, "idle", weight=0)
    team = make_group(session, "team", [idle])
    with pytest.raises(InvalidInput) as refused:
        assignment.choose(session, group=team)
    assert "distribute_in_group" in refused.value.errors


def test_assign_automatically_adds_the_chosen_user_to_each_task(session) -> None:
    a = make_user(session, "a")
    b = make_user(session, "b")
    team = make_group(session, "team", [a, b])
    new_tasks = [session.get_one(Task, task_id) for task_id in rows.tasks(session, 2)]
    chosen = assignment.assign_automatically(session, tasks=new_tasks, group=team)
    assert [user.username for user in chosen] == ["a", "b"]
    session.expire_all()
    stored = session.scalars(select(Task).order_by(Task.id)).all()
    assert [[user.username for user in task.users] for task in stored] == [["a"], ["b"]]
