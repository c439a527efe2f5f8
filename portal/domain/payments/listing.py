"""Payments as admins look for them: filters, pages, and the export for booking."""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session, selectinload

from portal.domain import sheets
from portal.domain.params import page_number, whole
from portal.domain.payments.providers.base import Method, Status
from portal.domain.payments.providers.registry import names
from portal.models import Debtor, Payment, WebhookDelivery

PAGE_SIZE = 50


@dataclass(frozen=True)
class PaymentFilter:
    """Validated filters; unknown values fall back to 'all'."""

    status: str = ""
    provider: str = ""
    method: str = ""
    brand_id: int | None = None
    flagged: bool = False
    q: str = ""
    page: int = 1
    mode: str = ""  # "" all, "live" or "test" (sandbox and providers' test mode)

    @classmethod
    def parse(cls, args: dict[str, str]) -> PaymentFilter:
        """From query-string values a person may have edited by hand."""
        status = args.get("status", "")
        provider = args.get("provider", "")
        method = args.get("method", "")
        brand = args.get("brand", "")
        page = args.get("page", "1")
        return cls(
            status=status if status in Status.__members__.values() else "",
            provider=provider if provider in names() else "",
            method=method if method in Method.__members__.values() else "",
            brand_id=whole(brand),
            flagged=args.get("flagged") == "1",
            q=args.get("q", "").strip()[:60],
            page=page_number(page),
            mode=args.get("mode", "") if args.get("mode") in ("live", "test") else "",
        )


def _query(flt: PaymentFilter) -> Select[Payment]:
    query = select(Payment).join(Debtor, Debtor.id == Payment.debtor_id)
    if flt.status:
        query = query.where(Payment.status == flt.status)
    if flt.provider:
        query = query.where(Payment.provider == flt.provider)
    if flt.method:
        query = query.where(Payment.method == flt.method)
    if flt.brand_id is not None:
        query = query.where(Payment.brand_id == flt.brand_id)
    if flt.flagged:
        query = query.where(Payment.flag != "")
    if flt.mode:
        query = query.where(Payment.test_mode.is_(flt.mode == "test"))
    if flt.q:
        like = f"%{flt.q}%"
        query = query.where(
            or_(
                Payment.public_id == flt.q,
                Payment.provider_ref == flt.q,
                Debtor.number == flt.q,
                Debtor.name.ilike(like),
            )
        )
    return query.order_by(Payment.created_at.desc(), Payment.id.desc())


def admin_list(session: Session, flt: PaymentFilter) -> tuple[Sequence[Payment], bool]:
    """One page of payments, newest first, and whether there is a next page."""
    rows = session.scalars(
        _query(flt)
        .options(selectinload(Payment.invoices), selectinload(Payment.debtor))
        .offset((flt.page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE + 1)
    ).all()
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


def deliveries(session: Session, payment: Payment) -> Sequence[WebhookDelivery]:
    """The webhook log of one payment, newest first, including deliveries still queued
    (the worker links a delivery to its payment only when it applies it)."""
    about_it = WebhookDelivery.payment_id == payment.id
    if payment.provider_ref:
        about_it = or_(
            about_it,
            (WebhookDelivery.provider == payment.provider)
            & (WebhookDelivery.provider_ref == payment.provider_ref),
        )
    return session.scalars(
        select(WebhookDelivery)
        .where(about_it)
        .order_by(WebhookDelivery.received_at.desc(), WebhookDelivery.id.desc())
        .limit(200)
    ).all()


EXPORT_COLUMNS = (
    "reference",
    "created_at",
    "paid_at",
    "status",
    "provider",
    "provider_ref",
    "method",
    "currency",
    "amount",
    "received",
    "refunded",
    "charged_back",
    "credit",
    "debtor_number",
    "debtor_name",
    "invoices",
    "test",
    "flag",
)


def export_rows(session: Session, flt: PaymentFilter) -> Iterable[list[str | Decimal]]:
    """Every payment matching the filter, as rows for the accounting package. Test payments
    are never booked: they are left out unless the filter asks for them."""
    if not flt.mode:
        flt = dataclasses.replace(flt, mode="live")
    query = _query(flt).options(selectinload(Payment.allocations), selectinload(Payment.debtor))
    for payment in session.scalars(query).yield_per(500):
        booked = "; ".join(
            f"{a.invoice.number}={_amount(a.amount_cents - a.reversed_cents)}"
            for a in payment.allocations
        )
        yield [
            payment.public_id,
            payment.created_at.isoformat(timespec="seconds"),
            payment.paid_at.isoformat(timespec="seconds") if payment.paid_at else "",
            payment.status,
            payment.provider,
            payment.provider_ref or "",
            payment.method or "",
            payment.currency,
            _amount(payment.amount_cents),
            _amount(payment.received_cents),
            _amount(payment.refunded_cents),
            _amount(payment.charged_back_cents),
            _amount(payment.unallocated_cents),
            payment.debtor.number,
            payment.debtor.name,
            booked,
            "yes" if payment.test_mode else "no",
            payment.flag,
        ]


def export_csv(session: Session, flt: PaymentFilter) -> str:
    """The export as CSV (semicolons, as Dutch spreadsheets expect); amounts are numbers,
    and no text becomes a formula (`sheets.csv_row`)."""
    out = io.StringIO()
    writer = sheets.csv_writer(out, delimiter=";")
    writer.writerow(EXPORT_COLUMNS)
    for row in export_rows(session, flt):
        writer.writerow(sheets.csv_row(row))
    return out.getvalue()


def _amount(cents: int) -> Decimal:
    """Cents as a number with two decimals (12.50, -3.00)."""
    return (Decimal(cents) / 100).quantize(Decimal("0.01"))
