"""Admin side of the portal. The blueprint is filled by the admin/import work."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")
