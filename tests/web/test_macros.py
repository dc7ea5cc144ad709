"""The shared page macros (taskmanager/templates/_macros.html): counts as people read them."""

from __future__ import annotations

import re
from typing import Any

from taskmanager.services.kit import paging
from taskmanager.web.lists import Pager


def rendered(app: Any, macro: str, *args: Any, url: str = "/tasks") -> str:
    with app.test_request_context(url):
        module = app.jinja_env.get_template("_macros.html").make_module({})
        return " ".join(str(getattr(module, macro)(*args)).split())


def big_pager(page: int) -> Pager:
    pager = Pager(page=page, per_page=25)
    pager.show(paging.Page([], 123_456, offset=pager.offset, limit=25))
    return pager


def test_the_range_and_the_pager_separate_thousands(app: Any) -> None:
    assert "1,226–1,250 of 123,456 tasks" in rendered(app, "range_info", big_pager(50), "tasks")
    pager = rendered(app, "pagination", big_pager(1_200))
    assert '<span class="current" aria-current="page">1,200</span>' in pager
    assert re.search(r'<a href="[^"]*page=4939">4,939</a>', pager)


def test_a_choice_of_several_is_a_group_of_checkboxes(app: Any) -> None:
    from taskmanager.web.forms import MailForm

    with app.test_request_context("/mail"):
        form = MailForm(meta={"csrf": False})
        form.groups.choices = [(1, "readers"), (2, "writers")]
        module = app.jinja_env.get_template("_macros.html").make_module({})
        html = " ".join(str(module.field(form.groups)).split())
    assert html.startswith('<fieldset class="field">')
    assert "<legend>Groups (every member)</legend>" in html
    assert html.count('type="checkbox"') == 2
    assert "<select" not in html
