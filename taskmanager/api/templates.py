"""Task templates routes; templates are addressed by label (ids work too)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from ..models import TaskTemplate, db
from ..services.kit.validation import max_length
from ..services.reference import templates as template_service
from . import bodies, examples, v1
from .auth import permission_required
from .bodies import Body
from .pagination import PageInfo, PageQuery, page_keys
from .uris import template_uri, uri_maker

TAGS = ["Task templates"]
CONTENT_DESCRIPTION = "The template document: a JSON object, or a JSON or YAML string"


class TemplateOut(BaseModel):
    uri: str = Field(description="URL of this template, by label")
    label: str
    content: str = Field(description="The document as stored (JSON or YAML text)")
    id: int


class TemplateList(PageInfo):
    task_templates: list[str] = Field(description="URLs (by label), ordered by id")
    total_task_templates: int


class TemplateCreate(Body):
    label: str = Field(max_length=max_length(TaskTemplate.label))
    content: dict[str, Any] | list[Any] | str = Field(description=CONTENT_DESCRIPTION)


class TemplateUpdate(Body):
    """Only the fields sent are changed."""

    label: str | None = Field(None, max_length=max_length(TaskTemplate.label))
    content: dict[str, Any] | list[Any] | str | None = Field(None, description=CONTENT_DESCRIPTION)


def template_detail(template: TaskTemplate) -> dict[str, Any]:
    return {
        "uri": template_uri(template.label),
        "label": template.label,
        "content": template.content,
        "id": template.id,
    }


@v1.get("/task_templates")
@bodies.input(PageQuery, location="query")
@v1.output(TemplateList)
@v1.doc(summary="List task templates (as URLs by label)", tags=TAGS, responses=[403])
@permission_required("task_read", "task_read_all")
def list_task_templates(query_data: PageQuery) -> dict[str, Any]:
    page = template_service.list_page(db.session, offset=query_data.offset, limit=query_data.limit)
    uri = uri_maker("api_v1.get_task_template", "template_id")
    return {
        "task_templates": [uri(label) for _id, label in page.items],
        **page_keys(page, "task_templates"),
    }


@v1.post("/task_templates")
@bodies.input(TemplateCreate, example=examples.TEMPLATE_CREATE)
@v1.output(TemplateOut, status_code=201, example=examples.TEMPLATE_OUT)
@v1.doc(summary="Create a task template", tags=TAGS, responses=[400, 403, 409])
@permission_required("template_add")
def create_task_template(json_data: TemplateCreate) -> dict[str, Any]:
    template = template_service.create(db.session, label=json_data.label, content=json_data.content)
    db.session.commit()
    return template_detail(template)


@v1.get("/task_templates/<template_id>")
@v1.output(TemplateOut)
@v1.doc(summary="One task template (by label, id or URL)", tags=TAGS, responses=[403, 404])
@permission_required("task_read", "task_read_all")
def get_task_template(template_id: str) -> dict[str, Any]:
    return template_detail(template_service.get_or_raise(db.session, reference=template_id))


@v1.put("/task_templates/<template_id>")
@bodies.input(TemplateUpdate)
@v1.output(TemplateOut)
@v1.doc(summary="Change a task template", tags=TAGS, responses=[400, 403, 404, 409])
@permission_required("template_update")
def update_task_template(template_id: str, json_data: TemplateUpdate) -> dict[str, Any]:
    template = template_service.get_or_raise(db.session, reference=template_id)
    changes = {field: getattr(json_data, field) for field in json_data.model_fields_set}
    template_service.update(db.session, template=template, changes=changes)
    db.session.commit()
    return template_detail(template)


@v1.delete("/task_templates/<template_id>")
@v1.output(TemplateOut)
@v1.doc(
    summary="Delete a task template",
    description="Refused (409) while tasks use it. Answers the template as it was.",
    tags=TAGS,
    responses=[403, 404, 409],
)
@permission_required("template_delete")
def delete_task_template(template_id: str) -> dict[str, Any]:
    template = template_service.get_or_raise(db.session, reference=template_id)
    detail = template_detail(template)
    template_service.delete(db.session, template=template)
    db.session.commit()
    return detail
