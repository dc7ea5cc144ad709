"""Scheduling in the web UI (issue 20): a task's scheduling fields on its page and edit form, a
project's policy section and form, and a bulk distribution among a group's members that shows
each user's share before anything changes."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update

from taskmanager.models import Task, TaskHistory, User
from taskmanager.services.accounts import groups
from taskmanager.services.tasks import policy

from .conftest import csrf_token_from, database
from .seed import World
from .test_pages import get_ok, login, post_form


def _words(page: str) -> str:
    """The page's text as read: tags and runs of white space as one space, entities decoded."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def _set(client: Any, task_ids: list[int], **values: Any) -> None:
    with database(client.application) as session:
        session.execute(update(Task).where(Task.id.in_(task_ids)).values(**values))
        session.commit()


def _policy(client: Any, project: str) -> policy.Policy:
    with database(client.application) as session:
        return policy.get(session, project)


def _field_errors(page: str, field_id: str) -> list[str]:
    """The error lines shown in the form field holding the input `field_id`."""
    match = re.search(
        rf'<div class="field[^"]*">(?:(?!</div>).)*id="{field_id}"(?:(?!</div>).)*</div>',
        page,
        re.S,
    )
    assert match, f"no field {field_id} on the page"
    return [html.unescape(e) for e in re.findall(r'<p class="error">([^<]*)</p>', match.group(0))]


# --- the policy section of the project page ----------------------------------------------------

POLICY_PAGE = "/projects/brain-study"
POLICY_URL = "/projects/brain-study/policy"


