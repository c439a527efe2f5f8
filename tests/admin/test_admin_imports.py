import io
import re

from openpyxl import load_workbook
from sqlalchemy import func, select

from portal.db import db
from portal.models import AuditEvent, Invoice, utcnow
from tests.admin.test_admin import admin_login, page_csrf
from tests.conftest import csrf_from, login_as
from tests.factories import create_admin, create_brand
from tests.imports.test_import import HEADER, csv_bytes, rows_ok, xlsx


def upload(client, brand, data, name="batch.xlsx", mode="full"):
    token = page_csrf(client, "/admin/imports")
    return client.post(
        "/admin/imports",
        data={
            "csrf_token": token,
            "brand_id": brand.id,
            "mode": mode,
            "file": (io.BytesIO(data), name),
        },
        content_type="multipart/form-data",
    )


def test_upload_preview_commit(client):
    brand = create_brand(name="Zonnestroom")
    create_admin("clerk@example.com", role="clerk")
    admin_login(client, "clerk@example.com")
    response = upload(client, brand, xlsx(rows_ok()))
    assert response.status_code == 303
    preview_url = response.headers["Location"]
    page = client.get(preview_url).get_data(as_text=True)
    assert "New invoices" in page and re.search(r'class="big">3<', page)
    assert db.session.scalar(select(func.count(Invoice.id))) == 0  # a preview changes nothing

    form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
    done = client.post(preview_url.split("?")[0], data=form)
    assert done.status_code == 303 and "/admin/imports/" in done.headers["Location"]
    assert db.session.scalar(select(func.count(Invoice.id))) == 3
    assert (
        db.session.scalar(
            select(func.count(AuditEvent.id)).where(AuditEvent.action == "admin.import_committed")
        )
        == 1
    )
    summary = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Import done" in summary


def test_errors_block_the_commit_and_can_be_downloaded(client):
    brand = create_brand()
    create_admin("boss@example.com")
    admin_login(client, "boss@example.com")
    bad = csv_bytes(
        [HEADER, ["F-1", "D1", "A", "a@example.com", "gisteren", "", "10", "", "EUR", ""]]
    )
    preview_url = upload(client, brand, bad, "bad.csv").headers["Location"]
    page = client.get(preview_url).get_data(as_text=True)
    assert "Nothing is imported while there are errors" in page
    assert "gisteren" in page
    path, query = preview_url.split("?")
    report = client.get(f"{path}/errors.xlsx?{query}")
    rows = list(load_workbook(io.BytesIO(report.data)).active.iter_rows(values_only=True))
    assert rows[1][0] == 2 and rows[1][1] == "Invoice date"
    form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
    form.update(
        {"brand": str(brand.id), "mode": "full", "csrf_token": page_csrf(client, "/admin/imports")}
    )
    refused = client.post(path, data=form)
    assert refused.status_code == 422
    assert db.session.scalar(select(func.count(Invoice.id))) == 0


def test_the_admin_fixes_the_mapping(client):
    brand = create_brand()
    create_admin("boss@example.com")
    admin_login(client, "boss@example.com")
    data = csv_bytes(
        [
            ["Nr", "Klant", "Mail", "Wanneer", "Hoeveel"],
            ["X-1", "K1", "k@example.com", "01-02-2026", "12,50"],
        ]
    )
    preview_url = upload(client, brand, data, "odd.csv").headers["Location"]
    assert "choose the columns" in client.get(preview_url).get_data(as_text=True)
    mapped = client.get(
        preview_url + "&map_invoice_number=0&map_debtor_number=1&map_email=2"
        "&map_invoice_date=3&map_total=4"
    )
    html = mapped.get_data(as_text=True)
    assert "Import 1 invoices" in html or "Import 1 invoice" in html


def test_upload_without_a_file_or_csrf(client):
    brand = create_brand()
    create_admin("boss@example.com")
    admin_login(client, "boss@example.com")
    token = page_csrf(client, "/admin/imports")
    empty = client.post(
        "/admin/imports",
        data={"csrf_token": token, "brand_id": brand.id},
        content_type="multipart/form-data",
    )
    assert empty.status_code == 422 and "Choose a file" in empty.get_data(as_text=True)
    no_csrf = client.post(
        "/admin/imports",
        data={"brand_id": brand.id, "file": (io.BytesIO(b"x"), "a.csv")},
        content_type="multipart/form-data",
    )
    assert no_csrf.status_code == 400
    assert (
        client.get("/admin/imports/preview/" + "0" * 64 + f"?brand={brand.id}").status_code == 404
    )
    assert client.get("/admin/imports/preview/../../etc/passwd").status_code == 404


