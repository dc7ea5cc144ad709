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


# The outermost elements whose right edge lies beyond the viewport (a scrolling box's contents
# do not count: they scroll inside it).
_STICKING_OUT = """
() => {
  const width = document.documentElement.clientWidth;
  const scrolls = (el) => ['auto', 'scroll'].includes(getComputedStyle(el).overflowX);
  const name = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
    + (el.classList.length ? '.' + [...el.classList].join('.') : '');
  const found = [];
  const visit = (el) => {
    if (el.getBoundingClientRect().right > width + 0.5) {
      found.push(name(el) + ' (' + Math.round(el.getBoundingClientRect().right) + ' px)');
      return;
    }
    if (!scrolls(el)) { [...el.children].forEach(visit); }
  };
  [...document.body.children].forEach(visit);
  return found.slice(0, 5);
}
"""


def sticking_out(page: Any) -> list[str]:
    """The outermost elements beyond the right edge of the viewport, to say what to fix."""
    return list(page.evaluate(_STICKING_OUT))
