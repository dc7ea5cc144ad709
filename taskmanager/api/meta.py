"""Meta variables routes: `$LABEL` in task content stands for the variable's current value."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from ..models import Meta, db
from ..services.kit.validation import max_length
from ..services.metadata import meta as meta_service
from . import bodies, v1
from .auth import permission_required
from .bodies import Body
from .pagination import PageInfo, PageQuery, page_keys

TAGS = ["Meta"]
VALUE_DESCRIPTION = "Text (numbers and booleans are stored as text)"


class MetaHistoryOut(BaseModel):
    id: int
    timestamp: str = Field(description="ISO 8601: when the value was set")
    value: str


class MetaOut(BaseModel):
    id: int
    label: str
    value: str
    history: list[MetaHistoryOut] = Field(description="Every value it had, oldest first")


class MetaList(PageInfo):
    meta: list[MetaOut] = Field(description="Ordered by id")
    total_meta: int


class MetaCreate(Body):
    label: str = Field(
        max_length=max_length(Meta.label),
        description="Letters, digits and _, not starting with a digit (used as $LABEL)",
    )
    value: str | int | float | bool = Field(description=VALUE_DESCRIPTION)


class MetaUpdate(Body):
    value: str | int | float | bool = Field(description=VALUE_DESCRIPTION)


def meta_detail(meta: Meta) -> dict[str, Any]:
    return {
        "id": meta.id,
        "label": meta.label,
        "value": meta.value,
        "history": [
            {"id": entry.id, "timestamp": entry.timestamp.isoformat(), "value": entry.value}
            for entry in meta.history
        ],
    }


@v1.get("/meta")
@bodies.input(PageQuery, location="query")
@v1.output(MetaList)
@v1.doc(summary="List meta variables with their history", tags=TAGS, responses=[403])
@permission_required("meta_read_all")
def list_meta(query_data: PageQuery) -> dict[str, Any]:
    page = meta_service.list_page(db.session, offset=query_data.offset, limit=query_data.limit)
    return {"meta": [meta_detail(meta) for meta in page.items], **page_keys(page, "meta")}


@v1.post("/meta")
@bodies.input(MetaCreate)
@v1.output(MetaOut, status_code=201)
@v1.doc(summary="Create a meta variable", tags=TAGS, responses=[400, 403, 409])
@permission_required("meta_add")
def create_meta(json_data: MetaCreate) -> dict[str, Any]:
    meta = meta_service.create(db.session, label=json_data.label, value=json_data.value)
    db.session.commit()
    return meta_detail(meta)


@v1.get("/meta/<meta_id>")
@v1.output(MetaOut)
@v1.doc(summary="One meta variable (by id or label)", tags=TAGS, responses=[403, 404])
@permission_required("meta_read_all")
def get_meta(meta_id: str) -> dict[str, Any]:
    return meta_detail(meta_service.get_or_raise(db.session, reference=meta_id))


@v1.put("/meta/<meta_id>")
@bodies.input(MetaUpdate)
@v1.output(MetaOut)
@v1.doc(
    summary="Set a meta variable's value",
    description="Writes the variable and one history entry; tasks show the new value at once.",
    tags=TAGS,
    responses=[400, 403, 404],
)
@permission_required("meta_update")
def update_meta(meta_id: str, json_data: MetaUpdate) -> dict[str, Any]:
    meta = meta_service.get_or_raise(db.session, reference=meta_id)
    meta_service.update(db.session, meta=meta, value=json_data.value)
    db.session.commit()
    return meta_detail(meta)
