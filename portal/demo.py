"""Demo data for `make run`: two brands, ~50 debtors, ~300 invoices in every state."""

from __future__ import annotations

import datetime as dt
import io
import random

from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import i18n
from portal.config import Settings
from portal.domain import admins, audit, instalments, login, plans
from portal.domain.clock import today
from portal.models import AdminUser, Brand, Debtor, DebtorEmail, Invoice, InvoiceStatus, Segment

DEMO_EMAIL = "demo@example.com"
DEMO_ADMIN_EMAIL = "admin@example.com"
DEMO_ADMIN_PASSWORD = "demo-admin-2026"  # noqa: S105  (development only; refused in production)
SHARED_EMAIL = "administratie@boekhouder.example.com"

NL_FIRST = ["Sanne", "Daan", "Emma", "Lucas", "Julia", "Sem", "Tess", "Milan", "Fleur", "Bram"]
NL_LAST = ["de Vries", "Jansen", "van Dijk", "Bakker", "Visser", "Smit", "Meijer", "de Boer"]
BE_FIRST = ["Louise", "Arthur", "Marie", "Noah", "Elise", "Jules", "Camille", "Lars", "Lotte"]
BE_LAST = ["Peeters", "Janssens", "Maes", "Dubois", "Lambert", "Claes", "Wouters", "Mertens"]
NL_CITIES = [("Utrecht", "3511"), ("Amsterdam", "1012"), ("Rotterdam", "3011"), ("Zwolle", "8011")]
BE_CITIES = [("Gent", "9000"), ("Antwerpen", "2000"), ("Leuven", "3000"), ("Namur", "5000")]
STREETS = ["Kerkstraat", "Dorpsstraat", "Stationsweg", "Molenlaan", "Lindelaan", "Rue Haute"]
COMPANIES = ["Bouwbedrijf", "Kapsalon", "Installatietechniek", "Bakkerij", "Drukkerij"]
ITEMS = [
    "Onderhoud zonnepanelen",
    "Installatie omvormer",
    "Jaarabonnement monitoring",
    "Levering speciaalbier",
    "Fustverhuur",
    "Proeverij op locatie",
]


def seed(session: Session, *, now: dt.date | None = None, rng_seed: int = 20261124) -> bool:
    """Create the demo data unless it is there already. Returns True when created."""
    if session.scalar(select(AdminUser.id).where(AdminUser.email == DEMO_ADMIN_EMAIL)) is None:
        admins.create_admin(
            session, DEMO_ADMIN_EMAIL, DEMO_ADMIN_PASSWORD, role="admin", name="Demo", by="seed"
        )
    if session.scalar(select(Brand.id).where(Brand.slug == "zonnestroom")) is not None:
        return False
    rng = random.Random(rng_seed)
    day = now or today("Europe/Amsterdam")
    consumers = Segment(name="Consumers", payment_term_days=14)
    business = Segment(name="Business", payment_term_days=30)
    nl = Brand(
        slug="zonnestroom",
        name="Zonnestroom Utrecht",
        primary_color="#0f766e",
        accent_color="#f59e0b",
        font="system",
        sender_name="Zonnestroom Utrecht",
        sender_email="facturen@zonnestroom.example.com",
        support_email="klantenservice@zonnestroom.example.com",
        support_phone="+31 30 123 4567",
        iban="NL91ABNA0417164300",
        enterprise_number="KvK 12345678",
        vat_number="NL123456789B01",
        address="Oudegracht 100, 3511 AX Utrecht",
        country="NL",
        default_language="nl",
        logo=_logo("ZU", "#0f766e", "#f59e0b"),
        logo_mime="image/png",
    )
    be = Brand(
        slug="de-klok",
        name="Brouwerij De Klok",
        primary_color="#7f1d1d",
        accent_color="#ca8a04",
        font="serif",
        sender_name="Brouwerij De Klok",
        sender_email="boekhouding@deklok.example.com",
        support_email="info@deklok.example.com",
        support_phone="+32 9 234 56 78",
        iban="BE68539007547034",
        enterprise_number="KBO 0123.456.789",
        vat_number="BE0123456789",
        address="Korenmarkt 1, 9000 Gent",
        country="BE",
        default_language="nl",
        logo=_logo("DK", "#7f1d1d", "#ca8a04"),
        logo_mime="image/png",
    )
    session.add_all([consumers, business, nl, be])
    session.flush()

    debtors: list[Debtor] = []
    for i in range(50):
        brand = nl if i % 5 < 3 else be
        is_b2b = i % 4 == 3
        debtors.append(_debtor(rng, i, brand, business if is_b2b else consumers, is_b2b))
    demo = debtors[0]
    demo.name, demo.kind, demo.language = "Sanne de Vries", "b2c", "nl"
    demo.emails = [DebtorEmail(email=DEMO_EMAIL)]
    for shared in (debtors[3], debtors[7], debtors[11]):
        shared.emails.append(DebtorEmail(email=SHARED_EMAIL))
    session.add_all(debtors)
    session.flush()

    counter = {nl.id: 2026000, be.id: 26000}
    for index, debtor in enumerate(debtors):
        count = 12 if index == 0 else rng.randint(3, 8)
        for _ in range(count):
            counter[debtor.brand_id] += 1
            _invoice(session, rng, debtor, counter[debtor.brand_id], day)
    session.flush()
    _plan(session, demo, day)
    return True


