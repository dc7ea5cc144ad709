"""A second, read-only reference page of API v1: Redoc, served from the package (no CDN)."""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("api_reference", __name__)


@bp.get("/api/v1/redoc")
def redoc() -> str:
    return render_template("api/redoc.html")
