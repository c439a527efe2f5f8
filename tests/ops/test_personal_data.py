"""A debtor's personal data: everything in one ZIP for the debtor, and erasure on request
that keeps the bookkeeping. After erasure no column of any table holds the debtor's
personal values: every text, JSON and binary column of every table is read back."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from pathlib import Path

from sqlalchemy import JSON, LargeBinary, String, Text, func, select

from portal import tasks
from portal.db import Base, db
from portal.domain import audit
from portal.models import (
    Allocation,
    ApiIdempotency,
    ApiKey,
    AuditEvent,
    Debtor,
    DebtorRequest,
    EmailChangeToken,
    Instalment,
    InstalmentPlan,
    Invoice,
    OutboxMessage,
    Payment,
    PrintBatch,
    PrintedLetter,
    RequestAttachment,
    RequestEvent,
    TemplatePreview,
    WebhookDelivery,
    WebhookEvent,
    utcnow,
)
from tests.admin.test_admin import admin_login, page_csrf
from tests.conftest import english_client
from tests.factories import create_admin, create_brand, create_debtor, create_invoice

NAME = "Anneke Zoë van den Berg"
EMAIL = "anneke.vdberg@example.com"
NEW_EMAIL = "anneke.nieuw@example.com"
PHONE = "+31612345678"
ADDRESS = "Lindelaan 42 bis"
IP = "203.0.113.59"
NEEDLES = (NAME, EMAIL, NEW_EMAIL, PHONE, ADDRESS, IP)


def a_debtor_known_everywhere(app, inbox) -> Debtor:
    """A debtor whose data sits in every place the portal keeps some: invoices and an
    original PDF, a payment, a sign-in, requests with an attachment, a plan agreement,
    mail, texts and a letter, audit details, webhook logs, an API answer, a preview and a
    cached PDF."""
    brand = create_brand()
    debtor = create_debtor(
        brand, name=NAME, emails=[EMAIL], phone=PHONE, address_line=ADDRESS, postcode="1234 AB"
    )
    first = create_invoice(debtor, number="INV-A", total_cents=12100, description=f"For {NAME}")
    second = create_invoice(
        debtor,
        number="INV-B",
        total_cents=5000,
        original_pdf=f"%PDF-1.4 {NAME}, {ADDRESS}".encode(),
        has_original_pdf=True,
    )
    payment = Payment(
        public_id="pub-anneke",
        brand_id=brand.id,
        debtor_id=debtor.id,
        provider="mollie",
        provider_ref="tr_anneke",
        status="paid",
        amount_cents=17100,
        received_cents=17100,
        description=f"INV-A, INV-B ({NAME})",
        paid_at=utcnow(),
    )
    db.session.add(payment)
    db.session.flush()
    for invoice in (first, second):
        db.session.add(
            Allocation(
                payment_id=payment.id, invoice_id=invoice.id, amount_cents=invoice.total_cents
            )
        )
        invoice.open_cents, invoice.status = 0, "paid"
    assert tasks.send_login_link_now(EMAIL, IP)  # a sign-in link, mailed
    question = DebtorRequest(
        kind="contact_change",
        debtor_id=debtor.id,
        message=f"Ik ben {NAME}, bel {PHONE}",
        details={"email": NEW_EMAIL, "phone": PHONE},
    )
    question.events = [RequestEvent(actor="admin:1", action="reply", message=f"Dear {NAME}")]
    question.attachments = [
        RequestAttachment(
            filename="brief-anneke.pdf", mime="application/pdf", size=9, data=NAME.encode()
        )
    ]
    db.session.add(question)
    db.session.flush()
    db.session.add(
        EmailChangeToken(
            request_id=question.id,
            debtor_id=debtor.id,
            email=NEW_EMAIL,
            token_hash="c" * 64,
            expires_at=utcnow(),
        )
    )
    plan = InstalmentPlan(
        debtor_id=debtor.id,
        status="completed",
        frequency="monthly",
        total_cents=12100,
        agreement_text=f"{NAME}, {ADDRESS}, agrees to pay in 2 instalments.",
        accepted_at=utcnow(),
        accepted_ip=IP,
    )
    plan.instalments = [
        Instalment(seq=1, due_date=dt.date(2026, 11, 1), cents=6050, paid_cents=6050),
        Instalment(seq=2, due_date=dt.date(2026, 12, 1), cents=6050, paid_cents=6050),
    ]
    db.session.add(plan)
    letter = OutboxMessage(
        channel="letter",
        kind="reminder",
        recipient=f"{NAME}\n{ADDRESS}",
        body_text=f"Dear {NAME}",
        status="sent",
        debtor_id=debtor.id,
        sent_at=utcnow(),
    )
    db.session.add_all(
        [
            letter,
            OutboxMessage(
                kind="reminder",
                recipient=EMAIL,
                subject=f"Reminder for {NAME}",
                body_text=f"Dear {NAME}, please pay INV-A.",
                body_html=f"<p>Dear {NAME}</p>",
                status="sent",
                debtor_id=debtor.id,
                sent_at=utcnow(),
            ),
            OutboxMessage(
                kind="email_confirm", recipient=NEW_EMAIL, status="sent", debtor_id=debtor.id
            ),
            OutboxMessage(
                channel="sms",
                kind="reminder",
                recipient=PHONE,
                body_text="Pay",
                status="failed",
                last_error=f"{PHONE} unreachable",
            ),
            OutboxMessage(kind="reminder", recipient=EMAIL, status="pending", body_text=NAME),
        ]
    )
    db.session.flush()
    batch = PrintBatch(printed_on=dt.date(2026, 11, 20), count=1, pdf=f"%PDF {NAME}".encode())
    db.session.add(batch)
    db.session.flush()
    db.session.add(PrintedLetter(message_id=letter.id, batch_id=batch.id))
    admin = create_admin("boss@example.com")
    audit.record(
        db.session(),
        "admin:1",
        "admin.debtor_emails_changed",
        debtor_id=debtor.id,
        old=[NEW_EMAIL],
        new=[EMAIL],
    )
    audit.record(db.session(), f"debtor:{debtor.id}", "plan.accepted", debtor_id=debtor.id, ip=IP)
    audit.record(db.session(), "system", "mail.bounced", note=f"{EMAIL} bounced")  # no debtor_id
    key = ApiKey(brand_id=brand.id, label="shop", prefix="bp_live_x", key_hash="k" * 64)
    db.session.add(key)
    db.session.flush()
    db.session.add_all(
        [
            ApiIdempotency(
                api_key_id=key.id,
                key="order-1",
                request_hash="h",
                status_code=201,
                response={"debtor": {"name": NAME, "email": EMAIL}, "id": 1},
            ),
            WebhookEvent(
                brand_id=brand.id,
                event="payment.paid",
                payload=json.dumps({"data": {"customer": NAME}}),
                status="sent",
            ),
            WebhookDelivery(provider="mollie", outcome="ignored", detail=f"{EMAIL}?"),
            TemplatePreview(token="prev", admin_user_id=admin.id, html=f"<p>Dear {NAME}</p>"),
        ]
    )
    db.session.commit()
    cache = Path(app.instance_path) / "cache" / "pdf"
    cache.mkdir(parents=True, exist_ok=True)
    (cache / f"invoice-{first.id}-nl-abc.pdf").write_bytes(NAME.encode())
    assert inbox.to(EMAIL)
    return debtor


def personal_values_left() -> list[str]:
    """Every table, every column that can hold text or data: where a needle is still."""
    found = []
    for table in Base.metadata.sorted_tables:
        columns = [
            c for c in table.columns if isinstance(c.type, String | Text | JSON | LargeBinary)
        ]
        if not columns:
            continue
        for row in db.session.execute(select(*columns)).mappings():
            for name, value in row.items():
                if value is None:
                    continue
                if isinstance(value, bytes | memoryview):
                    text = bytes(value).decode("utf-8", errors="replace")
                elif isinstance(value, dict | list):
                    text = json.dumps(value, ensure_ascii=False)
                else:
                    text = str(value)
                found.extend(
                    f"{table.name}.{name}: {needle}" for needle in NEEDLES if needle in text
                )
    return found


def books(debtor_id: int) -> list[tuple]:
    """Each invoice: number, total, open, status, and what payments booked on it."""
    rows = db.session.execute(
        select(
            Invoice.number,
            Invoice.total_cents,
            Invoice.open_cents,
            Invoice.status,
            func.coalesce(func.sum(Allocation.amount_cents - Allocation.reversed_cents), 0),
        )
        .outerjoin(Allocation, Allocation.invoice_id == Invoice.id)
        .where(Invoice.debtor_id == debtor_id)
        .group_by(Invoice.id)
        .order_by(Invoice.number)
    )
    return [tuple(row) for row in rows]


def test_export_then_erase_keeps_the_books_and_no_personal_value(app, inbox):
    debtor = a_debtor_known_everywhere(app, inbox)
    client = english_client(app)
    admin_login(client, "boss@example.com")
    token = page_csrf(client, f"/admin/debtors/{debtor.id}")

    exported = client.post(f"/admin/debtors/{debtor.id}/export", data={"csrf_token": token})
    assert exported.status_code == 200 and exported.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(exported.data))
    data = json.loads(archive.read("data.json"))
    assert data["debtor"]["name"] == NAME and data["debtor"]["phone"] == PHONE
    assert [e["email"] for e in data["email_addresses"]] == [EMAIL]
    assert [i["number"] for i in data["invoices"]] == ["INV-A", "INV-B"]
    assert data["payments"][0]["amount_cents"] == 17100 and len(data["allocations"]) == 2
    assert data["requests"][0]["message"].startswith("Ik ben")
    assert data["requests"][0]["events"][0]["message"] == f"Dear {NAME}"
    assert data["payment_plans"][0]["agreement_text"].startswith(NAME)
    assert len(data["payment_plans"][0]["instalments"]) == 2
    assert {m["recipient"] for m in data["messages"]} >= {EMAIL, PHONE, NEW_EMAIL}
    assert [s["requested_ip"] for s in data["sign_ins"]] == [IP]
    assert "token_hash" not in data["sign_ins"][0]  # no secrets in the export
    overview = archive.read("overview.html").decode()
    assert NAME in overview and "INV-B" in overview and ADDRESS in overview
    names = set(archive.namelist())
    assert "invoices/INV-B.pdf" in names
    assert any(n.startswith("attachments/") and n.endswith("brief-anneke.pdf") for n in names)
    assert archive.read("invoices/INV-B.pdf").startswith(b"%PDF")

    before = books(debtor.id)
    assert before == [("INV-A", 12100, 0, "paid", 12100), ("INV-B", 5000, 0, "paid", 5000)]
    confirm = client.get(f"/admin/debtors/{debtor.id}/erase")
    assert confirm.status_code == 200 and "What stays" in confirm.get_data(as_text=True)
    form_token = page_csrf(client, f"/admin/debtors/{debtor.id}/erase")
    wrong = client.post(
        f"/admin/debtors/{debtor.id}/erase", data={"csrf_token": form_token, "number": "D1"}
    )
    assert wrong.status_code == 422 and db.session.get(Debtor, debtor.id).name == NAME
    erased = client.post(
        f"/admin/debtors/{debtor.id}/erase",
        data={"csrf_token": form_token, "number": debtor.number},
    )
    assert erased.status_code == 303

    db.session.expire_all()
    assert personal_values_left() == []
    assert books(debtor.id) == before  # the invoices still add up
    payment = db.session.scalars(select(Payment).where(Payment.debtor_id == debtor.id)).one()
    assert (payment.amount_cents, payment.status, payment.provider_ref) == (
        17100,
        "paid",
        "tr_anneke",
    )
    kept = db.session.get(Debtor, debtor.id)
    assert kept.number == debtor.number and kept.erased_at and kept.do_not_contact
    assert kept.emails == []
    statuses = db.session.scalars(select(OutboxMessage.status).order_by(OutboxMessage.id)).all()
    assert "pending" not in statuses and "cancelled" in statuses  # nothing more goes out
    assert db.session.scalars(select(PrintBatch.pdf)).one() is None
    cached = Path(app.instance_path) / "cache" / "pdf"
    assert [p for p in cached.glob("invoice-*") if p.read_bytes() == NAME.encode()] == []
    assert db.session.get(InstalmentPlan, db.session.scalars(select(InstalmentPlan.id)).one())
    actions = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.actor.startswith("admin:"))
    ).all()
    assert {"debtor.exported", "debtor.erased"} <= set(actions)
    history = client.get(f"/admin/debtors/{debtor.id}").get_data(as_text=True)
    assert "Personal data erased on request" in history and "Personal data exported" in history
    # signing in with the old address finds nobody
    assert tasks.send_login_link_now(EMAIL, IP) is False


def test_erasure_waits_while_something_is_owed_and_clerks_may_not(app, client):
    debtor = create_debtor(name=NAME, emails=[EMAIL])
    create_invoice(debtor, number="INV-OPEN")
    create_admin("clerk@example.com", role="clerk")
    create_admin("boss@example.com")
    admin_login(client, "clerk@example.com")
    assert client.get(f"/admin/debtors/{debtor.id}/erase").status_code == 403
    token = page_csrf(client, f"/admin/debtors/{debtor.id}")
    assert (
        client.post(f"/admin/debtors/{debtor.id}/export", data={"csrf_token": token}).status_code
        == 403
    )

    boss = english_client(app)
    admin_login(boss, "boss@example.com")
    page = boss.get(f"/admin/debtors/{debtor.id}/erase").get_data(as_text=True)
    assert "still open" in page
    token = page_csrf(boss, f"/admin/debtors/{debtor.id}")
    refused = boss.post(
        f"/admin/debtors/{debtor.id}/erase", data={"csrf_token": token, "number": debtor.number}
    )
    assert refused.status_code == 409
    db.session.expire_all()
    assert db.session.get(Debtor, debtor.id).name == NAME
    assert db.session.get(Debtor, debtor.id).erased_at is None
    handed_over = create_debtor(name="Bert Incasso", emails=["bert@example.com"])
    create_invoice(handed_over, number="INV-AGENCY", status="handed_over")
    token = page_csrf(boss, f"/admin/debtors/{handed_over.id}")
    refused = boss.post(
        f"/admin/debtors/{handed_over.id}/erase",
        data={"csrf_token": token, "number": handed_over.number},
    )
    assert refused.status_code == 409  # the collection agency still needs them
