"""The task rules, checked on the service layer against the real database."""

from __future__ import annotations

import json

import pytest

from taskmanager.services.kit.errors import InvalidInput

from ...support.task_factories import (
    make_task,
    make_template,
)

VIEWR_TEMPLATE = {
    "template_name": "viewr",
    "scans": [{"label": "T1", "modality": "MR"}, {"label": "FLAIR", "modality": "MR"}],
}


def test_matching_scan_sources_are_accepted(session) -> None:
    make_template(session, "viewr", VIEWR_TEMPLATE)
    content = {"template": "viewr", "scan_sources": {"T1": "http://x/t1", "FLAIR": "http://x/f"}}
    assert make_task(session, template="viewr", content=content).id


def test_scan_mismatch_names_missing_and_extra(session) -> None:
    make_template(session, "viewr", VIEWR_TEMPLATE)
    content = {"scan_sources": {"T1": "a", "T2": "b"}}
    with pytest.raises(InvalidInput) as error:
        make_task(session, template="viewr", content=content)
    message = error.value.errors["content"][0]
    assert "missing FLAIR" in message and "extra T2" in message
    assert error.value.extra == {"missing_scans": ["FLAIR"], "extra_scans": ["T2"]}


def test_scan_check_reads_yaml_templates_and_text_content(session) -> None:
    make_template(session, "yaml", "template_name: yaml\nscans:\n  - label: T1\n  - label: T2\n")
    with pytest.raises(InvalidInput):
        make_task(session, template="yaml", content=json.dumps({"scan_sources": {"T1": "a"}}))
    with pytest.raises(InvalidInput):
        make_task(session, template="yaml", content="scan_sources:\n  T1: a\n")
    ok = make_task(session, template="yaml", content="scan_sources:\n  T1: a\n  T2: b\n")
    assert ok.id


def test_no_scan_check_without_declared_scans_or_scan_sources(session) -> None:
    make_template(session, "plain", {"template_name": "plain"})
    make_template(session, "viewr", VIEWR_TEMPLATE)
    assert make_task(session, template="plain", content={"scan_sources": {"X": "a"}}).id
    assert make_task(session, template="viewr", content={"name": "no scans given"}).id