def test_an_admin_saves_the_policy_and_the_page_shows_it(client: Any, world: World) -> None:
    login(client, "admin", "admin")
    raw = get_ok(client, POLICY_PAGE)
    page = _words(raw)
    assert "Policy" in page and "Distinct readers no" in page and "no cap" in page
    assert 'id="policy-form"' in raw
    response = post_form(
        client,
        POLICY_URL,
        {
            "distinct_readers": "y",
            "washout_days": "",
            "max_open_per_user": "5",
            "balance_by": "effort",
            "priority_order": "y",
        },
        page=POLICY_PAGE,
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.headers["Location"] == "/projects/brain-study#policy"
    response.close()
    assert _policy(client, "brain-study") == policy.Policy(
        "brain-study",
        distinct_readers=True,
        max_open_per_user=5,
        balance_by="effort",
        priority_order=True,
    )
    raw = get_ok(client, POLICY_PAGE)
    shown = _words(raw)
    assert "The policy of brain-study is saved." in shown
    assert "Distinct readers yes: a reader never gets two tasks of one subject" in shown
    assert "Most open tasks per reader 5" in shown and "Balance by effort" in shown
    # The form starts from the policy as it stands.
    assert re.search(r'id="max_open_per_user"[^>]*value="5"', raw)
    # Another project keeps its own (none).
    assert _policy(client, "heart-study") == policy.Policy("heart-study")


def test_a_superuser_may_change_the_policy_too(client: Any, world: World) -> None:
    login(client, "manager")
    response = post_form(
        client,
        POLICY_URL,
        {"washout_days": "30", "balance_by": "count", "consistent_series": "y"},
        page=POLICY_PAGE,
    )
    assert response.status_code == 302
    response.close()
    saved = _policy(client, "brain-study")
    assert (saved.washout_days, saved.consistent_series, saved.distinct_readers) == (
        30,
        True,
        False,
    )


def test_bad_policy_values_are_refused_next_to_their_field(client: Any, world: World) -> None:
    login(client, "admin", "admin")
    cases = [
        # The service refuses the combination and names the field.
        (
            {"distinct_readers": "y", "washout_days": "30", "balance_by": "count"},
            "washout_days",
            "washout_days applies when a reader may read a subject again",
        ),
        ({"max_open_per_user": "0", "balance_by": "count"}, "max_open_per_user", "between 1 and"),
        ({"washout_days": "soon", "balance_by": "count"}, "washout_days", "Not a valid integer"),
        ({"balance_by": "speed"}, "balance_by", "Not a valid choice"),
    ]
    for data, field, message in cases:
        response = post_form(client, POLICY_URL, data, page=POLICY_PAGE)
        page = response.get_data(as_text=True)
        response.close()
        assert response.status_code == 200, (data, page[:500])
        errors = _field_errors(page, field)
        assert any(message in error for error in errors), (data, errors)
        # The form stays open with what was sent, and nothing is stored.
        assert '<details class="policy-edit" open>' in page
    assert _policy(client, "brain-study") == policy.Policy("brain-study")


def test_plain_users_see_the_policy_but_may_not_change_it(client: Any, world: World) -> None:
    login(client, "admin", "admin")
    post_form(
        client,
        "/projects/heart-study/policy",
        {"distinct_readers": "y", "balance_by": "count"},
        page="/projects/heart-study",
    ).close()
    client.get("/logout").close()
    login(client, "bob")
    raw = get_ok(client, "/projects/heart-study")
    page = _words(raw)
    assert "Distinct readers yes" in page
    assert 'id="policy-form"' not in raw and "Change the policy" not in page
    response = client.post(
        "/projects/heart-study/policy",
        data={"csrf_token": csrf_token_from(raw), "distinct_readers": "", "balance_by": "effort"},
    )
    assert response.status_code == 403
    response.close()
    assert _policy(client, "heart-study").distinct_readers is True
    assert _policy(client, "heart-study").balance_by == "count"


# --- the task page and its edit form ----------------------------------------------------------


def test_the_task_page_shows_scheduling_and_says_overdue_in_words(
    client: Any, world: World
) -> None:
    late, later, finished = world.tasks[0].id, world.tasks[2].id, world.tasks[1].id
    past = datetime.now(UTC) - timedelta(days=2)
    _set(
        client,
        [late],
        subject="patient-17",
        series="T1-baseline",
        priority=7,
        due=past,
        effort=2.5,
    )
    _set(client, [later], due=datetime.now(UTC) + timedelta(days=3))
    _set(client, [finished], due=past)
    login(client, "admin", "admin")
    page = _words(get_ok(client, f"/tasks/{late}"))
    assert "Subject patient-17" in page and "Series T1-baseline" in page
    assert "Priority 7" in page and "Effort 2.5" in page
    assert f"Due {past:%Y-%m-%d %H:%M} UTC overdue" in page
    assert f"Overdue: it was due {past:%Y-%m-%d %H:%M} UTC." in page
    # Due later, or done already: not overdue.
    for task_id in (later, finished):
        shown = _words(get_ok(client, f"/tasks/{task_id}"))
        assert "overdue" not in shown.lower(), task_id
    plain = _words(get_ok(client, f"/tasks/{world.tasks[3].id}"))
    assert "Subject none" in plain and "Due no due date" in plain and "Effort 1 " in plain


def test_a_waiting_task_says_what_it_waits_for_and_why(client: Any, world: World) -> None:
    task_id = world.tasks[4].id
    url = "http://pacs.example.org/studies/17"
    _set(
        client,
        [task_id],
        status="waiting",
        wait_for=url,
        wait_detail="GET answered 404 at 2026-12-06 15:00 UTC",
        wait_attempts=3,
        wait_checked_time=datetime(2026, 12, 6, 15, 0, tzinfo=UTC),
    )
    login(client, "bob")  # his through the group
    page = _words(get_ok(client, f"/tasks/{task_id}"))
    assert "Waiting for its data: GET answered 404 at 2026-12-06 15:00 UTC." in page
    assert f"once a GET of {url} answers 2xx" in page
    assert f"Waits for {url} checked 2026-12-06 15:00 UTC, 3 attempts" in page


def test_the_edit_form_offers_scheduling_only_to_those_who_may_set_it(
    client: Any, world: World
) -> None:
    own = world.tasks[3].id
    login(client, "bob")
    page = get_ok(client, f"/tasks/{own}/edit")
    assert 'id="scheduling"' not in page and 'name="priority"' not in page
    for manager, password in (("admin", "admin"), ("manager", None)):
        client.get("/logout").close()
        login(client, manager, *((password,) if password else ()))
        page = get_ok(client, f"/tasks/{own}/edit")
        for name in ("subject", "series", "priority", "due", "effort"):
            assert f'name="{name}"' in page, (manager, name)
        assert 'type="datetime-local"' in page


def test_an_admin_sets_the_scheduling_fields_through_the_edit_form(
    client: Any, world: World
) -> None:
    task = world.tasks[3]
    edit = f"/tasks/{task.id}/edit"
    login(client, "admin", "admin")
    form = {
        "status": "queued",
        "users": [str(world.bob.id)],
        "subject": " patient-9 ",
        "series": "",
        "priority": "3",
        "due": "2027-01-31T17:00",
        "effort": "0.5",
    }
    response = post_form(client, edit, form)
    assert response.status_code == 302, _words(response.get_data(as_text=True))[-3000:]
    response.close()
    with database(client.application) as session:
        saved = session.get(Task, task.id)
        assert saved is not None
        assert (saved.subject, saved.series, saved.priority, saved.effort) == (
            "patient-9",
            None,
            3,
            0.5,
        )
        assert saved.due == datetime(2027, 1, 31, 17, 0, tzinfo=UTC)
    page = _words(get_ok(client, f"/tasks/{task.id}"))
    assert "Due 2027-01-31 17:00 UTC" in page and "Effort 0.5" in page
    # The same form sent again changes nothing; a bad effort is refused next to its field.
    again = post_form(client, edit, form)
    again.close()
    assert "Nothing changed." in _words(get_ok(client, f"/tasks/{task.id}"))
    refused = post_form(client, edit, {**form, "effort": "-1"})
    text = refused.get_data(as_text=True)
    refused.close()
    assert any("effort must be above 0" in error for error in _field_errors(text, "effort"))


# --- bulk: distribute among a group's members ------------------------------------------------


def _panel(client: Any, world: World) -> int:
    """A group of alice and carol (bob, in readers, is not in it)."""
    with database(client.application) as session:
        alice, carol = session.get(User, world.alice.id), session.get(User, world.carol.id)
        made = groups.create(session, groupname="panel", name="Reading panel", users=[alice, carol])
        session.commit()
        return made.id


def _assignment(client: Any, task_ids: list[int]) -> dict[int, tuple[list[str], list[str]]]:
    with database(client.application) as session:
        tasks = session.scalars(select(Task).where(Task.id.in_(task_ids))).all()
        return {
            t.id: (sorted(u.username for u in t.users), sorted(g.groupname for g in t.groups))
            for t in tasks
        }


def _passes(client: Any) -> dict[str, float]:
    with database(client.application) as session:
        return dict(session.execute(select(User.username, User.assignment_pass)).all())


def _assign_rows(client: Any) -> int:
    with database(client.application) as session:
        query = select(func.count()).where(TaskHistory.action == "assign")
        return int(session.scalar(query.select_from(TaskHistory)) or 0)


def _planned(page: str) -> dict[int, str]:
    """The confirmation's "Goes to" column: task id -> username."""
    rows = re.findall(
        r'<td class="num"><a href="/tasks/(\d+)">\d+</a></td>(?:\s*<td>[^<]*(?:<span[^>]*>[^<]*</span>)?</td>){4}\s*<td>([^<]+)</td>',
        page,
    )
    return {int(task_id): name for task_id, name in rows}


def test_a_distribution_shows_each_users_share_and_stores_nothing_until_confirmed(
    client: Any, world: World
) -> None:
    _panel(client, world)
    ids = [t.id for t in (world.tasks[0], world.tasks[2], world.tasks[3], world.tasks[4])]
    _set(client, [ids[0]], effort=2.0)
    _set(client, [ids[1]], effort=0.5)
    before, passes, history = _assignment(client, ids), _passes(client), _assign_rows(client)
    login(client, "admin", "admin")
    list_page = get_ok(client, "/tasks")
    assert '<option value="distribute_group">' in list_page
    assert 'data-bulk-for="assign_group distribute_group"' in list_page
    confirm = client.post(
        "/tasks/bulk",
        data={
            "csrf_token": csrf_token_from(list_page),
            "ids": [str(i) for i in ids],
            "action": "distribute_group",
            "group": "panel",
        },
    )
    page = confirm.get_data(as_text=True)
    confirm.close()
    assert confirm.status_code == 200, page[:2000]
    text = _words(page)
    assert "4 tasks distributed among the members of panel?" in text
    assert "Who gets how many" in text
    planned = _planned(page)
    assert set(planned) == set(ids) and set(planned.values()) == {"alice", "carol"}
    split = dict(re.findall(r'<tr><th scope="row">(\w+)</th><td class="num">(\d+)</td>', page))
    assert split == {name: str(list(planned.values()).count(name)) for name in ("alice", "carol")}
    efforts = {name: 0.0 for name in ("alice", "carol")}
    for task_id, name in planned.items():
        efforts[name] += {ids[0]: 2.0, ids[1]: 0.5}.get(task_id, 1.0)
    for name, effort in efforts.items():
        shown = f"{effort:.2f}".rstrip("0").rstrip(".")
        assert (
            f'<th scope="row">{name}</th><td class="num">{split[name]}</td><td class="num">{shown}</td>'
            in page
        )
    # Nothing changed yet: not the tasks, not the users' turns, no history.
    assert _assignment(client, ids) == before
    assert _passes(client) == passes
    assert _assign_rows(client) == history

    applied = client.post(
        "/tasks/bulk/apply",
        data={
            "csrf_token": csrf_token_from(page),
            "ids": [str(i) for i in ids],
            "action": "distribute_group",
            "value": "panel",
        },
    )
    assert applied.status_code == 302
    applied.close()
    assert "4 tasks distributed among the members of panel." in _words(get_ok(client, "/tasks"))
    # What the confirmation showed is what happened.
    assert _assignment(client, ids) == {task_id: ([name], []) for task_id, name in planned.items()}
    assert _assign_rows(client) == history + 4


def test_a_distribution_refuses_closed_tasks_and_needs_assignment_rights(
    client: Any, world: World
) -> None:
    _panel(client, world)
    done, open_ = world.tasks[1].id, world.tasks[0].id
    login(client, "admin", "admin")
    confirm = post_form(
        client,
        "/tasks/bulk",
        {"ids": [str(done), str(open_)], "action": "distribute_group", "group": "panel"},
        page="/tasks",
    )
    text = _words(confirm.get_data(as_text=True))
    confirm.close()
    assert "You may not do this to 1 of these tasks" in text
    assert "Only open tasks (not done or aborted) can be distributed." in text
    assert "Confirm:" not in text and "Who gets how many" not in text
    # A group nobody in it may get tasks from: said on the list, nothing changes.
    with database(client.application) as session:
        groups.create(session, groupname="empty-panel", name="Nobody", users=[])
        session.commit()
    refused = post_form(
        client,
        "/tasks/bulk",
        {"ids": [str(open_)], "action": "distribute_group", "group": "empty-panel"},
        page="/tasks",
    )
    assert refused.status_code == 302
    refused.close()
    assert "No active user with an assignment weight above 0 is in group 'empty-panel'" in _words(
        get_ok(client, "/tasks")
    )
    client.get("/logout").close()
    login(client, "bob")
    assert 'value="distribute_group"' not in get_ok(client, "/tasks")
