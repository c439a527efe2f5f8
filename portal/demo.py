"""Demo data for `make run`: two brands, 50 debtors, ~300 recent invoices in every state and
two years of paid history before them, each debtor with its own way of paying (prompt,
steady, slow, erratic, worsening, chronic), so insight has something to show."""

from __future__ import annotations

import datetime as dt
import io
import random
from collections.abc import Callable

from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal import i18n
from portal.config import Settings
from portal.domain import admins, audit, login
from portal.domain.clock import today
from portal.domain.plans import lifecycle, proposals, schedules
from portal.models import (
    AdminUser,
    Brand,
    Debtor,
    DebtorEmail,
    DebtorRequest,
    Instalment,
    InstalmentPlan,
    Invoice,
    InvoiceReminder,
    InvoiceStatus,
    PlanInvoice,
    RatingRule,
    ReminderSchedule,
    ReminderStep,
    Segment,
)

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
# how a debtor pays: days after the due date, given the due date and today
Profile = Callable[[random.Random, dt.date, dt.date], int]
PROFILES: dict[str, Profile] = {
    "prompt": lambda r, due, day: r.randint(-6, 1),
    "steady": lambda r, due, day: max(-3, round(r.gauss(4, 3))),
    "slow": lambda r, due, day: max(0, round(r.gauss(19, 6))),
    "erratic": lambda r, due, day: r.randint(-2, 3) if r.random() < 0.6 else r.randint(20, 55),
    "worsening": lambda r, due, day: (
        round(r.gauss(2, 2)) if (day - due).days > 200 else max(5, round(r.gauss(34, 10)))
    ),
    "chronic": lambda r, due, day: max(15, round(r.gauss(50, 15))),
}
# the debtors' ways of paying in turn (debtor 0, the demo debtor, has started to pay late)
ROTATION = (
    "worsening",
    "prompt",
    "steady",
    "prompt",
    "erratic",
    "steady",
    "prompt",
    "chronic",
    "steady",
    "worsening",
    "prompt",
    "slow",
    "steady",
    "erratic",
    "prompt",
    "steady",
    "slow",
    "prompt",
    "chronic",
    "steady",
    "prompt",
    "worsening",
    "steady",
    "erratic",
    "prompt",
)
HISTORY_DAYS = 730
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
    admin_id = session.scalar(select(AdminUser.id).where(AdminUser.email == DEMO_ADMIN_EMAIL))
    if admin_id is None:
        admin_id = admins.create_admin(
            session, DEMO_ADMIN_EMAIL, DEMO_ADMIN_PASSWORD, role="admin", name="Demo", by="seed"
        ).id
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

    counter = {nl.id: 2024000, be.id: 24000}
    history = random.Random(rng_seed + 1)  # its own stream: the recent invoices stay as they were
    profiles = [PROFILES[ROTATION[i % len(ROTATION)]] for i in range(len(debtors))]
    _history(session, history, debtors, profiles, counter, day)
    for index, debtor in enumerate(debtors):
        count = 12 if index == 0 else rng.randint(3, 8)
        for _ in range(count):
            counter[debtor.brand_id] += 1
            chronic = ROTATION[index % len(ROTATION)] == "chronic"
            # the demo debtor is behind (much is open); chronic ones leave some unpaid
            window = 75 if index == 0 else 150 if chronic else 120
            pays = (profiles[index], history)
            stops = 0.4 if chronic else 0.0
            _invoice(session, rng, debtor, counter[debtor.brand_id], day, pays, window, stops)
    session.flush()
    _plan(session, demo, day)
    _strict_segment(session)
    _tasks(session, debtors[1:], admin_id, day)
    return True


def _tasks(session: Session, debtors: list[Debtor], admin_id: int, day: dt.date) -> None:
    """A few open tasks in the team's work queue: three for the demo admin (one of them
    overdue), one for the team."""
    from portal.domain.worklist import service

    owing = [
        d
        for d in debtors
        if session.scalar(
            select(Invoice.id).where(
                Invoice.debtor_id == d.id, Invoice.status == "open", Invoice.due_date < day
            )
        )
    ]
    plans = [
        ("call", day, admin_id, ""),
        ("broken_promise", day - dt.timedelta(days=2), admin_id, ""),
        ("manual", day + dt.timedelta(days=1), admin_id, "Vraag naar het nieuwe factuuradres."),
        ("call", day, None, ""),
    ]
    for debtor, (reason, due, assignee, note) in zip(owing, plans, strict=False):
        service.make(
            session,
            debtor_id=debtor.id,
            reason=reason,
            due_on=due,
            actor="seed",
            note=note,
            assignee_id=assignee,
        )