def test_imported_invoice_shows_in_the_debtor_portal(client):
    brand = create_brand()
    create_admin("boss@example.com")
    admin_login(client, "boss@example.com")
    url = upload(client, brand, xlsx(rows_ok())).headers["Location"]
    page = client.get(url).get_data(as_text=True)
    form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
    client.post(url.split("?")[0], data=form)
    from sqlalchemy.orm import selectinload

    from portal.models import Debtor

    anna = db.session.scalars(
        select(Debtor).options(selectinload(Debtor.emails)).where(Debtor.number == "D1")
    ).one()
    login_as(client, anna)
    assert "F-1001" in client.get("/invoices?status=all").get_data(as_text=True)


def test_a_saved_mapping_profile_is_reused_for_the_next_file(client):
    brand = create_brand()
    create_admin("boss@example.com")
    admin_login(client, "boss@example.com")
    odd = [
        ["Nr", "Klant", "Mail", "Wanneer", "Hoeveel"],
        ["X-1", "K1", "k@example.com", "01-02-2026", "12,50"],
    ]
    url = upload(client, brand, csv_bytes(odd), "odd.csv").headers["Location"]
    mapped = (
        url + "&map_invoice_number=0&map_debtor_number=1&map_email=2&map_invoice_date=3&map_total=4"
    )
    page = client.get(mapped).get_data(as_text=True)
    path, query = mapped.split("?")
    from urllib.parse import parse_qsl

    form = dict(parse_qsl(query))
    form.update({"csrf_token": csrf_from(page), "profile_name": "Klantsysteem"})
    saved = client.post(f"{path}/profile", data=form)
    assert saved.status_code == 303 and "profile=" in saved.headers["Location"]

    # next month: the same columns in another order; the profile maps them by title
    later = [
        ["Hoeveel", "Wanneer", "Mail", "Klant", "Nr"],
        ["20,00", "01-03-2026", "k@example.com", "K1", "X-2"],
    ]
    upload_page = client.get("/admin/imports").get_data(as_text=True)
    assert "Klantsysteem" in upload_page
    profile_id = re.search(r'<option value="(\d+)" selected>[^<]*Klantsysteem', upload_page).group(
        1
    )
    token = page_csrf(client, "/admin/imports")
    response = client.post(
        "/admin/imports",
        data={
            "csrf_token": token,
            "brand_id": brand.id,
            "mode": "full",
            "profile": profile_id,
            "file": (io.BytesIO(csv_bytes(later)), "later.csv"),
        },
        content_type="multipart/form-data",
    )
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Nothing is imported while there are errors" not in html, re.findall(
        r"<td>[^<]*</td><td>[^<]*</td><td>(?:<span[^>]*>[^<]*</span>)?[^<]*</td>", html
    )
    assert re.search(r'class="big">1<', html)


def test_upload_with_a_zip_of_original_pdfs(client):
    from tests.imports.test_import import _zip

    brand = create_brand()
    create_admin("boss@example.com")
    admin_login(client, "boss@example.com")
    token = page_csrf(client, "/admin/imports")
    archive = _zip({"F-1001.pdf": "%PDF-1.4 original", "unknown.pdf": "%PDF-1.4 x"})
    response = client.post(
        "/admin/imports",
        data={
            "csrf_token": token,
            "brand_id": brand.id,
            "mode": "full",
            "file": (io.BytesIO(xlsx(rows_ok())), "batch.xlsx"),
            "pdfs": (io.BytesIO(archive), "pdfs.zip"),
        },
        content_type="multipart/form-data",
    )
    url = response.headers["Location"]
    page = client.get(url).get_data(as_text=True)
    assert "1 PDF matches an invoice" in page and "unknown.pdf" in page
    form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
    done = client.post(url.split("?")[0], data=form)
    summary = client.get(done.headers["Location"]).get_data(as_text=True)
    assert re.search(r"Original PDFs</h2><p class=\"big\">1<", summary)
    invoice = db.session.scalars(select(Invoice).where(Invoice.number == "F-1001")).one()
    assert invoice.has_original_pdf


