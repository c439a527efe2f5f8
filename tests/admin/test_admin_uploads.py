"""Uploads are checked before anything is kept on disk, and kept uploads have a quota:
the oldest go first, never the file an import job waits for."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import zipfile
from pathlib import Path

import pytest

from portal.db import db
from portal.models import ImportJob
from tests.admin.test_admin import admin_login, page_csrf
from tests.admin.test_admin_imports import upload
from tests.factories import create_admin, create_brand
from tests.imports.test_import import HEADER, csv_bytes, rows_ok, xlsx


@pytest.fixture
def admin(client):
    create_admin("boss@example.com")
    admin_login(client, "boss@example.com")
    return client


def kept(app) -> set[str]:
    folder = Path(app.instance_path) / "uploads"
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", "0" * (60 * 1024 * 1024))
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"MZ" + b"\x00" * 4096, "This is not a spreadsheet"),
        (b"%PDF-1.7\n" + b"x" * 100, "This is not a spreadsheet"),
        (None, "zip bomb"),
    ],
    ids=["executable", "pdf", "zip bomb"],
)
def test_a_file_that_fails_the_checks_is_not_kept(app, admin, data, words):
    before = kept(app)
    response = upload(admin, create_brand(), bomb() if data is None else data, "facturen.xlsx")
    assert response.status_code == 422
    assert words in response.get_data(as_text=True)
    assert kept(app) == before


def test_a_pdf_archive_that_is_not_a_zip_is_not_kept(app, admin):
    before = kept(app)
    token = page_csrf(admin, "/admin/imports")
    response = admin.post(
        "/admin/imports",
        data={
            "csrf_token": token,
            "brand_id": create_brand().id,
            "file": (io.BytesIO(xlsx(rows_ok())), "batch.xlsx"),
            "pdfs": (io.BytesIO(b"MZ not a zip"), "pdfs.zip"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "not a ZIP file" in response.get_data(as_text=True)
    assert kept(app) == before


def batch(tag: str, rows: int = 5500) -> bytes:
    """A valid CSV of about 280 KB, different for each tag."""
    return csv_bytes(
        [HEADER]
        + [
            [f"{tag}-{n}", "D1", "Anna", "anna@example.com", "01-10-2026", "", "10", "", "EUR", ""]
            for n in range(rows)
        ]
    )


def test_uploads_stay_within_the_quota_oldest_first_and_never_a_waiting_jobs_file(app, admin):
    settings = app.config["SETTINGS"]
    app.config["SETTINGS"] = dataclasses.replace(settings, uploads_quota_mb=1)
    try:
        brand = create_brand()
        a, b, c, d, e = (batch(tag) for tag in "ABCDE")
        assert 250_000 < len(a) < 350_000  # three fit in 1 MB, four do not
        first = upload(admin, brand, a, "a.csv").headers["Location"]
        upload(admin, brand, b, "b.csv")
        upload(admin, brand, c, "c.csv")
        assert admin.get(first).status_code == 200  # three fit
        fourth = upload(admin, brand, d, "d.csv")
        assert fourth.status_code == 303
        assert admin.get(first).status_code == 404  # the oldest made room
        # b, c and d wait for the worker: their files cannot make room
        for data in (b, c, d):
            file_hash = hashlib.sha256(data).hexdigest()
            db.session.add(ImportJob(brand_id=brand.id, file_hash=file_hash, filename="x.csv"))
        db.session.commit()
        refused = upload(admin, brand, e, "e.csv")
        assert refused.status_code == 422
        assert "There is no room to keep this upload" in refused.get_data(as_text=True)
        assert admin.get(fourth.headers["Location"]).status_code == 200
    finally:
        app.config["SETTINGS"] = settings