def _strict_segment(session: Session) -> None:
    """A segment with earlier reminders (no costs, so it fits Dutch and Belgian consumers
    alike) and the rating rule that would move poor payers there, not applied yet."""
    strict = ReminderSchedule(
        name="Strikt (hoog risico)",
        min_gap_days=5,
        steps=[
            ReminderStep(position=1, offset_days=-3, kind="nudge"),
            ReminderStep(position=2, offset_days=3, kind="reminder", channels="email,sms"),
            ReminderStep(position=3, offset_days=9, kind="reminder", channels="email,sms"),
            ReminderStep(position=4, offset_days=12, kind="call"),  # a task for the team
            ReminderStep(position=5, offset_days=16, kind="notice", channels="email,letter"),
            ReminderStep(position=6, offset_days=35, kind="collection"),
        ],
    )
    session.add(strict)
    session.flush()
    high_risk = Segment(name="High risk", payment_term_days=14, schedule_id=strict.id)
    session.add(high_risk)
    session.flush()
    session.add(RatingRule(grade="poor", to_segment_id=high_risk.id, created_by="seed"))


def _history(
    session: Session,
    rng: random.Random,
    debtors: list[Debtor],
    profiles: list[Profile],
    counter: dict[int, int],
    day: dt.date,
) -> None:
    """Two years of invoices before the recent ones, each paid the debtor's way; chronic
    late payers also broke a promise, breached a plan and lost a dispute."""
    planned: list[tuple[dt.date, int]] = []
    for index, debtor in enumerate(debtors):
        gap = (12, 26) if debtor.kind == "b2b" else (15, 32)  # as often as recently
        invoice_date = day - dt.timedelta(days=HISTORY_DAYS - rng.randint(0, 40))
        while invoice_date < day - dt.timedelta(days=125):
            planned.append((invoice_date, index))
            invoice_date += dt.timedelta(days=rng.randint(*gap))
    planned.sort()
    made: dict[int, list[Invoice]] = {}
    events: list[tuple[Invoice, dt.date]] = []
    for invoice_date, index in planned:
        debtor = debtors[index]
        term = 30 if debtor.kind == "b2b" else 14
        due = invoice_date + dt.timedelta(days=term)
        paid_on = max(due + dt.timedelta(days=profiles[index](rng, due, day)), invoice_date)
        counter[debtor.brand_id] += 1
        invoice = Invoice(
            brand_id=debtor.brand_id,
            debtor_id=debtor.id,
            number=str(counter[debtor.brand_id]),
            invoice_date=invoice_date,
            due_date=due,
            total_cents=rng.choice([2450, 8995, 12500, 34900, 59900, 125000, 249500]),
            open_cents=0,
            status=InvoiceStatus.PAID,
            reference=f"PO-{rng.randint(1000, 9999)}" if debtor.kind == "b2b" else "",
            description=rng.choice(ITEMS),
        )
        made.setdefault(index, []).append(invoice)
        events.append((invoice, paid_on))
    session.add_all(invoice for invoice, _paid in events)
    session.flush()
    for invoice, paid_on in events:
        audit.record(
            session,
            "system",
            "invoice.imported",
            debtor_id=invoice.debtor_id,
            invoice_id=invoice.id,
        ).at = _moment(invoice.invoice_date)
        audit.record(
            session,
            "system",
            "payment.received",
            debtor_id=invoice.debtor_id,
            invoice_id=invoice.id,
            amount_cents=invoice.total_cents,
            currency="EUR",
            method=rng.choice(["ideal", "bancontact", "banktransfer"]),
        ).at = _moment(paid_on)
    paid_on_of = {invoice.id: paid for invoice, paid in events}
    for index in range(len(debtors)):
        kind = ROTATION[index % len(ROTATION)]
        if kind in ("chronic", "worsening") and len(made.get(index, [])) >= 4:
            _broken_promise(session, made[index][-1], paid_on_of[made[index][-1].id])
        if kind == "chronic" and len(made.get(index, [])) >= 6:
            _breached_plan(session, made[index][-5:-3], paid_on_of)
            _upheld_dispute(session, made[index][-3])


