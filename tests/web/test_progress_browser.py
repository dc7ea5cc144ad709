"""The progress pages in a real browser: the project's chart is drawn from the page's data with
its table beside it, no console errors, no blocking accessibility findings, no sideways scroll."""

from __future__ import annotations

from typing import Any

from ..support.accessibility import BLOCKING_IMPACTS, _axe, sideways_overflow
from .conftest import database
from .seed import PASSWORD, STUDY, World, seed_study

# The parts of the pages this feature adds; the rest of each page (layout, status badges, the
# activity feed) is checked by the every-page tests.
OWN_PARTS: dict[str, list[list[str]]] = {
    "project": [["main"]],
    "dashboard": [[".progress-section"], ["table.progress"]],
    "group": [[".progress-section"]],
}
SHARED_PARTS = [[".badge"]]


def own_violations(page: Any, part: str) -> list[str]:
    """axe-core's serious and critical findings in what this feature adds to the page."""
    results = _axe.run(page, context={"include": OWN_PARTS[part], "exclude": SHARED_PARTS})
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']}"
        f" - {[node['target'] for node in violation['nodes'][:5]]}"
        for violation in results.response["violations"]
        if violation.get("impact") in BLOCKING_IMPACTS
    ]


def test_the_project_page_draws_its_chart_with_a_table_beside_it(
    app: Any, page: Any, snap: Any, log_in: Any, world: World
) -> None:
    with database(app) as session:
        seed_study(session)
    problems: list[str] = []
    page.on(
        "console",
        lambda message: problems.append(message.text) if message.type == "error" else None,
    )
    page.on("pageerror", lambda error: problems.append(str(error)))
    log_in("manager", PASSWORD)
    response = page.goto(f"/projects/{STUDY}")
    assert response is not None and response.status == 200
    page.wait_for_function(
        "() => window.Chart && window.Chart.getChart(document.getElementById('timeline-chart'))"
    )
    drawn = page.evaluate(
        """() => {
            const chart = window.Chart.getChart(document.getElementById('timeline-chart'));
            return {bars: chart.data.datasets[0].data.length, width: chart.width, height: chart.height};
        }"""
    )
    assert drawn["bars"] == 30 and drawn["width"] > 0 and drawn["height"] > 0
    fallback = page.locator("details.chart-table table")
    assert fallback.locator("caption").count() == 1
    assert fallback.locator("tbody tr").count() == 30
    assert "behind" in page.inner_text("table.annotators")
    snap("project")
    assert own_violations(page, "project") == []
    assert problems == []


def test_progress_pages_fit_a_phone(
    app: Any, page: Any, snap: Any, log_in: Any, world: World
) -> None:
    with database(app) as session:
        seed_study(session)
    log_in("manager", PASSWORD)
    page.set_viewport_size({"width": 390, "height": 844})
    pages = {
        "dashboard": "/",
        "project": f"/projects/{STUDY}",
        "group": f"/groups/{world.readers.id}",
    }
    for part, url in pages.items():
        response = page.goto(url)
        assert response is not None and response.status == 200, url
        assert sideways_overflow(page) == 0, url
        assert own_violations(page, part) == [], url
        snap(part)
