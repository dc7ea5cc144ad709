"""Off-boarding from the reassign page, an annotator's home, the activity page, task history."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from taskmanager.models import Task, User

from ..support.accessibility import blocking_violations, sideways_overflow
from .conftest import csrf_token_from, database
from .seed import PASSWORD, World
from .test_pages import get_ok, login, post_form


def flashes(text: str) -> list[str]:
    return [
        re.sub(r"\s+", " ", m).strip()
        for m in re.findall(r'<li class="flash [^"]*">(.*?)</li>', text, re.S)
    ]


def test_the_reassign_page_previews_then_offboards_in_one_step(
    app: Any, client: Any, world: World
) -> None:
    login(client, "admin", "admin")
    page = get_ok(client, f"/reassign?from_user={world.alice.id}")
    preview = re.sub(r"<[^>]+>|\s+", " ", page.split('id="pending"')[1].split("</div>")[0])
    assert "alice : 2 open tasks, 1 lock (last touched" in preview
    assert "by alice" in preview
    assert 'data-confirm="Move 2 open tasks of alice and apply the options you ticked?"' in page

    response = post_form(
        client,
        "/reassign",
        {
            "from_user": str(world.alice.id),
            "to_user": str(world.carol.id),
            "release_locks": "y",
            "zero_weight": "y",
            "leave_groups": "y",
            "deactivate": "y",
        },
        page=f"/reassign?from_user={world.alice.id}",
    )
    assert response.status_code == 302
    response.close()
    user_page = get_ok(client, f"/users/{world.alice.id}")
    assert (
        "admin moved 2 tasks from alice to carol, set alice&#39;s weight to 0, deactivated alice."
        " Released 1 lock." in flashes(user_page)
    )
    with database(app) as session:
        alice = session.get(User, world.alice.id)
        assert alice is not None and not alice.active and alice.assignment_weight == 0
    dashboard = get_ok(client, "/")
    assert "moved 2 tasks from alice to carol" in dashboard


def test_a_superuser_is_not_offered_deactivation_and_cannot_post_it(
    app: Any, client: Any, world: World
) -> None:
    login(client, "manager")
    page = get_ok(client, f"/reassign?from_user={world.alice.id}")
    assert 'name="zero_weight"' in page and 'name="leave_groups"' in page
    assert 'name="deactivate"' not in page
    response = post_form(
        client,
        "/reassign",
        {"from_user": str(world.alice.id), "to_user": str(world.carol.id), "deactivate": "y"},
        page=f"/reassign?from_user={world.alice.id}",
    )
    assert response.status_code == 403
    response.close()
    with database(app) as session:
        moved = session.scalars(select(Task).where(Task.id == world.tasks[0].id)).one()
        assert [u.username for u in moved.users] == ["alice"]


def test_an_annotator_continues_held_tasks_and_claims_the_next(
    app: Any, client: Any, world: World
) -> None:
    login(client, "alice")
    home = get_ok(client, "/")
    held = world.tasks[0]
    assert f'href="/tasks/{held.id}">Continue task {held.id}</a>' in home
    assert "You finished 1 task today, 1 this week." in re.sub(r"\s+", " ", home)
    token = csrf_token_from(home)

    response = client.post("/claim-next", data={"csrf_token": token})
    assert response.status_code == 302
    claimed = int(response.headers["Location"].rsplit("/", 1)[1])
    response.close()
    assert claimed == world.tasks[2].id  # the oldest queued, free task she may do
    with database(app) as session:
        assert session.get(Task, claimed).lock_id == world.alice.id  # type: ignore[union-attr]

    response = client.post("/claim-next", data={"csrf_token": token})
    assert response.headers["Location"].endswith("/")
    response.close()
    assert "Nothing is left to claim" in " ".join(flashes(get_ok(client, "/")))
    response = client.post("/claim-next", data={})
    assert response.status_code in (400, 403)  # no CSRF token, no claim
    response.close()


def test_the_activity_page_filters_by_project_and_user(app: Any, client: Any, world: World) -> None:
    login(client, "admin", "admin")
    everything = re.sub(r"<[^>]+>", "", get_ok(client, "/activity"))
    assert "Apply" in everything and "admin created" in everything
    heart = re.sub(r"<[^>]+>", "", get_ok(client, "/activity?project=heart-study"))
    assert "brain-study" not in heart and "heart-study" in heart
    carols = re.sub(r"<[^>]+>", "", get_ok(client, "/activity?user=carol"))
    assert f"carol marked task {world.tasks[5].id} done" in re.sub(r"\s+", " ", carols)
    assert "admin created" not in carols
    unknown = get_ok(client, "/activity?user=nobody-here")
    assert "User: nobody is called" in unknown
    # A plain user sees only what happened to their tasks.
    carol = login(app.test_client(), "carol")
    mine = re.sub(r"<[^>]+>", "", get_ok(carol, "/activity"))
    # Whether a username exists is not told to those who may not list users.
    assert "nobody is called" not in get_ok(carol, "/activity?user=admin-typo")
    assert f"task {world.tasks[5].id}" in mine and f"task {world.tasks[0].id}" not in mine


def test_the_task_page_tells_its_history_in_sentences(client: Any, world: World) -> None:
    login(client, "admin", "admin")
    page = get_ok(client, f"/tasks/{world.tasks[1].id}")
    history = re.sub(r"\s+", " ", page.split("<h2>History")[1].split("</section>")[0])
    assert "created by admin in project brain-study, assigned to alice" in history
    assert "status changed from queued to done by alice" in history
    assert '<details class="raw"><summary class="muted">Recorded detail</summary>' in history


def test_the_new_pages_are_accessible_and_fit_a_phone(
    page: Any, snap: Any, log_in: Any, world: World
) -> None:
    log_in("alice", PASSWORD)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/")
    assert blocking_violations(page) == [] and sideways_overflow(page) == 0
    snap("annotator-home")
    page.click("button:has-text('Claim next')")
    page.wait_for_url(re.compile(r"/tasks/\d+$"))
    assert "Locked by" in page.inner_text("main")
    assert "claimed by alice" in page.inner_text("main")
    assert blocking_violations(page) == [] and sideways_overflow(page) == 0
    snap("claimed")
    page.goto("/activity?project=brain-study")
    assert blocking_violations(page) == []
    assert sideways_overflow(page) == 0
    snap("activity")


def test_admin_offboards_a_leaver_in_the_browser(
    page: Any, snap: Any, log_in: Any, world: World
) -> None:
    log_in("admin", "admin")
    page.goto(f"/users/{world.alice.id}")
    page.click("text=Reassign open tasks")
    page.wait_for_selector("#pending")
    assert "2 open tasks, 1 lock" in page.inner_text("#pending")
    assert blocking_violations(page) == [] and sideways_overflow(page) == 0
    page.select_option("select[name=to_user]", str(world.carol.id))
    page.check("input[name=zero_weight]")
    snap("offboard-form")
    page.click("button:has-text('Move the tasks')")
    page.wait_for_selector(".flash-success")
    assert "admin moved 2 tasks from alice to carol, set alice's weight to 0" in page.inner_text(
        ".flash-success"
    )
    snap("offboarded")