def test_large_files_are_committed_by_the_worker_with_progress(client, app, monkeypatch):
    from portal.models import ImportJob

    monkeypatch.setitem(app.config, "IMPORT_BACKGROUND_BYTES", 100)  # every test file is "large"
    brand = create_brand()
    create_admin("boss@example.com")
    admin_login(client, "boss@example.com")
    url = upload(client, brand, xlsx(rows_ok())).headers["Location"]
    page = client.get(url).get_data(as_text=True)
    form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
    started = client.post(url.split("?")[0], data=form)
    assert started.status_code == 303 and "/admin/imports/jobs/" in started.headers["Location"]
    job = db.session.scalars(select(ImportJob)).one()
    assert job.status == "done" and job.batch_id  # the test worker runs tasks at once
    assert db.session.scalar(select(func.count(Invoice.id))) == 3
    poll = client.get(started.headers["Location"], headers={"HX-Request": "true"})
    assert poll.headers["HX-Redirect"] == f"/admin/imports/{job.batch_id}"
    assert "The import is done" in client.get(started.headers["Location"]).get_data(as_text=True)


def test_job_page_shows_progress_and_failures(client, app):
    from portal.models import ImportJob

    brand = create_brand()
    create_admin("boss@example.com")
    admin_login(client, "boss@example.com")
    running = ImportJob(
        brand_id=brand.id,
        file_hash="a" * 64,
        filename="big.xlsx",
        status="running",
        heartbeat_at=utcnow(),
    )
    failed = ImportJob(
        brand_id=brand.id,
        file_hash="b" * 64,
        filename="bad.xlsx",
        status="failed",
        error="3 rows have errors; check the file again",
    )
    db.session.add_all([running, failed])
    db.session.commit()
    from pathlib import Path

    from portal.domain.imports.jobs import Uploads

    folder = Path(app.instance_path) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    Uploads(folder).reporter(running.id)("checking", 40000, 100000)
    html = client.get(f"/admin/imports/jobs/{running.id}").get_data(as_text=True)
    assert 'value="40000" max="100000"' in html and "every 1s" in html
    assert "40,000 of 100,000" in html
    gone = client.get(f"/admin/imports/jobs/{failed.id}").get_data(as_text=True)
    assert "nothing was changed" in gone and "3 rows have errors" in gone and "every 1s" not in gone
    assert "bad.xlsx" in client.get("/admin/imports").get_data(as_text=True)


def test_an_import_whose_worker_died_is_marked_failed_and_can_be_started_again(client, app):
    """kill -9 of the worker during an import: the import is one transaction, so nothing
    was saved, but the job stayed 'running' for good. Without a heartbeat for two minutes
    it is failed, and the admin starts it again."""
    import datetime as dt
    from pathlib import Path

    from portal.domain.imports import jobs
    from portal.models import ImportJob
    from tests.imports.test_import import csv_bytes, rows_ok

    brand = create_brand()
    create_admin("boss@example.com")
    admin_login(client, "boss@example.com")
    folder = Path(app.instance_path) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    jobs.Uploads(folder).data("d" * 64).write_bytes(csv_bytes(rows_ok()))
    job = ImportJob(
        brand_id=brand.id,
        file_hash="d" * 64,
        filename="big.csv",
        status="running",
        heartbeat_at=utcnow() - dt.timedelta(minutes=3),
    )
    db.session.add(job)
    db.session.commit()
    page = client.get(f"/admin/imports/jobs/{job.id}").get_data(as_text=True)
    assert "The import stopped; nothing was changed." in page and "worker stopped" in page
    assert "every 1s" not in page and "Start this import again" in page
    restart = f"/admin/imports/jobs/{job.id}/restart"
    token = csrf_from(page)
    assert client.post(restart, data={"csrf_token": token}).status_code == 303
    db.session.expire_all()
    assert db.session.get(ImportJob, job.id).status == "done"  # the test worker runs at once
    assert db.session.scalar(select(func.count(Invoice.id))) == 3
    # a second click (or a second admin) finds nothing to restart
    assert client.post(restart, data={"csrf_token": token}).status_code == 409


