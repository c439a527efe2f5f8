"""Admin side of the portal: its own login, session cookie and pages under /admin."""

# ruff: noqa: E402, F401  (the imports below register the views on bp)
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")

from admin import (
    api_keys,
    collection,
    dunning,
    imports,
    insight,
    ledger,
    letters,
    messages,
    nav,
    outbox,
    payments,
    personal_data,
    plans,
    requests,
    routes,
    settings,
    webhooks,
    words,
    worklist,
    worklists,
)

bp.add_app_template_global(nav.menu, "admin_menu")
