"""Small HTMX helpers: detect HX requests, render a partial or the full page, redirects."""

from __future__ import annotations

from typing import Any

from flask import Response, make_response, redirect, render_template, request
from werkzeug.wrappers import Response as BaseResponse


def is_htmx() -> bool:
    """True when the request was made by htmx (and is not a history restore)."""
    return request.headers.get("HX-Request") == "true" and not request.headers.get(
        "HX-History-Restore-Request"
    )


def render_page(
    page_template: str, partial_template: str, /, http_status: int = 200, **context: Any
) -> Response:
    """Render the partial alone for an HX request, else the full page that includes it."""
    template = partial_template if is_htmx() else page_template
    response = make_response(render_template(template, **context), http_status)
    response.vary.add("HX-Request")
    return response


def redirect_to(url: str) -> BaseResponse:
    """Redirect after POST (303), or HX-Redirect for htmx so the whole window moves."""
    if is_htmx():
        response = make_response("", 204)
        response.headers["HX-Redirect"] = url
        return response
    return redirect(url, code=303)


SANDBOXED_HTML_CSP = (
    "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'self'"
)


def sandboxed_html(html: str) -> Response:
    """Untrusted HTML (a mail) for an iframe of our own: no scripts, no requests out."""
    response = make_response(html)
    response.headers["Content-Security-Policy"] = SANDBOXED_HTML_CSP
    return response
