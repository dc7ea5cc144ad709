"""Declared scans of templates and tags created on demand."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from taskmanager.models import Tag
from taskmanager.services import task_support


def test_declared_scans_from_json_yaml_or_objects() -> None:
    viewr = {"scans": [{"label": "T1", "modality": "MR"}, {"label": "FLAIR"}]}
    assert task_support.declared_scans(json.dumps(viewr)) == {"T1", "FLAIR"}
    assert task_support.declared_scans("scans:\n  - label: T1\n") == {"T1"}
    assert task_support.declared_scans({"scans": {"T1": {}, "T2": {}}}) == {"T1", "T2"}
    assert task_support.declared_scans({"scans": ["T1"]}) == {"T1"}
    assert task_support.declared_scans({"template_name": "x"}) is None
    assert task_support.declared_scans("just text") is None
    assert task_support.declared_scans("{not: [valid") is None
    assert task_support.declared_scans(None) is None


def test_tags_are_created_once(session) -> None:
    first = task_support.get_or_create_tags(session, names=["a", "b"])
    second = task_support.get_or_create_tags(session, names=["b", "c", "c"])
    assert set(first) == {"a", "b"} and set(second) == {"b", "c"}
    assert first["b"].id == second["b"].id
    assert session.scalar(select(func.count()).select_from(Tag)) == 3
    assert task_support.get_or_create_tags(session, names=[]) == {}
