"""Tags routes (a tag's tasks are listed by the tasks module)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from ..models import Tag, db
from ..services.kit.validation import max_length
from ..services.reference import tags as tag_service
from . import bodies, v1
from .auth import login_required, permission_required
from .bodies import Body
from .pagination import PageInfo, PageQuery, page_keys
from .tasks_schemas import TagRef
from .uris import tag_uri, uri_maker

TAGS = ["Tags"]


class TagOut(BaseModel):
    name: str
    uri: str = Field(description="URL of this tag")
    tasks: str = Field(description="URL of the tasks with this tag")
    id: int


class TagList(PageInfo):
    tags: list[TagRef] = Field(description="Ordered by id")
    total_tags: int


class TagIn(Body):
    name: str = Field(max_length=max_length(Tag.name))


def tag_detail(tag: Tag) -> dict[str, Any]:
    uri = tag_uri(tag.id)
    return {"name": tag.name, "uri": uri, "tasks": f"{uri}/tasks", "id": tag.id}


@v1.get("/tags")
@bodies.input(PageQuery, location="query")
@v1.output(TagList)
@v1.doc(summary="List tags", description="Any authenticated user.", tags=TAGS)
@login_required
def list_tags(query_data: PageQuery) -> dict[str, Any]:
    page = tag_service.list_page(db.session, offset=query_data.offset, limit=query_data.limit)
    uri = uri_maker("api_v1.get_tag", "tag_id")
    return {
        "tags": [{"uri": uri(tag.id), "name": tag.name} for tag in page.items],
        **page_keys(page, "tags"),
    }


@v1.post("/tags")
@bodies.input(TagIn)
@v1.output(TagOut, status_code=201)
@v1.doc(summary="Create a tag", tags=TAGS, responses=[400, 403, 409])
@permission_required("tag_add")
def create_tag(json_data: TagIn) -> dict[str, Any]:
    tag = tag_service.create(db.session, name=json_data.name)
    db.session.commit()
    return tag_detail(tag)


@v1.get("/tags/<tag_id>")
@v1.output(TagOut)
@v1.doc(summary="One tag (by id, name or URL)", description="Any authenticated user.", tags=TAGS)
@login_required
def get_tag(tag_id: str) -> dict[str, Any]:
    return tag_detail(tag_service.get_or_raise(db.session, reference=tag_id))


@v1.put("/tags/<tag_id>")
@bodies.input(TagIn)
@v1.output(TagOut)
@v1.doc(summary="Rename a tag", tags=TAGS, responses=[400, 403, 409])
@permission_required("tag_update")
def update_tag(tag_id: str, json_data: TagIn) -> dict[str, Any]:
    tag = tag_service.get_or_raise(db.session, reference=tag_id)
    tag_service.update(db.session, tag=tag, name=json_data.name)
    db.session.commit()
    return tag_detail(tag)


@v1.delete("/tags/<tag_id>")
@v1.output(TagOut)
@v1.doc(
    summary="Delete a tag",
    description="Removes the tag from its tasks. Answers the tag as it was.",
    tags=TAGS,
    responses=[403],
)
@permission_required("tag_delete")
def delete_tag(tag_id: str) -> dict[str, Any]:
    tag = tag_service.get_or_raise(db.session, reference=tag_id)
    detail = tag_detail(tag)
    tag_service.delete(db.session, tag=tag)
    db.session.commit()
    return detail
