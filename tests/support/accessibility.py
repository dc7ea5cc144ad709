"""Accessibility checks of a page open in the browser: axe-core's findings and sideways scroll."""

from __future__ import annotations

from typing import Any

from axe_playwright_python.sync_playwright import Axe

# The impacts the web UI must not have on any page (issue 18: 0 serious, 0 critical).
BLOCKING_IMPACTS = frozenset({"serious", "critical"})

_axe = Axe()


def blocking_violations(page: Any) -> list[str]:
    """axe-core's serious and critical findings on the page, one readable line each."""
    results = _axe.run(page)
    found = []
    for violation in results.response["violations"]:
        if violation.get("impact") not in BLOCKING_IMPACTS:
            continue
        targets = [", ".join(node["target"]) for node in violation["nodes"][:5]]
        found.append(
            f"{violation['id']} ({violation['impact']}): {violation['help']}"
            f" - {len(violation['nodes'])} element(s): {'; '.join(targets)}"
        )
    return found


def sideways_overflow(page: Any) -> int:
    """How many pixels the page scrolls sideways (0 when nothing sticks out)."""
    return int(
        page.evaluate(
            "document.scrollingElement.scrollWidth - document.scrollingElement.clientWidth"
        )
    )