def _broken_promise(session: Session, invoice: Invoice, paid_on: dt.date) -> None:
    """A promise to pay a week before the invoice was in fact paid."""
    promised = max(invoice.due_date, paid_on - dt.timedelta(days=7))
    asked = promised - dt.timedelta(days=10)
    session.add(
        DebtorRequest(
            kind="promise",
            state="rejected",
            debtor_id=invoice.debtor_id,
            invoice_id=invoice.id,
            promise_date=promised,
            message="Ik betaal volgende week.",
            created_at=_moment(asked),
            closed_at=_moment(promised + dt.timedelta(days=1)),
        )
    )
    audit.record(
        session,
        f"debtor:{invoice.debtor_id}",
        "request.promise",
        debtor_id=invoice.debtor_id,
        invoice_id=invoice.id,
        until=promised.isoformat(),
    ).at = _moment(asked)


def _breached_plan(session: Session, invoices: list[Invoice], paid_on: dict[int, dt.date]) -> None:
    """A plan of three instalments over two invoices; the second instalment never came."""
    total = sum(i.total_cents for i in invoices)
    start = max(i.due_date for i in invoices) + dt.timedelta(days=10)
    third = total // 3
    ended = _moment(start + dt.timedelta(days=45))
    plan = InstalmentPlan(
        debtor_id=invoices[0].debtor_id,
        status="breached",
        frequency="monthly",
        total_cents=total,
        agreement_text="Betaling in drie termijnen.",
        accepted_at=_moment(start - dt.timedelta(days=5)),
        created_at=_moment(start - dt.timedelta(days=5)),
        ended_at=ended,
        end_reason="Termijn 2 niet betaald.",
        proposed_by="debtor",
        instalments=[
            Instalment(
                seq=1, due_date=start, cents=third, paid_cents=third, paid_at=_moment(start)
            ),
            Instalment(seq=2, due_date=start + dt.timedelta(days=30), cents=third),
            Instalment(seq=3, due_date=start + dt.timedelta(days=61), cents=total - 2 * third),
        ],
        invoices=[PlanInvoice(invoice_id=i.id, open_cents=i.total_cents) for i in invoices],
    )
    session.add(plan)
    session.flush()
    audit.record(
        session, "system", "plan.breached", debtor_id=plan.debtor_id, plan_id=plan.id
    ).at = ended


def _upheld_dispute(session: Session, invoice: Invoice) -> None:
    """A dispute about a delivered invoice that was answered: the invoice stands."""
    opened = invoice.due_date + dt.timedelta(days=3)
    session.add(
        DebtorRequest(
            kind="dispute",
            state="rejected",
            outcome="uphold",
            reason="not_received",
            debtor_id=invoice.debtor_id,
            invoice_id=invoice.id,
            message="Nooit ontvangen.",
            created_at=_moment(opened),
            closed_at=_moment(opened + dt.timedelta(days=4)),
        )
    )


def _plan(session: Session, debtor: Debtor, day: dt.date) -> None:
    """A running payment plan over the demo debtor's two oldest open invoices."""
    chosen = [i.id for i in proposals.eligible_invoices(session, debtor.id)[:2]]
    start = day + dt.timedelta(days=7)
    proposal = proposals.propose(session, debtor, chosen, start, schedules.MONTHLY, day, count=3)
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
    lifecycle.accept(session, proposal, "\n".join(lines), "127.0.0.1", "seed", day)


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


