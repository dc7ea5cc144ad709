"""Issue 20 in API v1: scheduling fields of a task, list filters and order, project policies,
dry runs of a create, and claims in priority order."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from taskmanager.models import Task, TaskHistory, db, utcnow

from ..conftest import basic_auth
from ..support.task_factories import PASSWORD, make_group, make_task, make_template, make_user

ALICE = basic_auth("alice", PASSWORD)
SUE = basic_auth("sue", PASSWORD)
WAIT_URL = "http://127.0.0.1:9/scans/1"


@pytest.fixture
def people(app) -> None:
    """Template tpl; alice (user, in group team), bob (user), sue (superuser)."""
    with app.app_context():
        make_template(db.session, "tpl")
        alice = make_user(db.session, "alice")
        make_user(db.session, "bob")
        make_user(db.session, "sue", roles=["superuser"])
        make_group(db.session, "team", [alice])
        db.session.commit()


def _task(**fields: Any) -> dict[str, Any]:
    return {"project": "p", "template": "tpl", "content": {"template": "tpl"}, **fields}


def _stored(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Task)) or 0


def _create(client, headers, **fields: Any) -> dict[str, Any]:
    response = client.post("/api/v1/tasks", json=_task(**fields), headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


# --- task fields -----------------------------------------------------------------------------


def test_a_task_carries_its_scheduling_fields(client, people, admin_headers) -> None:
    detail = _create(
        client,
        admin_headers,
        users=["alice"],
        subject="patient-7",
        series="liver-7",
        priority=3,
        due="2027-01-31T17:00:00",
        effort=2.5,
    )
    expected = {
        "subject": "patient-7",
        "series": "liver-7",
        "priority": 3,
        "due": "2027-01-31T17:00:00+00:00",  # no zone: UTC
        "effort": 2.5,
        "wait_for": None,
        "wait_detail": None,
        "wait_checked_time": None,
    }
    assert {key: detail[key] for key in expected} == expected
    again = client.get(detail["uri"], headers=admin_headers).get_json()
    assert {key: again[key] for key in expected} == expected


def test_a_due_time_with_a_zone_is_answered_in_utc(client, people, admin_headers) -> None:
    detail = _create(client, admin_headers, users=["alice"], due="2027-01-31T17:00:00+02:00")
    assert detail["due"] == "2027-01-31T15:00:00+00:00"
    detail = _create(client, admin_headers, users=["alice"], due="2027-01-31T17:00:00Z")
    assert detail["due"] == "2027-01-31T17:00:00+00:00"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("priority", "high"),
        ("priority", True),
        ("priority", 10**7),
        ("due", "2027-01-31"),
        ("due", "next week"),
        ("due", 1800000000),
        ("effort", 0),
        ("effort", "1"),
        ("subject", "s" * 129),
        ("series", 7),
        ("wait_for", "ftp://scans/1"),
    ],
)
def test_bad_scheduling_values_are_refused_by_field(
    app, client, people, admin_headers, field, value
) -> None:
    response = client.post("/api/v1/tasks", json=_task(**{field: value}), headers=admin_headers)
    assert response.status_code == 400, response.get_json()
    assert field in response.get_json()["errors"]
    many = client.post(
        "/api/v1/tasks", json=[_task(), _task(**{field: value})], headers=admin_headers
    )
    assert many.status_code == 400
    assert f"1.{field}" in many.get_json()["errors"]
    assert _stored(app) == 0


def test_the_array_form_takes_the_fields_too(app, client, people, admin_headers) -> None:
    body = [_task(users=["bob"], priority=i, subject=f"s{i}", effort=i + 1) for i in range(3)]
    response = client.post("/api/v1/tasks", json=body, headers=admin_headers)
    assert response.status_code == 201
    with app.app_context():
        rows = db.session.execute(
            select(Task.priority, Task.subject, Task.effort).order_by(Task.id)
        )
        assert [tuple(row) for row in rows] == [(0, "s0", 1.0), (1, "s1", 2.0), (2, "s2", 3.0)]


def test_a_task_with_wait_for_waits_and_lists_why(app, client, people, admin_headers) -> None:
    waiting = _create(client, admin_headers, users=["alice"], wait_for=WAIT_URL)
    plain = _create(client, admin_headers, users=["alice"])
    assert (waiting["status"], waiting["wait_for"]) == ("waiting", WAIT_URL)
    with app.app_context():
        db.session.get(Task, int(waiting["id"])).wait_detail = "HTTP 404 Not Found"
        db.session.commit()
    listed = client.get("/api/v1/tasks?status=waiting", headers=ALICE).get_json()
    assert [t["id"] for t in listed["tasks"]] == [waiting["id"]]
    assert listed["tasks"][0]["wait_for"] == WAIT_URL
    assert listed["tasks"][0]["wait_detail"] == "HTTP 404 Not Found"
    everything = client.get("/api/v1/tasks", headers=ALICE).get_json()["tasks"]
    assert [t["id"] for t in everything] == [waiting["id"], plain["id"]]
    # Other tasks' summaries keep the old keys only.
    assert set(everything[1]) == {"uri", "id", "status", "project", "template", "tags"}
    detail = client.get(waiting["uri"], headers=ALICE).get_json()
    assert detail["wait_detail"] == "HTTP 404 Not Found"


# --- changing them ---------------------------------------------------------------------------


def test_an_admin_changes_the_scheduling_fields(app, client, people, admin_headers) -> None:
    detail = _create(client, admin_headers, users=["alice"], subject="a", due="2027-01-01T00:00Z")
    changes = {"priority": 9, "subject": "b", "series": "x", "due": None, "effort": 0.5}
    response = client.put(detail["uri"], json=changes, headers=admin_headers)
    assert response.status_code == 200, response.get_json()
    changed = response.get_json()
    assert {key: changed[key] for key in changes} == changes
    with app.app_context():
        task = db.session.get(Task, int(detail["id"]))
        assert (task.priority, task.subject, task.due) == (9, "b", None)
        edit = db.session.scalars(
            select(TaskHistory.detail).where(TaskHistory.action == "edit")
        ).one()
        assert '"priority": {"old": 0, "new": 9}' in edit


def test_the_data_manager_schedules_and_a_reader_may_not(
    app, client, people, admin_headers
) -> None:
    """Priority, due date, effort, subject and series: task_update_user (a superuser) or
    task_update_all; what the task waits for: task_update_all only."""
    detail = _create(client, admin_headers, users=["alice"])
    response = client.put(detail["uri"], json={"priority": 5}, headers=ALICE)
    assert response.status_code == 403
    assert "priority" in response.get_json()["errors"]
    response = client.put(detail["uri"], json={"wait_for": WAIT_URL}, headers=SUE)
    assert response.status_code == 403
    assert list(response.get_json()["errors"]) == ["wait_for"]
    changes = {"priority": 5, "due": "2027-02-01T09:00:00Z", "effort": 2, "subject": "p-1"}
    response = client.put(detail["uri"], json={**changes, "series": "s-1"}, headers=SUE)
    assert response.status_code == 200, response.get_json()
    with app.app_context():
        task = db.session.get(Task, int(detail["id"]))
        assert (task.priority, task.effort, task.subject, task.series) == (5, 2, "p-1", "s-1")
        assert task.due is not None and task.due.isoformat().startswith("2027-02-01T09:00")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"priority": None}, "priority"),
        ({"effort": None}, "effort"),
        ({"effort": -1}, "effort"),
        ({"due": "tomorrow"}, "due"),
        ({"wait_for": WAIT_URL}, "wait_for"),  # the task does not wait
    ],
)
def test_bad_changes_are_refused_by_field(client, people, admin_headers, changes, field) -> None:
    detail = _create(client, admin_headers, users=["alice"])
    response = client.put(detail["uri"], json=changes, headers=admin_headers)
    assert response.status_code == 400, response.get_json()
    assert field in response.get_json()["errors"]


def test_a_waiting_task_may_wait_for_another_url(app, client, people, admin_headers) -> None:
    detail = _create(client, admin_headers, users=["alice"], wait_for=WAIT_URL)
    with app.app_context():
        task = db.session.get(Task, int(detail["id"]))
        task.wait_attempts, task.wait_detail = 4, "HTTP 404"
        db.session.commit()
    moved = "http://127.0.0.1:9/scans/2"
    response = client.put(detail["uri"], json={"wait_for": moved}, headers=admin_headers)
    assert response.status_code == 200, response.get_json()
    assert (response.get_json()["wait_for"], response.get_json()["status"]) == (moved, "waiting")
    with app.app_context():
        task = db.session.get(Task, int(detail["id"]))
        assert (task.wait_attempts, task.wait_detail) == (0, None)
    for bad in (None, "file:///etc/passwd"):
        refused = client.put(detail["uri"], json={"wait_for": bad}, headers=admin_headers)
        assert refused.status_code == 400
        assert "wait_for" in refused.get_json()["errors"]


# --- list filters and order ------------------------------------------------------------------


def _ids(client, query: str, headers) -> list[str]:
    response = client.get(f"/api/v1/tasks?{query}", headers=headers)
    assert response.status_code == 200, response.get_json()
    return [task["id"] for task in response.get_json()["tasks"]]


def test_list_filters_and_priority_order(app, client, people, admin_headers) -> None:
    now = utcnow()
    with app.app_context():
        late = make_task(db.session, subject="c1", series="s1", due=now - timedelta(days=1))
        urgent = make_task(db.session, subject="c1", series="s2", priority=5)
        plain = make_task(db.session, subject="c2", series="s1")
        done_late = make_task(db.session, due=now - timedelta(days=2))
        done_late.status = "done"
        db.session.commit()
        late, urgent, plain, done_late = (str(t.id) for t in (late, urgent, plain, done_late))
    assert _ids(client, "subject=c1", admin_headers) == [late, urgent]
    assert _ids(client, "series=s1", admin_headers) == [late, plain]
    assert _ids(client, "overdue=true", admin_headers) == [late]
    assert _ids(client, "overdue=false", admin_headers) == [late, urgent, plain, done_late]
    assert _ids(client, "order=priority", admin_headers) == [urgent, done_late, late, plain]
    assert _ids(client, "order=priority&limit=1&offset=2", admin_headers) == [late]
    for query, field in (
        ("order=urgent", "query.order"),
        ("overdue=maybe", "query.overdue"),
        ("order=priority&after=1", "after"),
        ("order=priority&after_id=1", "after"),  # the former name: the error names the new one
    ):
        response = client.get(f"/api/v1/tasks?{query}", headers=admin_headers)
        assert response.status_code == 400
        assert field in response.get_json()["errors"]


def test_a_project_in_priority_order_lists_by_priority(app, client, people, admin_headers) -> None:
    with app.app_context():
        first = make_task(db.session, project="study").id
        second = make_task(db.session, project="study", priority=1).id
        db.session.commit()
    policy = client.put(
        "/api/v1/projects/study/policy", json={"priority_order": True}, headers=admin_headers
    )
    assert policy.status_code == 200
    assert _ids(client, "project=study", admin_headers) == [str(second), str(first)]
    assert _ids(client, "project=study&order=id", admin_headers) == [str(first), str(second)]
    assert _ids(client, "", admin_headers) == [str(first), str(second)]


# --- project policies ------------------------------------------------------------------------

DEFAULTS = {
    "project": "study",
    "distinct_readers": False,
    "washout_days": None,
    "consistent_series": False,
    "max_open_per_user": None,
    "balance_by": "count",
    "priority_order": False,
}


def test_anyone_signed_in_reads_a_policy(client, people) -> None:
    response = client.get("/api/v1/projects/study/policy", headers=ALICE)
    assert (response.status_code, response.get_json()) == (200, DEFAULTS)
    assert client.get("/api/v1/projects/study/policy").status_code == 401


def test_admins_and_superusers_set_a_policy_in_parts(client, people, admin_headers) -> None:
    url = "/api/v1/projects/study/policy"
    response = client.put(url, json={"distinct_readers": True}, headers=admin_headers)
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {**DEFAULTS, "distinct_readers": True}
    response = client.put(url, json={"max_open_per_user": 3, "balance_by": "effort"}, headers=SUE)
    assert response.status_code == 200, response.get_json()
    expected = {
        **DEFAULTS,
        "distinct_readers": True,
        "max_open_per_user": 3,
        "balance_by": "effort",
    }
    assert response.get_json() == expected
    assert client.get(url, headers=ALICE).get_json() == expected
    response = client.put(url, json={"max_open_per_user": None}, headers=admin_headers)
    assert response.get_json() == {**expected, "max_open_per_user": None}


def test_others_may_not_set_a_policy(client, people) -> None:
    url = "/api/v1/projects/study/policy"
    response = client.put(url, json={"distinct_readers": True}, headers=ALICE)
    assert response.status_code == 403
    assert client.get(url, headers=ALICE).get_json() == DEFAULTS


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"balance_by": "weight"}, "balance_by"),
        ({"washout_days": -1}, "washout_days"),
        ({"washout_days": "7"}, "washout_days"),
        ({"max_open_per_user": 0}, "max_open_per_user"),
        ({"distinct_readers": "yes"}, "distinct_readers"),
        ({"distinct_readers": None}, "distinct_readers"),
        ({"distinct_readers": True, "washout_days": 30}, "washout_days"),
        ({"readers": 2}, "readers"),
    ],
)
def test_bad_policy_values_name_the_field(client, people, admin_headers, body, field) -> None:
    url = "/api/v1/projects/study/policy"
    response = client.put(url, json=body, headers=admin_headers)
    assert response.status_code == 400, response.get_json()
    assert field in response.get_json()["errors"]
    assert client.get(url, headers=admin_headers).get_json() == DEFAULTS


def test_the_policy_routes_are_documented(client) -> None:
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    route = paths["/api/v1/projects/{project}/policy"]
    assert set(route) >= {"get", "put"}
    assert route["put"]["description"].startswith("Admins and superusers only")


# --- dry runs --------------------------------------------------------------------------------


def test_a_dry_run_says_where_tasks_would_go(app, client, people, admin_headers) -> None:
    body = [
        _task(users=["alice"], effort=2),
        _task(users=["alice", "bob"]),
        _task(groups=["team"], effort=3),
        _task(wait_for=WAIT_URL),
    ]
    response = client.post("/api/v1/tasks?dry_run=true", json=body, headers=admin_headers)
    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    assert answer["dry_run"] is True
    assert answer["tasks"] == [
        {"index": 0, "project": "p", "status": "queued", "users": ["alice"], "groups": [], "effort": 2.0},
        {"index": 1, "project": "p", "status": "queued", "users": ["alice", "bob"], "groups": [], "effort": 1.0},
        {"index": 2, "project": "p", "status": "queued", "users": [], "groups": ["team"], "effort": 3.0},
        {"index": 3, "project": "p", "status": "waiting", "users": [], "groups": [], "effort": 1.0},
    ]  # fmt: skip
    assert answer["per_user"] == {
        "alice": {"tasks": 2, "effort": 3.0},
        "bob": {"tasks": 1, "effort": 1.0},
    }
    assert _stored(app) == 0


def test_a_dry_run_of_one_task_hands_it_out(app, client, people, admin_headers) -> None:
    response = client.post("/api/v1/tasks?dry_run=1", json=_task(), headers=admin_headers)
    assert response.status_code == 200, response.get_json()
    (task,) = response.get_json()["tasks"]
    assert len(task["users"]) == 1 and task["status"] == "queued"
    assert response.get_json()["per_user"] == {task["users"][0]: {"tasks": 1, "effort": 1.0}}
    assert _stored(app) == 0


@pytest.mark.parametrize(
    "body",
    [
        _task(template="nope"),
        _task(users=["nobody"]),
        _task(priority="high"),
        {"project": "p"},
        [_task(), _task(template="nope")],
        [_task(), {"template": "tpl"}, _task(effort=-2)],
        [],
        "text",
    ],
)
def test_a_dry_run_refuses_what_a_create_refuses(app, client, people, admin_headers, body) -> None:
    real = client.post("/api/v1/tasks", json=body, headers=admin_headers)
    dry = client.post("/api/v1/tasks?dry_run=true", json=body, headers=admin_headers)
    assert real.status_code in (400, 404)
    assert dry.status_code == real.status_code
    assert dry.get_json()["errors"] == real.get_json()["errors"]
    assert _stored(app) == 0


def test_dry_run_must_be_true_or_false(client, people, admin_headers) -> None:
    response = client.post("/api/v1/tasks?dry_run=perhaps", json=_task(), headers=admin_headers)
    assert response.status_code == 400
    assert "query.dry_run" in response.get_json()["errors"]


# --- claims ----------------------------------------------------------------------------------


def test_claims_take_the_most_urgent_task_when_asked(app, client, people, admin_headers) -> None:
    with app.app_context():
        oldest = make_task(db.session, users=["alice"]).id
        urgent = make_task(db.session, users=["alice"], priority=7).id
        urgent_too = make_task(db.session, users=["alice"], priority=7).id
        db.session.commit()
    claimed = client.post("/api/v1/tasks/next?order=priority", headers=ALICE)
    assert claimed.get_json()["id"] == str(urgent)
    claimed = client.post("/api/v1/tasks/next", json={"order": "priority"}, headers=ALICE)
    assert claimed.get_json()["id"] == str(urgent_too)
    # As before: the oldest.
    assert client.post("/api/v1/tasks/next", headers=ALICE).get_json()["id"] == str(oldest)
    refused = client.post("/api/v1/tasks/next?order=soonest", headers=ALICE)
    assert refused.status_code == 400
    assert "order" in refused.get_json()["errors"]
