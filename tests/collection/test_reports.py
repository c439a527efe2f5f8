"""An agency's report books what it collected, its costs and write-offs through the normal
money path exactly once, however often it arrives; a signed callback does the same, and a
returned claim is ours again."""

from __future__ import annotations

import io
import json
import time

from openpyxl import Workbook
from sqlalchemy import func, select

from portal.db import db
from portal.domain import outgoing
from portal.domain.collection import reports
from portal.domain.collection.models import (
    AgencyReportLine,
    CollectionEntry,
    EntryState,
    Handover,
    WriteOff,
)
from portal.models import Allocation, AuditEvent, Invoice, InvoiceStatus, Payment
from tests.admin.test_admin import admin_login, page_csrf
from tests.collection.helpers import DAY, create_agency
from tests.collection.test_handover import fresh, hand_over, queued_debtor
from tests.factories import create_admin


def sheet(rows):
    wb = Workbook()
    ws = wb.active
    ws.append(["Line", "Invoice", "Type", "Amount", "Date", "Note"])
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def count(model, *where):
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_an_uploaded_report_books_once_even_when_uploaded_twice(app, client):
    debtor, (big, small) = queued_debtor()  # 121.00 and 50.00
    agency = create_agency(name="Incasso Midden")
    h = hand_over(app, debtor, agency)
    data = sheet(
        [
            ["R-1", big.number, "collected", "100,00", DAY, ""],
            ["R-2", big.number, "costs", "15,00", DAY, "our fee"],
            ["R-3", big.number, "write_off", "21,00", DAY, "debtor in debt restructuring"],
            ["R-4", small.number, "collected", "50.00", DAY, ""],
            ["R-5", "NOPE-1", "collected", "10,00", DAY, ""],
        ]
    )
    create_admin("boss@example.com")
    admin_login(client, "boss@example.com")
    token = page_csrf(client, f"/admin/agencies/{agency.id}")
    for _ in range(2):
        answer = client.post(
            f"/admin/agencies/{agency.id}/report",
            data={"csrf_token": token, "report": (io.BytesIO(data), "report.xlsx")},
            content_type="multipart/form-data",
        )
        assert answer.status_code == 303

    big, small = fresh([big, small])
    assert big.open_cents == 0 and small.open_cents == 0
    payments = db.session.scalars(select(Payment).where(Payment.provider == "agency")).all()
    assert sorted(p.received_cents for p in payments) == [5000, 10000]
    assert all(p.status == "paid" for p in payments)
    assert count(Allocation, Allocation.invoice_id == big.id) == 1
    (written,) = db.session.scalars(select(WriteOff)).all()
    assert (written.amount_cents, written.source, written.reason) == (
        2100,
        "agency",
        "debtor in debt restructuring",
    )
    note = db.session.get(Invoice, written.credit_note_id)
    assert note.kind == "credit_note" and note.total_cents == -2100
    h = db.session.get(Handover, h.id)
    assert h.costs_cents == 1500
    assert h.state == "closed"  # nothing left open
    assert count(AgencyReportLine) == 4
    assert (
        count(AuditEvent, AuditEvent.action == "payment.received", AuditEvent.invoice_id == big.id)
        == 1
    )
    second = db.session.scalars(
        select(reports.AgencyReport).order_by(reports.AgencyReport.id.desc())
    ).first()
    assert (second.booked, second.already) == (0, 4)
    assert second.problems == [
        {"row": 6, "problem": "invoice NOPE-1 was not handed to this agency"}
    ]


def test_a_signed_callback_books_and_a_forged_one_is_refused(app, client):
    debtor, (big, small) = queued_debtor()
    agency = create_agency(secret="whsec_callback-secret")
    hand_over(app, debtor, agency)
    body = json.dumps(
        {
            "lines": [
                {"line": "cb-1", "invoice": big.number, "type": "collected", "amount_cents": 12100},
                {
                    "line": "cb-2",
                    "invoice": small.number,
                    "type": "returned",
                    "note": "cannot find them",
                },
            ]
        }
    ).encode()
    url = f"/collection/callback/{agency.id}"
    forged = client.post(
        url,
        data=body,
        headers={"Betaalportaal-Signature": outgoing.sign("whsec_wrong", body, int(time.time()))},
    )
    assert forged.status_code == 401
    old = client.post(
        url,
        data=body,
        headers={
            "Betaalportaal-Signature": outgoing.sign(agency.secret, body, int(time.time()) - 3600)
        },
    )
    assert old.status_code == 401
    for expected in ((2, 0), (0, 2)):
        signed = {"Betaalportaal-Signature": outgoing.sign(agency.secret, body, int(time.time()))}
        answer = client.post(url, data=body, headers=signed, content_type="application/json")
        assert answer.status_code == 200, answer.data
        result = answer.get_json()
        assert (result["booked"], result["already"]) == expected

    big, small = fresh([big, small])
    assert big.open_cents == 0 and big.status == InvoiceStatus.PAID.value
    assert small.status == InvoiceStatus.OPEN.value and small.open_cents == 5000
    entry = db.session.scalar(select(CollectionEntry).where(CollectionEntry.invoice_id == small.id))
    assert entry.state == EntryState.STOPPED and entry.note == "cannot find them"


def test_a_csv_report_with_dutch_headers(app):
    debtor, (big, _small) = queued_debtor()
    agency = create_agency()
    hand_over(app, debtor, agency)
    header = "Kenmerk;Factuurnummer;Soort;Bedrag;Datum\n"
    csv = (header + f"K1;{big.number};ontvangen;60,50;01-12-2026\n").encode()
    agency = db.session.get(type(agency), agency.id)
    report = reports.upload(db.session(), agency, "rapport.csv", csv, "admin:1", DAY)
    db.session.commit()
    assert (report.booked, report.problems) == (1, [])
    assert fresh([big])[0].open_cents == 12100 - 6050
