import json

import pytest

from taskmanager.models import Task
from taskmanager.services.kit.errors import Conflict, InvalidInput
from taskmanager.services.reference import templates

VIEWR_YAML = """
template_name: review
scans:
  - label: T1
    modality: MR
  - label: FLAIR
fields: []
"""


def test_content_is_stored_as_text(session) -> None:
    from_object = templates.create(session, label="a", content={"scans": [{"label": "T1"}]})
    assert json.loads(from_object.content) == {"scans": [{"label": "T1"}]}
    from_yaml = templates.create(session, label="b", content=VIEWR_YAML)
    assert from_yaml.content == VIEWR_YAML
    from_json = templates.create(session, label="c", content='{"x": 1}')
    assert from_json.content == '{"x": 1}'
    with pytest.raises(InvalidInput) as error:
        templates.create(session, label="d", content="a: [unclosed")
    assert "content" in error.value.errors
    with pytest.raises(InvalidInput):
        templates.create(session, label="e", content=42)
    with pytest.raises(InvalidInput):
        templates.create(session, label="f", content="x" * 70_000)


def test_declared_scans() -> None:
    assert templates.declared_scans(VIEWR_YAML) == {"T1", "FLAIR"}
    assert templates.declared_scans('{"scans": {"T1": {}, "T2": {}}}') == {"T1", "T2"}
    assert templates.declared_scans('{"scans": ["T1"]}') == {"T1"}
    assert templates.declared_scans('{"fields": []}') is None
    assert templates.declared_scans('{"scans": []}') is None
    assert templates.declared_scans("just text") is None
    assert templates.declared_scans("a: [unclosed") is None


def test_label_is_unique_and_looked_up_first(session) -> None:
    first = templates.create(session, label="first", content={})
    second = templates.create(session, label=str(first.id), content={})
    session.commit()
    with pytest.raises(Conflict):
        templates.create(session, label="first", content={})
    # The URL of a template carries its label, so a label wins over an equal id.
    assert templates.get_by_reference(session, reference=str(first.id)) is second
    assert templates.get_by_reference(session, reference="/api/v1/task_templates/first") is first
    assert templates.get_by_reference(session, reference=second.id) is second


def test_update_changes_label_and_content(session) -> None:
    template = templates.create(session, label="first", content={})
    templates.update(session, template=template, changes={"label": "renamed", "content": "a: 1"})
    session.commit()
    assert (template.label, template.content) == ("renamed", "a: 1")


def test_delete_refuses_a_template_in_use(session) -> None:
    used = templates.create(session, label="used", content={})
    unused = templates.create(session, label="unused", content={})
    session.add(Task(project="p", raw_content="{}", template=used))
    session.commit()
    with pytest.raises(Conflict) as error:
        templates.delete(session, template=used)
    assert "template" in error.value.errors
    templates.delete(session, template=unused)
    session.commit()
    assert templates.get_by_reference(session, reference="unused") is None
    assert templates.get_by_reference(session, reference="used") is not None