def _plan(session: Session, debtor: Debtor, day: dt.date) -> None:
    """A running payment plan over the demo debtor's two oldest open invoices."""
    chosen = [i.id for i in instalments.eligible_invoices(session, debtor.id)[:2]]
    start = day + dt.timedelta(days=7)
    proposal = instalments.propose(session, debtor, chosen, start, plans.MONTHLY, day, count=3)
    if not proposal.can_accept:
        return
    lines = [
        f"Ik ga akkoord om {i18n.money(proposal.total_cents, 'EUR', 'nl')} voor de facturen"
        f" {', '.join(i.number for i in proposal.invoices)} te betalen in"
        f" {len(proposal.schedule)} termijnen:",
        *(
            f"{i18n.date(due, 'nl')}: {i18n.money(cents, 'EUR', 'nl')}"
            for due, cents in proposal.schedule
        ),
        "Als ik een termijn mis, gaan de herinneringen voor deze facturen weer lopen.",
    ]
    instalments.accept(session, debtor, proposal, "\n".join(lines), "127.0.0.1", "seed", day)


def _debtor(rng: random.Random, i: int, brand: Brand, segment: Segment, b2b: bool) -> Debtor:
    belgian = brand.country == "BE"
    first = rng.choice(BE_FIRST if belgian else NL_FIRST)
    last = rng.choice(BE_LAST if belgian else NL_LAST)
    city, postcode = rng.choice(BE_CITIES if belgian else NL_CITIES)
    name = f"{rng.choice(COMPANIES)} {last} B.V." if b2b else f"{first} {last}"
    if b2b and belgian:
        name = f"{rng.choice(COMPANIES)} {last} BV"
    language = "fr" if belgian and city == "Namur" else ("en" if i % 11 == 5 else "nl")
    local = name.lower().replace(" ", ".").replace("..", ".").strip(".")
    return Debtor(
        brand_id=brand.id,
        segment_id=segment.id,
        number=f"{'D' if not belgian else 'K'}{10001 + i}",
        name=name,
        kind="b2b" if b2b else "b2c",
        language=language,
        phone=f"+3{'2' if belgian else '1'}6{rng.randint(10000000, 99999999)}",
        address_line=f"{rng.choice(STREETS)} {rng.randint(1, 180)}",
        postcode=f"{postcode} {'' if belgian else 'AB'}".strip(),
        city=city,
        country=brand.country,
        emails=[DebtorEmail(email=f"{local}@example.com")],
    )


