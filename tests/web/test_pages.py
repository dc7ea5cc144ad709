"""Every page through the test client: rendering, permissions (403), CSRF, forms keeping input."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import func, select, update

from taskmanager.models import Task

from ..conftest import basic_auth
from .conftest import csrf_token_from, database, web_login
from .seed import PASSWORD, World, admin_pages


def login(client: Any, identity: str, password: str = PASSWORD) -> Any:
    response = web_login(client, identity, password)
    assert response.status_code == 302, response.get_data(as_text=True)
    response.close()
    return client


def get_ok(client: Any, url: str) -> str:
    response = client.get(url)
    text = response.get_data(as_text=True)
    response.close()
    assert response.status_code == 200, f"{url}: {response.status_code}\n{text[:2000]}"
    return text


def post_form(client: Any, url: str, data: dict[str, Any], *, page: str | None = None) -> Any:
    """POST like the browser does: with the CSRF token of the page the form is on."""
    data = {**data, "csrf_token": csrf_token_from(get_ok(client, page or url))}
    return client.post(url, data=data)


def test_signed_out_visitors_are_sent_to_the_login_page(client: Any) -> None:
    response = client.get("/tasks?status=queued")
    assert response.status_code == 302
    assert "/login?next=" in response.headers["Location"]
    assert "status%3Dqueued" in response.headers["Location"]
    response.close()


def test_login_with_username_or_case_insensitive_email(client: Any, world: World) -> None:
    login(client, "alice")
    assert "alice" in get_ok(client, "/")
    client.get("/logout").close()
    login(client, "ALICE@example.org")
    assert "alice" in get_ok(client, "/")


def test_a_failed_login_keeps_the_identity_typed(client: Any, world: World) -> None:
    response = web_login(client, "alice", "wrong")
    text = response.get_data(as_text=True)
    response.close()
    assert response.status_code == 200
    assert 'value="alice"' in text
    # The same words as for an account that does not exist.
    assert "Authentication failed - identity or password/passcode invalid" in text
    unknown = web_login(client, "alfred", "wrong")
    assert "Authentication failed - identity or password/passcode invalid" in unknown.get_data(
        as_text=True
    )
    assert "does not exist" not in unknown.get_data(as_text=True)
    unknown.close()


def test_every_page_renders_for_an_admin(client: Any, world: World) -> None:
    login(client, "admin", "admin")
    for url in admin_pages(world):
        get_ok(client, url)


def test_the_dashboard_shows_progress_my_tasks_and_activity(client: Any, world: World) -> None:
    login(client, "alice")
    text = get_ok(client, "/")
    assert "brain-study" in text  # progress of a project she has tasks in
    assert "heart-study" not in text  # she sees only her tasks
    assert "Your open tasks" in text
    assert f"/tasks/{world.tasks[0].id}" in text


def test_a_plain_user_is_refused_administration_pages(client: Any, world: World) -> None:
    login(client, "bob")
    refused = [
        "/users",
        "/users/new",
        f"/users/{world.alice.id}",
        f"/users/{world.alice.id}/edit",
        "/groups/new",
        f"/groups/{world.readers.id}/edit",
        "/tags/new",
        "/templates/new",
        "/meta",
        "/meta/new",
        "/reassign",
        "/mail",
    ]
    for url in refused:
        response = client.get(url)
        assert response.status_code == 403, url
        assert "Not allowed" in response.get_data(as_text=True)
        response.close()
    # Another user's task does not exist for him; his own does.
    for url in (f"/tasks/{world.tasks[0].id}", f"/tasks/{world.tasks[0].id}/edit"):
        response = client.get(url)
        assert response.status_code == 404, url
        response.close()
    get_ok(client, f"/tasks/{world.tasks[3].id}")
    get_ok(client, f"/users/{world.bob.id}")
    get_ok(client, f"/groups/{world.readers.id}")


def test_admin_buttons_are_shown_only_to_roles_that_may_use_them(client: Any, world: World) -> None:
    login(client, "bob")
    text = get_ok(client, f"/groups/{world.readers.id}")
    assert "Add member" not in text and "Delete" not in text
    text = get_ok(client, f"/tasks/{world.tasks[3].id}")
    assert "Move the lock" not in text
    client.get("/logout").close()
    login(client, "manager")
    text = get_ok(client, f"/groups/{world.readers.id}")
    assert "Add member" in text and ">Delete<" not in text  # group_update, not group_delete
    text = get_ok(client, f"/tasks/{world.tasks[0].id}")
    assert "Release the lock" in text and "Move the lock" in text


def test_posts_without_the_csrf_token_are_refused(app: Any, client: Any, world: World) -> None:
    """Every form of the web UI needs the session's CSRF token (the login form: below)."""
    login(client, "admin", "admin")
    posts = [
        re.sub(r"<int:\w+>", str(world.tasks[0].id), rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("web.") and "POST" in rule.methods
    ]
    assert len(posts) > 20
    for url in posts:
        response = client.post(url, data={"name": "sneaky", "groupname": "sneaky"})
        assert response.status_code == 400, url
        response.close()
    assert "sneaky" not in get_ok(client, "/tags") + get_ok(client, "/groups")
    # Changing one's password (a Flask-Security form) is refused without the token too.
    change = {"password": "admin", "new_password": "sneaky-new-1", "new_password_confirm": "x"}
    change["new_password_confirm"] = change["new_password"]
    client.post("/change", data=change).close()
    assert web_login(app.test_client(), "admin", "admin").status_code == 302


def test_admins_are_warned_while_the_default_password_is_unchanged(
    app: Any, client: Any, world: World
) -> None:
    from taskmanager.services.accounts import users

    def warned(page: str) -> bool:
        return "still uses the default password" in " ".join(page.split())

    assert warned(get_ok(login(client, "admin", "admin"), "/"))
    assert not warned(get_ok(login(app.test_client(), "alice"), "/"))
    with database(app) as session:
        users.set_password(users.get_or_raise(session, reference="admin"), "a-better-one")
        session.commit()
    assert not warned(get_ok(login(app.test_client(), "admin", "a-better-one"), "/"))


def test_the_default_password_banner_links_to_the_page_that_changes_it(
    app: Any, client: Any, world: World
) -> None:
    page = get_ok(login(client, "admin", "admin"), "/")
    assert re.search(r'<a id="change-default-password" href="/change">change it now</a>', page)
    changed = get_ok(client, "/change")
    assert "new_password" in changed

    # Another admin is sent to the account's edit page, where its password is set.
    from taskmanager.services.accounts import roles, users

    with database(app) as session:
        users.set_role(
            session,
            user=users.get_or_raise(session, reference="carol"),
            role=roles.get_or_raise(session, reference="admin"),
            granted=True,
        )
        session.commit()
    other = get_ok(login(app.test_client(), "carol"), "/")
    edit = f'href="/users/{world.admin.id}/edit">change it now</a>'
    assert f'<a id="change-default-password" {edit}' in other


def test_a_user_manager_cannot_give_themself_a_role(app: Any, client: Any, world: World) -> None:
    from taskmanager.services.accounts import roles, users

    with database(app) as session:
        roles.create(session, name="clerk", permissions=["user_add", "user_update_all"])
        clerk = users.get_or_raise(session, reference="carol")
        users.set_role(
            session, user=clerk, role=roles.get_or_raise(session, reference="clerk"), granted=True
        )
        session.commit()
        carol_id = clerk.id
    login(client, "carol")
    form = {
        "username": "carol",
        "email": "carol@example.org",
        "assignment_weight": "1",
        "active": "y",
        "roles": ["admin", "clerk", "user"],
    }
    response = post_form(client, f"/users/{carol_id}/edit", form)
    assert response.status_code in (200, 302)
    response.close()
    created = post_form(
        client,
        "/users/new",
        {**form, "username": "crony", "email": "crony@example.org", "password": "long-enough"},
    )
    created.close()
    with database(app) as session:
        assert sorted(r.name for r in users.get_or_raise(session, reference="carol").roles) == [
            "clerk",
            "user",
        ]
        crony = users.get_by_reference(session, reference="crony")
        assert crony is not None and "admin" not in [r.name for r in crony.roles]


def test_user_forms_refuse_short_passwords(app: Any, client: Any, world: World) -> None:
    login(client, "admin", "admin")
    form = {"username": "shorty", "email": "shorty@example.org", "assignment_weight": "1"}
    response = post_form(client, "/users/new", {**form, "password": "1234567"})
    assert response.status_code == 200 and "at least 8 characters" in response.get_data(True)
    response.close()
    form.update(username="alice", email="alice@example.org", password="1234567")
    response = post_form(client, f"/users/{world.alice.id}/edit", form)
    assert response.status_code == 200 and "at least 8 characters" in response.get_data(True)
    response.close()
    with database(app) as session:
        from taskmanager.services.accounts import users

        assert users.get_by_reference(session, reference="shorty") is None
    assert login(app.test_client(), "alice")  # her password is unchanged


def test_a_form_keeps_what_was_typed_after_an_error(client: Any, world: World) -> None:
    login(client, "admin", "admin")
    response = post_form(
        client,
        "/users/new",
        {
            "username": "alice",
            "name": "Another Alice",
            "email": "other-alice@example.org",
            "password": "pw-12345678",
            "assignment_weight": "0.5",
            "active": "y",
        },
    )
    text = response.get_data(as_text=True)
    response.close()
    assert response.status_code == 200
    assert "already exists" in text or "taken" in text
    assert 'value="Another Alice"' in text
    assert 'value="other-alice@example.org"' in text
    assert 'value="0.5"' in text


def test_admin_creates_edits_and_deletes_a_tag(client: Any, world: World) -> None:
    login(client, "admin", "admin")
    response = post_form(client, "/tags/new", {"name": "second-look"})
    assert response.status_code == 302
    location = response.headers["Location"]
    response.close()
    assert "second-look" in get_ok(client, location)
    tag_id = location.rstrip("/").rsplit("/", 1)[1]
    response = post_form(client, f"/tags/{tag_id}/edit", {"name": "second-opinion"})
    assert response.status_code == 302
    response.close()
    response = post_form(client, f"/tags/{tag_id}/delete", {}, page=f"/tags/{tag_id}")
    assert response.status_code == 302
    response.close()
    assert f"/tags/{tag_id}" not in get_ok(client, "/tags")


def test_a_superuser_sets_an_assignment_weight_but_not_other_fields(
    client: Any, world: World
) -> None:
    login(client, "manager")
    response = post_form(
        client,
        f"/users/{world.alice.id}/weight",
        {"assignment_weight": "0.25"},
        page=f"/users/{world.alice.id}",
    )
    assert response.status_code == 302
    response.close()
    assert "0.25" in get_ok(client, f"/users/{world.alice.id}")
    response = client.get(f"/users/{world.alice.id}/edit")
    assert response.status_code == 403
    response.close()


def test_editing_a_task_changes_status_assignees_and_tags(client: Any, world: World) -> None:
    login(client, "admin", "admin")
    task = world.tasks[3]
    response = post_form(
        client,
        f"/tasks/{task.id}/edit",
        {"status": "aborted", "users": [str(world.carol.id)], "tags": "urgent, recheck"},
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    response.close()
    text = get_ok(client, f"/tasks/{task.id}")
    assert "aborted" in text and "carol" in text and "recheck" in text


def test_a_plain_user_may_set_the_status_of_own_task_only(client: Any, world: World) -> None:
    login(client, "bob")
    task = world.tasks[3]
    text = get_ok(client, f"/tasks/{task.id}/edit")
    assert 'name="users"' not in text  # he may not change who it is assigned to
    response = post_form(client, f"/tasks/{task.id}/edit", {"status": "done"})
    assert response.status_code == 302
    response.close()
    assert "done" in get_ok(client, f"/tasks/{task.id}")


def test_sending_mail_to_a_group_reaches_its_members(
    client: Any, world: World, caplog: Any
) -> None:
    login(client, "admin", "admin")
    with caplog.at_level("WARNING", logger="taskmanager.web.mail"):
        response = post_form(
            client,
            "/mail",
            {"groups": [str(world.readers.id)], "subject": "Reading week", "body": "Hello!"},
        )
    assert response.status_code == 302, response.get_data(as_text=True)
    response.close()
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "To: bob@example.org" in logged
    assert "Subject: Reading week" in logged
    assert "alice@example.org" not in logged


# The API's documentation, readable without signing in (tests/api/test_authorisation.py).
PUBLIC_API_PAGES = ("/api/v1/", "/api/v1/openapi.json", "/api/v1/swagger.json", "/api/v1/redoc")


def _api_routes(app: Any) -> list[tuple[str, str]]:
    """Every API v1 route and method, ids filled in (the public documentation excepted)."""
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.rule in PUBLIC_API_PAGES:
            continue
        path = re.sub(r"<[^>]+>", "1", rule.rule)
        routes += [(method, path) for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return routes


def test_a_stranger_registered_through_the_form_gets_no_access_and_no_work(
    app: Any, client: Any, caplog: Any
) -> None:
    """Self-registration: no API access before the e-mail is confirmed, and afterwards no role
    and assignment weight 0 (TASKMAN_REGISTRATION_*), so nothing is read or given until an
    admin says so."""
    with caplog.at_level("WARNING", logger="taskmanager.web.mail"):
        response = post_form(
            client,
            "/register",
            {
                "email": "dora@example.org",
                "username": "dora",
                "password": "a-long-passphrase-9",
                "password_confirm": "a-long-passphrase-9",
            },
        )
    assert response.status_code == 302, response.get_data(as_text=True)
    response.close()
    mail = "\n".join(r.getMessage() for r in caplog.records if "dora@example.org" in r.getMessage())
    link = re.search(r"http://localhost(/confirm/[^\s\"]+)", mail)
    assert link, mail
    dora = basic_auth("dora", "a-long-passphrase-9")

    # Not confirmed: the web login refuses, and so does every API route.
    response = web_login(client, "dora", "a-long-passphrase-9")
    assert response.status_code == 200
    assert "confirm" in response.get_data(as_text=True).lower()
    response.close()
    routes = _api_routes(app)
    assert len(routes) > 40
    for method, path in routes:
        answer = client.open(path, method=method, headers=dora, json={})
        assert answer.status_code == 401, (method, path, answer.status_code)
        answer.close()

    # Weighted assignment among all users never picks her.
    admin = basic_auth("admin", "admin")
    created = client.post(
        "/api/v1/task_templates", headers=admin, json={"label": "t", "content": "template_name: t"}
    )
    assert created.status_code in (200, 201), created.get_data(as_text=True)
    new_tasks = [{"project": "p", "template": "t", "content": {"n": n}} for n in range(30)]
    created = client.post("/api/v1/tasks", headers=admin, json=new_tasks)
    assert created.status_code == 201, created.get_data(as_text=True)
    with database(app) as session:
        from taskmanager.models import Task, User

        user = session.scalars(select(User).where(User.username == "dora")).one()
        assert user.roles == [] and user.assignment_weight == 0
        assert session.scalar(select(func.count()).select_from(Task)) == 30
        assert not any(user in task.users for task in session.scalars(select(Task)))

    # Confirmed, she may sign in, but without a role she may do nothing yet.
    client.get(link.group(1)).close()
    login(client, "dora", "a-long-passphrase-9")
    answer = client.get("/api/v1/tasks", headers=dora)
    assert answer.status_code == 403, answer.get_data(as_text=True)
    answer.close()


def test_registration_roles_and_weight_are_the_sites_choice(
    app: Any, settings: Any, tmp_path: Any
) -> None:
    from taskmanager import create_app
    from taskmanager.config import load_settings
    from taskmanager.models import db
    from taskmanager.services.accounts import onboarding

    from ..conftest import make_env

    env = make_env(
        settings.database_uri,
        tmp_path / "instance",
        SECURITY_REGISTERABLE="true",
        SECURITY_CONFIRMABLE="false",
        TASKMAN_REGISTRATION_ROLES="user",
        TASKMAN_REGISTRATION_WEIGHT="1.5",
    )
    site = create_app(load_settings(env))
    site.config["TESTING"] = True
    try:
        with site.app_context():
            onboarding.run(db.session, site.extensions["taskman_settings"])
        visitor = site.test_client()
        response = post_form(
            visitor,
            "/register",
            {
                "email": "ed@example.org",
                "username": "ed",
                "password": "a-long-passphrase-9",
                "password_confirm": "a-long-passphrase-9",
            },
        )
        assert response.status_code == 302, response.get_data(as_text=True)
        response.close()
        answer = visitor.get("/api/v1/tasks", headers=basic_auth("ed", "a-long-passphrase-9"))
        assert answer.status_code == 200, answer.get_data(as_text=True)
        answer.close()
        with site.app_context():
            from taskmanager.services.accounts import users

            ed = users.get_or_raise(db.session, reference="ed")
            assert [role.name for role in ed.roles] == ["user"]
            assert ed.assignment_weight == 1.5
    finally:
        with site.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.mark.parametrize(
    "url", ["/tasks", "/users", "/groups", "/tags", "/templates", "/taskgroups", "/"]
)
def test_list_pages_load_in_a_fixed_number_of_queries(
    app: Any, client: Any, world: World, url: str
) -> None:
    from sqlalchemy import event

    from taskmanager.models import db

    login(client, "admin", "admin")
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    with app.app_context():
        engine = db.engine

    def queries() -> int:
        statements.clear()
        event.listen(engine, "before_cursor_execute", count)
        try:
            get_ok(client, url)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(statements)

    before = queries()
    with database(app) as session:
        add_tasks(session, world)
    assert queries() == before, "\n".join(statements)


def add_tasks(session: Any, world: World) -> None:
    from taskmanager.services.accounts import groups
    from taskmanager.services.tasks import creation

    alice, bob = session.merge(world.alice), session.merge(world.bob)
    for n in range(12):
        team = groups.create(session, groupname=f"team{n}", users=[alice, bob])
        creation.create(
            session,
            spec=creation.NewTask(
                project=f"p{n % 3}",
                template="t1-review",
                content={"n": n},
                users=["carol"],
                groups=[team.groupname],
                tags=[f"tag{n}"],
            ),
            actor=session.merge(world.admin),
        )
    session.commit()


def test_forgotten_password_is_reset_through_the_mailed_link(
    client: Any, world: World, caplog: Any
) -> None:
    with caplog.at_level("WARNING", logger="taskmanager.web.mail"):
        response = post_form(client, "/reset", {"email": "alice@example.org"})
    response.close()
    mail = "\n".join(r.getMessage() for r in caplog.records)
    link = re.search(r"http://localhost(/reset/[^\s\"]+)", mail)
    assert link, mail
    response = post_form(
        client,
        link.group(1),
        {"password": "brand-new-secret-7", "password_confirm": "brand-new-secret-7"},
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    response.close()
    login(client, "alice", "brand-new-secret-7")


def test_the_session_cookie_is_http_only_and_same_site(client: Any, world: World) -> None:
    response = web_login(client, "alice", PASSWORD)
    cookies = [v for k, v in response.headers.items() if k == "Set-Cookie"]
    response.close()
    session_cookie = next(c for c in cookies if c.startswith("taskmanager_session="))
    assert "HttpOnly" in session_cookie
    assert "SameSite=Lax" in session_cookie


def test_pages_and_their_links_carry_a_deployment_prefix(app: Any, world: World) -> None:
    from werkzeug.exceptions import NotFound
    from werkzeug.middleware.dispatcher import DispatcherMiddleware
    from werkzeug.test import Client

    client = Client(DispatcherMiddleware(NotFound(), {"/taskmanager": app}))
    response = client.get("/taskmanager/tasks")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/taskmanager/login?next=")
    response.close()
    page = client.get("/taskmanager/login").get_data(as_text=True)
    assert 'action="/taskmanager/login"' in page
    assert 'href="/taskmanager/static/web/app.css"' in page
    token = csrf_token_from(page)
    response = client.post(
        "/taskmanager/login",
        data={"identity": "admin", "password": "admin", "csrf_token": token},
    )
    assert response.headers["Location"] == "/taskmanager/"
    response.close()
    dashboard = client.get("/taskmanager/").get_data(as_text=True)
    links = re.findall(r'href="([^"#]+)"', dashboard)
    assert links and all(link.startswith("/taskmanager/") for link in links), links


def test_a_plain_user_is_refused_admin_actions(client: Any, world: World) -> None:
    login(client, "bob")
    own = world.tasks[3]
    token = csrf_token_from(get_ok(client, f"/tasks/{own.id}"))
    refused = [
        (f"/tasks/{own.id}/lock", {"user": str(world.alice.id)}),  # moving a lock
        (f"/groups/{world.readers.id}/members", {"user": str(world.alice.id)}),
        (f"/groups/{world.readers.id}/delete", {}),
        (f"/users/{world.alice.id}/deactivate", {}),
        (f"/users/{world.bob.id}/weight", {"assignment_weight": "9"}),
        ("/reassign", {"from_user": str(world.alice.id), "to_user": str(world.bob.id)}),
    ]
    for url, data in refused:
        response = client.post(url, data={**data, "csrf_token": token})
        assert response.status_code == 403, url
        response.close()
    # Taking the lock of his own task is his to do.
    response = client.post(f"/tasks/{own.id}/lock", data={"csrf_token": token})
    assert response.status_code == 302
    response.close()
    assert "Locked by" in get_ok(client, f"/tasks/{own.id}")


def test_the_login_form_needs_its_csrf_token_but_json_clients_do_not(client: Any) -> None:
    response = client.post("/login", data={"identity": "admin", "password": "admin"})
    assert response.status_code == 200  # the form again, not signed in
    assert "CSRF" in response.get_data(as_text=True)
    response.close()
    response = client.get("/tasks")
    assert response.status_code == 302
    response.close()
    response = client.post("/login", json={"username": "admin", "password": "admin"})
    assert response.status_code == 200, response.get_data(as_text=True)
    response.close()


def test_task_list_shows_domain_statuses_and_the_range_paging_counts(
    client: Any, world: World
) -> None:
    login(client, "admin", "admin")
    page = get_ok(client, "/tasks")
    assert 'class="badge status-queued"' in page and 'class="badge status-done"' in page
    assert "1–8 of 8 tasks" in page
    assert 'href="/tasks?page=2"' not in page
    with database(client.application) as session:
        first = session.scalar(select(func.min(Task.id)))
        session.execute(update(Task).where(Task.id == first).values(status="reviewing"))
        session.commit()
    assert 'class="badge status-other">reviewing' in get_ok(client, "/tasks")