def _invoice(
    session: Session,
    rng: random.Random,
    debtor: Debtor,
    n: int,
    day: dt.date,
    profile: tuple[Profile, random.Random],
    window: int = 120,
    stops: float = 0.0,
) -> None:
    """A recent invoice, paid the debtor's way when that day has come (a fifth of those
    still open are paid in part; `stops`: the chance it is not paid at all)."""
    term = 30 if debtor.kind == "b2b" else 14
    invoice_date = day - dt.timedelta(days=rng.randint(0, window))
    due = invoice_date + dt.timedelta(days=term)
    total = rng.choice([2450, 8995, 12500, 34900, 59900, 125000, 249500, 315075])
    pays, stream = profile
    paid_on = max(due + dt.timedelta(days=pays(stream, due, day)), invoice_date)
    if stops and stream.random() < stops:  # a chronic late payer leaves some unpaid
        paid_on = day + dt.timedelta(days=365)
    state = "paid" if paid_on < day else "open"
    if state == "open" and (day - invoice_date).days >= 2 and stream.random() < 0.2:
        state, paid_on = "partly", invoice_date + (day - invoice_date) // 2
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
        _reminded(session, debtor, invoice, due + dt.timedelta(days=7))


def _reminded(session: Session, debtor: Debtor, invoice: Invoice, on: dt.date) -> None:
    """The steps of the debtor's schedule up to its first reminder, done on `on`: recorded
    as the run records them (the step guard and a history line), so the invoice page, the
    history and the next run agree."""
    from portal.domain.dunning.engine import schedule_for

    schedule = schedule_for(session, debtor)
    steps = list(schedule.steps) if schedule else []
    upto = next((n for n, step in enumerate(steps) if step.kind == "reminder"), None)
    if upto is None:
        return
    for step in steps[: upto + 1]:
        session.add(InvoiceReminder(invoice_id=invoice.id, step_id=step.id, sent_on=on))
        audit.record(
            session,
            "system",
            "reminder.sent",
            debtor_id=debtor.id,
            invoice_id=invoice.id,
            step=step.kind,
            channel="email",
        ).at = _moment(on)


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


def collection(session: Session, day: dt.date, hand_over: Callable[..., object]) -> None:
    """The collection demo: an agency, a rule for business customers, overdue invoices of
    a few customers waiting in the queue, and one customer (of the shared address, so the
    portal shows the agency's notice) handed over with a dossier to download."""
    from portal.domain.collection import queue
    from portal.domain.collection.models import Agency, CollectionRule

    if session.scalar(select(Agency.id).where(Agency.name == "Incasso Nederland B.V.")):
        return
    agency = Agency(
        name="Incasso Nederland B.V.",
        contact_name="Ingrid Bos",
        email="dossiers@incasso-nederland.example.com",
        phone="+31 20 765 4321",
        website="https://incasso-nederland.example.com",
        address="Keizersgracht 200, 1016 DZ Amsterdam",
        delivery="email",
        secret="whsec_demo-" + "0" * 24,
        fee_terms="15% of what is collected, at least EUR 25 per file; no cure, no pay.",
        portal_payments=True,
    )
    session.add(agency)
    session.flush()
    business = session.scalar(select(Segment).where(Segment.name == "Business"))
    if business is not None:
        session.add(
            CollectionRule(segment_id=business.id, mode="auto", after_days=14, agency_id=agency.id)
        )
    overdue = session.execute(
        select(Invoice.id, Invoice.debtor_id)
        .where(
            Invoice.status == InvoiceStatus.OPEN.value,
            Invoice.kind == "invoice",
            Invoice.open_cents > 0,
            Invoice.hold_reason == "",
            Invoice.due_date < day - dt.timedelta(days=20),
        )
        .order_by(Invoice.due_date)
    ).all()
    shared = [
        d.id
        for d in session.scalars(
            select(Debtor).join(DebtorEmail).where(DebtorEmail.email == SHARED_EMAIL)
        )
    ]
    chosen = [row for row in overdue if row.debtor_id != _demo_debtor_id(session)][:14]
    for n, row in enumerate(chosen):
        entry = queue.mark(session, session.get_one(Invoice, row.id), "system", day)
        entry.source = "schedule"
        entry.entered_on = day - dt.timedelta(days=2 + 3 * n)
    session.flush()
    target = next((d for d in shared if any(r.debtor_id == d for r in chosen)), None)
    if target is not None:
        hand_over(session, target, agency.id, None, "system")
        # the rest of the queue waits; the hand-over's entries are its own
        session.flush()


def _demo_debtor_id(session: Session) -> int | None:
    return session.scalar(
        select(DebtorEmail.debtor_id).where(DebtorEmail.email == DEMO_EMAIL).limit(1)
    )
