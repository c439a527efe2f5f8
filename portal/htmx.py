"""Small HTMX helpers: detect HX requests, render a partial or the full page, redirects."""

from __future__ import annotations

from typing import Any

from flask import Response, make_response, redirect, render_template, request


def is_htmx() -> bool:
    """True when the request was made by htmx (and is not a history restore)."""
    return request.headers.get("HX-Request") == "true" and not request.headers.get(
        "HX-History-Restore-Request"
    )


def render_page(page: str, partial: str, status: int = 200, **context: Any) -> Response:
    """Render `partial` alone for an HX request, else the full `page` that includes it."""
    template = partial if is_htmx() else page
    response = make_response(render_template(template, **context), status)
    response.vary.add("HX-Request")
    return response


def redirect_to(url: str) -> Response:
    """Redirect after POST (303), or HX-Redirect for htmx so the whole window moves."""
    if is_htmx():
        response = make_response("", 204)
        response.headers["HX-Redirect"] = url
        return response
    return redirect(url, code=303)
