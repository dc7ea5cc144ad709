"""The progress pages through the test client: a project's page, the dashboard's and a group's
per-annotator tables, and who may see whom (issue 18)."""

from __future__ import annotations

import json
import re
from typing import Any

from .conftest import database
from .seed import STUDY, World, seed_study
from .test_pages import get_ok, login


def _rows(html: str) -> dict[str, str]:
    """The per-annotator table's rows by username (the link text of the first cell)."""
    table = html.split('<table class="annotators">', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr class=\"[^\"]*\">(.*?)</tr>", table, re.S)
    return {re.search(r"<a href=\"[^\"]*\">([^<]+)</a>", row).group(1): row for row in rows}  # type: ignore[union-attr]


def test_the_project_page_names_who_is_behind_and_when_it_finishes(
    app: Any, client: Any, world: World
) -> None:
    with database(app) as session:
        study = seed_study(session)
    login(client, "manager")
    html = get_ok(client, f"/projects/{STUDY}")
    rows = _rows(html)
    assert set(rows) == {"dora", "emil", "finn"}
    assert [name for name, row in rows.items() if ">behind<" in row] == ["finn"]
    assert [name for name, row in rows.items() if ">idle<" in row] == ["finn"]
    # Each user's row lists their tasks in the project.
    assert f'href="/tasks?user=finn&amp;project={STUDY}"' in rows["finn"]
    # The estimate: 10 open at 2.0 a day, finished 5 days from today.
    estimate = html.split('id="estimate"', 1)[1].split("</p>", 1)[0]
    assert "10 open tasks" in estimate and "2.0 done per day" in estimate
    assert f'finished on <time datetime="{study.finish.isoformat()}">' in estimate
    # The chart's data, and the table that says the same for screen readers.
    data = json.loads(html.split('id="timeline-data">', 1)[1].split("</script>", 1)[0])
    assert data["done"][-14:] == [2] * 14 and data["left"][-1] == 10
    assert "<caption>Tasks done per day and tasks left" in html
    assert "vendor/chartjs/chart.umd.js" in html and "web/charts.js" in html


def test_the_dashboard_links_projects_and_shows_estimates_and_annotators(
    app: Any, client: Any, world: World
) -> None:
    with database(app) as session:
        study = seed_study(session)
    login(client, "admin", "admin")
    html = get_ok(client, "/?sort_annotators=-done")
    assert f'href="/projects/{STUDY}"' in html
    assert f'<time datetime="{study.finish.isoformat()}">' in html
    rows = _rows(html)
    assert list(rows)[:3] == ["dora", "emil", "finn"]  # sorted by done, most first
    assert 'href="/tasks?user=dora"' in rows["dora"]
    # The charts' scripts load only where a chart is.
    assert "chart.umd.js" not in html


def test_the_group_page_shows_its_members_progress(client: Any, world: World) -> None:
    login(client, "manager")
    html = get_ok(client, f"/groups/{world.readers.id}?sort_annotators=-open")
    assert list(_rows(html)) == ["bob"]
    assert "Progress of the members" in html


def test_a_plain_user_sees_only_their_own_row_and_projects_they_have_tasks_in(
    app: Any, client: Any, world: World
) -> None:
    with database(app) as session:
        seed_study(session)
    login(client, "alice")
    assert list(_rows(get_ok(client, "/"))) == ["alice"]
    assert list(_rows(get_ok(client, "/projects/brain-study"))) == ["alice"]
    for hidden in (STUDY, "no-such-project"):
        response = client.get(f"/projects/{hidden}")
        assert response.status_code == 404
        response.close()


def test_an_unknown_sort_falls_back_to_usernames(client: Any, world: World) -> None:
    login(client, "admin", "admin")
    rows = list(_rows(get_ok(client, "/projects/brain-study?sort_annotators=nonsense")))
    assert rows == sorted(rows)
