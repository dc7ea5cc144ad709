"""The progress pages in a real browser: the project's chart is drawn from the page's data with
its table beside it, no console errors, no blocking accessibility findings, no sideways scroll."""

from __future__ import annotations

from typing import Any

from ..support.accessibility import blocking_violations, sideways_overflow
from .conftest import database
from .seed import PASSWORD, STUDY, World, seed_study


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
    assert blocking_violations(page) == []
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
        assert blocking_violations(page) == [], url
        snap(part)