def test_a_job_whose_file_turned_bad_fails_and_changes_nothing(app):
    from pathlib import Path

    from portal.domain.imports import jobs
    from portal.models import ImportJob
    from tests.imports.test_import import HEADER, csv_bytes

    brand = create_brand()
    folder = Path(app.instance_path) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    uploads = jobs.Uploads(folder)
    data = csv_bytes([HEADER, ["F-1", "D1", "A", "a@example.com", "nope", "", "1", "", "EUR", ""]])
    uploads.data("c" * 64).write_bytes(data)
    job = ImportJob(brand_id=brand.id, file_hash="c" * 64, filename="x.csv", created_by="test")
    db.session.add(job)
    db.session.commit()
    jobs.run(db, uploads, job.id)
    assert db.session.get(ImportJob, job.id).status == "failed"
    assert db.session.scalar(select(func.count(Invoice.id))) == 0
    assert uploads.progress(job.id)["phase"] == "failed"


def test_a_dutch_admin_reads_the_row_problems_in_dutch(app):
    dutch = app.test_client()
    dutch.environ_base["HTTP_ACCEPT_LANGUAGE"] = "nl"
    brand = create_brand()
    create_admin("baas@example.com")
    admin_login(dutch, "baas@example.com")
    bad = csv_bytes(
        [
            HEADER,
            ["F-1", "D1", "A", "a@example.com", "gisteren", "", "10", "", "EUR", ""],
            ["F-2", "D1", "A", "a@example.com", "01-03-2026", "", "10", "", "XYZ", ""],
        ]
    )
    preview_url = upload(dutch, brand, bad, "slecht.csv").headers["Location"]
    page = dutch.get(preview_url).get_data(as_text=True)
    assert "“gisteren” is geen datum die we kunnen lezen; schrijf het als 31-12-2026" in page
    assert "“XYZ” is geen valutacode zoals EUR" in page
    path, query = preview_url.split("?")
    report = dutch.get(f"{path}/errors.xlsx?{query}")
    rows = list(load_workbook(io.BytesIO(report.data)).active.iter_rows(values_only=True))
    assert rows[1][1] == "Factuurdatum" and rows[1][3].startswith("“gisteren” is geen datum")
    assert rows[1][4] == "Fout"


def test_new_invoices_are_announced_once_per_customer_when_asked(client, inbox):
    from portal.domain.dunning import new_invoices
    from portal.mails import ReminderMails
    from portal.models import ImportBatch, OutboxMessage

    brand = create_brand()
    create_admin("boss@example.com")
    admin_login(client, "boss@example.com")
    preview_url = upload(client, brand, xlsx(rows_ok())).headers["Location"]
    page = client.get(preview_url).get_data(as_text=True)
    assert "Mail each customer about their new invoices" in page
    form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
    done = client.post(preview_url.split("?")[0], data={**form, "notify": "1"})
    assert done.status_code == 303
    mails = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.kind == "new_invoices")
    ).all()
    # one mail per customer with open invoices; the other customer only got a credit note
    assert [m.recipient for m in mails] == ["anna@example.com"]
    anna = mails[0]
    # F-1002 arrives already paid: only what is open is announced
    assert "F-1001" in anna.body_text and "F-1002" not in anna.body_text and "/p/" in anna.body_text
    assert inbox.wait_for("anna@example.com")  # sent over SMTP by the worker task
    batch = db.session.scalars(select(ImportBatch)).one()
    assert "notify" not in batch.counts and batch.counts["notified"] == len(mails)
    with client.application.test_request_context():
        again = new_invoices.send(
            db.session(), ReminderMails(client.application.config["SETTINGS"]), batch.id
        )
    assert again == 0


def test_without_the_box_nobody_is_mailed(client):
    from portal.models import OutboxMessage

    brand = create_brand()
    create_admin("boss@example.com")
    admin_login(client, "boss@example.com")
    preview_url = upload(client, brand, xlsx(rows_ok())).headers["Location"]
    page = client.get(preview_url).get_data(as_text=True)
    form = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
    client.post(preview_url.split("?")[0], data=form)
    kinds = db.session.scalars(select(OutboxMessage.kind)).all()
    assert "new_invoices" not in kinds
