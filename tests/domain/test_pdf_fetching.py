"""PDFs fetch nothing they are not given: no files, no web addresses, no attachments.

A stand-in web server on another port records every request; the PDFs must not reach it,
must not embed files of this machine, and must carry no PDF attachment at all.
"""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import pytest
from pypdf import PdfReader

from portal.db import db
from portal.domain import pdf
from portal.domain.documents import html_to_pdf
from portal.domain.messaging import letters, templates
from portal.mails import sample_contexts
from portal.models import Brand
from tests.conftest import login_as
from tests.dunning.conftest import segment  # noqa: F401 (a fixture)
from tests.dunning.test_channels import REMINDER_DAY, due_invoice, use_channels
from tests.dunning.test_engine import png_bytes, run
from tests.factories import create_brand, create_debtor, create_invoice

SECRET_FILE = "/etc/passwd"


class Recorder:
    """A web server on a free port that answers everything and remembers what it was asked."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                recorder.paths.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.end_headers()
                self.wfile.write(png_bytes())

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    server = Recorder()
    yield server
    server.close()


def hostile_html(url: str) -> str:
    """Every way we know for HTML to make WeasyPrint read a file or call an address."""
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg">'
        f'<image href="{url}/in-svg.png" width="9" height="9"/></svg>'
    )
    return f"""
<link rel="attachment" href="file://{SECRET_FILE}" title="secrets">
<link rel="stylesheet" href="{url}/sheet.css">
<style>
  @import url({url}/import.css);
  @font-face {{ font-family: x; src: url({url}/font.woff) }}
  .bg {{ background: url(file://{SECRET_FILE}) }}
</style>
<p class="bg" style="background-image: url({url}/inline-css)">Dear customer,</p>
<img src="{url}/img.png" alt="">
<img src="file://{SECRET_FILE}" alt="">
<img src="/static/%2e%2e/%2e%2e/pyproject.toml" alt="">
<object data="{url}/object.png"></object>
<a rel="attachment" href="file://{SECRET_FILE}">terms</a>
<a rel="nofollow ATTACHMENT" href="data:text/plain,hello">notes</a>
<img alt="" src="data:image/svg+xml,{quote(svg)}">
"""


def attachments(document: bytes) -> list[str]:
    """Files embedded in the PDF: in the document's name tree or as page annotations."""
    reader = PdfReader(io.BytesIO(document))
    found = list(reader.attachments)
    for page in reader.pages:
        for annotation in page.get("/Annots") or []:
            annotation = annotation.get_object()
            if annotation.get("/Subtype") == "/FileAttachment":
                found.append(str(annotation.get("/FS", {}).get("/F")))
    return found


def text_of(document: bytes) -> str:
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(document)).pages)


def test_a_pdf_reads_no_file_calls_no_address_and_carries_no_attachment(app, recorder):
    with app.test_request_context():
        document = html_to_pdf(f"<!doctype html><html><body>{hostile_html(recorder.url)}</body>")
    assert recorder.paths == []
    assert attachments(document) == []
    assert "root:" not in text_of(document) and "Dear customer" in text_of(document)


def test_a_print_batch_with_a_hostile_letter_text_fetches_nothing(app, recorder, segment):  # noqa: F811
    """The finding: an admin's reminder text made the print batch embed files of the server."""
    use_channels(segment, "letter")
    debtor = create_debtor(segment_id=segment.id)
    due_invoice(debtor)
    brand = db.session.get(Brand, debtor.brand_id)
    default = templates.default("reminder", "en")
    hostile = templates.Source(default.subject, hostile_html(recorder.url) + default.html, "")
    with app.test_request_context():
        sample = sample_contexts(
            db.session(), brand, "reminder", "en", app.config["SETTINGS"], REMINDER_DAY
        )
        hostile = templates.Source(hostile.subject, hostile.html, default.text)
        templates.save(db.session(), brand.id, "reminder", "en", hostile, "admin", sample)
        db.session.commit()
    run(app, REMINDER_DAY)
    with app.test_request_context():
        from portal.mails import LetterWriter, letters_pdf

        batch = letters.make_batch(
            db.session(), "test", REMINDER_DAY, LetterWriter(app.config["SETTINGS"]), letters_pdf
        )
        db.session.commit()
    assert batch is not None and batch.count == 1
    assert recorder.paths == []
    assert attachments(batch.pdf) == []
    assert "Dear customer" in text_of(batch.pdf)


def test_invoice_copies_and_statements_with_hostile_data_fetch_nothing(client, recorder):
    payload = f'<img src="{recorder.url}/x.png"><link rel="attachment" href="file://{SECRET_FILE}">'
    brand = create_brand(
        name=f"Shop {payload}"[:120],
        address=f"url({recorder.url}/address) {payload}"[:250],
        support_email="help@example.com",
    )
    debtor = create_debtor(brand, name=f"Jansen {payload}"[:200])
    invoice = create_invoice(
        debtor,
        description=f"Delivery style=background:url({recorder.url}/d) {payload}",
        reference=f"url(file://{SECRET_FILE})"[:40],
    )
    login_as(client, debtor)
    copy = client.get(f"/invoices/{invoice.id}/pdf")
    statement = client.get("/statement.pdf")
    assert copy.status_code == statement.status_code == 200
    assert recorder.paths == []
    assert attachments(copy.data) == [] and attachments(statement.data) == []
    assert "Jansen" in text_of(copy.data) and "Jansen" in text_of(statement.data)


def test_static_files_and_brand_logos_are_served_and_nothing_else(app):
    static = pdf.resolve("https://portal.invalid/static/css/portal.css")
    assert static == (Path(pdf.STATIC_DIR, "css", "portal.css").read_bytes(), "text/css")
    assert pdf.resolve("data:text/plain;base64,aGVsbG8=") == (b"hello", "text/plain")
    logo = png_bytes()
    with_logo = create_brand(logo=logo, logo_mime="image/png")
    with app.test_request_context():
        from portal.domain.documents import logo_source

        logos = logo_source(db.session())
        assert pdf.resolve(f"https://portal.invalid/brand/{with_logo.id}/logo", logos) == (
            logo,
            "image/png",
        )
        for refused in (
            f"file://{SECRET_FILE}",
            "http://127.0.0.1:9/x.png",
            "https://example.com/static/css/portal.css",
            "ftp://example.com/x",
            "https://portal.invalid/static/../pyproject.toml",
            "https://portal.invalid/static/%2e%2e/%2e%2e/pyproject.toml",
            "https://portal.invalid/static/css/%2e%2e%2f%2e%2e%2f%2e%2e%2fpyproject.toml",
            "https://portal.invalid/static/",
            "https://portal.invalid/etc/passwd",
            f"https://portal.invalid/brand/{with_logo.id + 1000}/logo",
            "https://user@portal.invalid/static/css/portal.css",
        ):
            with pytest.raises(pdf.Refused):
                pdf.resolve(refused, logos)


def test_only_the_pdf_module_calls_weasyprint():
    """Every PDF goes through the safe fetcher: no other module may render on its own."""
    root = Path(pdf.__file__).resolve().parent.parent.parent
    users = sorted(
        str(path.relative_to(root))
        for folder in ("portal", "admin")
        for path in (root / folder).rglob("*.py")
        if re.search(r"^\s*(from|import) weasyprint", path.read_text(encoding="utf-8"), re.M)
    )
    assert users == ["portal/domain/pdf.py"]
