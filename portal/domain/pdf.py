"""HTML to PDF with WeasyPrint, fetching nothing it is not given.

Every PDF the product makes (invoice copies, statements, plan agreements, print batches of
letters) is rendered here. Letters carry texts that admins edit, and any text can hold a
`file:` or `http:` address: WeasyPrint would read the file or call the address and even
embed the result as a PDF attachment. So a PDF gets one URL fetcher that serves only

- `data:` URIs (the content is in the document already),
- the app's own static files (`/static/...`, read from the package, never outside it),
- brand logos from the database (`/brand/<id>/logo`, as the portal serves them),

and refuses everything else; relative addresses resolve against an origin that exists
nowhere (`.invalid`). Attachment links (`rel="attachment"` on any element) are taken out of
the parsed document before it is laid out, so no PDF carries an attachment.
"""

from __future__ import annotations

import logging
import mimetypes
import re
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit
from urllib.request import DataHandler, Request

if TYPE_CHECKING:
    from weasyprint import HTML

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
ORIGIN = "https://portal.invalid"  # RFC 2606: a name that resolves nowhere
BASE_URL = ORIGIN + "/"
_LOGO = re.compile(r"^/brand/(\d{1,9})/logo$")

# brand id -> (logo bytes, MIME type), or None when the brand has no logo
LogoSource = Callable[[int], tuple[bytes, str] | None]


class Refused(ValueError):
    """An address a PDF may not fetch."""


def render(html: str, logos: LogoSource | None = None) -> bytes:
    """The PDF of `html`; only data URIs, static files and brand logos are fetched."""
    from weasyprint import HTML

    document = HTML(string=html, base_url=BASE_URL, url_fetcher=fetcher(logos))
    strip_attachments(document)
    pdf: bytes = document.write_pdf()
    return pdf


def strip_attachments(document: HTML) -> int:
    """Take the `attachment` link type off every element of the parsed document (WeasyPrint
    embeds `<link rel=attachment>` and `<a rel=attachment>` targets as files); returns how
    many elements had it."""
    stripped = 0
    for element in document.etree_element.iter():
        rel = element.get("rel") if isinstance(element.tag, str) else None
        if not rel:
            continue
        tokens = rel.split()
        kept = [t for t in tokens if t.lower() != "attachment"]
        if len(kept) != len(tokens):
            element.set("rel", " ".join(kept))
            stripped += 1
    return stripped


def fetcher(logos: LogoSource | None = None) -> Any:
    """A WeasyPrint URL fetcher that serves data URIs, static files and brand logos only."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class _Fetcher(URLFetcher):
        def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
            body, mime = resolve(url, logos)
            return URLFetcherResponse(url, body, {"Content-Type": mime})

    return _Fetcher(allow_redirects=False)


def resolve(url: str, logos: LogoSource | None = None) -> tuple[bytes, str]:
    """The content and MIME type behind `url`; raises Refused for anything not allowed."""
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme == "data":
        try:
            with DataHandler().data_open(Request(url)) as response:  # noqa: S310 (data: only)
                return response.read(), response.headers.get_content_type()
        except ValueError as exc:
            raise Refused(f"not a data URI: {url[:80]}") from exc
    parts = urlsplit(url)
    if parts.scheme != "https" or parts.netloc != urlsplit(ORIGIN).netloc:
        log.warning("a PDF asked for %s; refused", url[:200])
        raise Refused(f"not fetched: {url[:200]}")
    path = unquote(parts.path)
    if path.startswith("/static/"):
        return _static(path.removeprefix("/static/")), _mime(path)
    found = _LOGO.match(path)
    if found and logos is not None:
        logo = logos(int(found.group(1)))
        if logo is not None:
            return logo[0], logo[1]
    raise Refused(f"not fetched: {url[:200]}")


def _static(relative: str) -> bytes:
    """A file under the static folder; no way up or out of it (.., links, odd characters)."""
    parts = PurePosixPath(relative).parts
    if not parts or any(p in ("..", ".") or "\\" in p or "\x00" in p for p in parts):
        raise Refused(f"not a static file: {relative[:200]}")
    root = STATIC_DIR.resolve()
    path = root.joinpath(*parts).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise Refused(f"not a static file: {relative[:200]}")
    return path.read_bytes()


def _mime(path: str) -> str:
    return mimetypes.guess_type(path)[0] or "application/octet-stream"