def _invoice(session: Session, rng: random.Random, debtor: Debtor, n: int, day: dt.date) -> None:
    term = 30 if debtor.kind == "b2b" else 14
    invoice_date = day - dt.timedelta(days=rng.randint(0, 120))
    due = invoice_date + dt.timedelta(days=term)
    total = rng.choice([2450, 8995, 12500, 34900, 59900, 125000, 249500, 315075])
    state = rng.choices(["open", "paid", "partly"], weights=[5, 4, 1])[0]
    open_cents = {"open": total, "paid": 0, "partly": total // 2}[state]
    invoice = Invoice(
        brand_id=debtor.brand_id,
        debtor_id=debtor.id,
        number=str(n),
        invoice_date=invoice_date,
        due_date=due,
        total_cents=total,
        open_cents=open_cents,
        status=InvoiceStatus.PAID if state == "paid" else InvoiceStatus.OPEN,
        reference=f"PO-{rng.randint(1000, 9999)}" if debtor.kind == "b2b" else "",
        description=rng.choice(ITEMS),
    )
    session.add(invoice)
    session.flush()
    imported = audit.record(
        session, "system", "invoice.imported", debtor_id=debtor.id, invoice_id=invoice.id
    )
    imported.at = _moment(invoice_date)
    if state in ("paid", "partly"):
        paid_on = min(day, invoice_date + dt.timedelta(days=rng.randint(1, term + 10)))
        audit.record(
            session,
            "system",
            "payment.received",
            debtor_id=debtor.id,
            invoice_id=invoice.id,
            amount_cents=total - open_cents,
            currency="EUR",
            method=rng.choice(["ideal", "bancontact", "banktransfer"]),
        ).at = _moment(paid_on)
    elif due < day - dt.timedelta(days=7):
        audit.record(
            session,
            "system",
            "reminder.sent",
            debtor_id=debtor.id,
            invoice_id=invoice.id,
            step="reminder",
            channel="email",
        ).at = _moment(due + dt.timedelta(days=7))


def _moment(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(9, 30), tzinfo=dt.UTC)


def pay_link_for(session: Session, settings: Settings, email: str = DEMO_EMAIL) -> str | None:
    """The demo debtor's pay-link for their oldest open invoice (made once, then reused)."""
    from sqlalchemy import select

    from portal.domain.payments import paylinks
    from portal.models import DebtorEmail, Invoice, PayLink

    debtor_id = session.scalar(select(DebtorEmail.debtor_id).where(DebtorEmail.email == email))
    if debtor_id is None:
        return None
    link = session.scalar(
        select(PayLink)
        .where(PayLink.debtor_id == debtor_id, PayLink.purpose == "demo")
        .order_by(PayLink.id.desc())
    )
    if link is None or paylinks.state_of(link) != paylinks.LinkState.USABLE:
        invoice = session.scalar(
            select(Invoice)
            .where(Invoice.debtor_id == debtor_id, Invoice.status == "open", Invoice.open_cents > 0)
            .order_by(Invoice.due_date)
            .limit(1)
        )
        if invoice is None:
            return None
        link = paylinks.create(session, invoice.debtor, [invoice], actor="system", purpose="demo")
    from portal.mails import pay_link_url

    return pay_link_url(link, settings)


def login_link_for(session: Session, settings: Settings, email: str = DEMO_EMAIL) -> str | None:
    """A fresh login link for a demo address, printed by `make run` and `login-link` (on
    the operator's console only: no mail, and the database keeps only its hash)."""
    asked = login.request_link(session, email)
    if asked is None:
        return None
    raw = login.issue(session, asked.token_id, minutes=settings.login_token_minutes)
    return login.link_for(settings.base_url, raw) if raw else None


def _logo(initials: str, background: str, accent: str) -> bytes:
    """A simple PNG logo drawn here, so the demo needs no image files."""
    image = Image.new("RGBA", (160, 160), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((0, 0, 159, 159), radius=36, fill=background)
    draw.ellipse((104, 16, 144, 56), fill=accent)
    font = ImageFont.load_default(size=72)
    draw.text((80, 92), initials, font=font, fill="white", anchor="mm")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
