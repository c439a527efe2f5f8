"""Collection costs the law allows (DESIGN.md section 5), in integer cents.

- Netherlands, WIK (Besluit vergoeding voor buitengerechtelijke incassokosten): a sliding
  scale over the principal, at least EUR 40 and at most EUR 6,775. For consumers only
  after a 14-dagenbrief; it is computed once over the combined principal of the invoices
  in that letter (courts cut fees counted per invoice).
- Belgium, B2C (Book XIX of the Code of Economic Law, since 1 September 2023): a fixed
  compensation after a free first reminder: EUR 20 up to EUR 150; EUR 30 + 10% of the
  part between 150.01 and 500; EUR 65 + 5% of the part above 500; never above EUR 2,000.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

# (upper bound of the band in cents, or None for the rest; rate)
WIK_BANDS: tuple[tuple[int | None, Decimal], ...] = (
    (250_000, Decimal("0.15")),
    (500_000, Decimal("0.10")),
    (1_000_000, Decimal("0.05")),
    (20_000_000, Decimal("0.01")),
    (None, Decimal("0.005")),
)
WIK_MIN = 4_000
WIK_MAX = 677_500

BE_FLAT_UP_TO = 15_000
BE_FLAT = 2_000
BE_MIDDLE_UP_TO = 50_000
BE_MIDDLE_BASE = 3_000
BE_MIDDLE_RATE = Decimal("0.10")
BE_HIGH_BASE = 6_500
BE_HIGH_RATE = Decimal("0.05")
BE_MAX = 200_000


def _cents(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def wik(principal_cents: int) -> int:
    """Dutch statutory collection costs over a principal; 0 when nothing is owed."""
    if principal_cents <= 0:
        return 0
    fee = Decimal(0)
    lower = 0
    for upper, rate in WIK_BANDS:
        top = principal_cents if upper is None else min(principal_cents, upper)
        if top > lower:
            fee += (top - lower) * rate
        if upper is None or principal_cents <= upper:
            break
        lower = upper
    return min(max(_cents(fee), WIK_MIN), WIK_MAX)


def belgian_b2c(principal_cents: int) -> int:
    """The Belgian consumer's fixed compensation cap; 0 when nothing is owed."""
    if principal_cents <= 0:
        return 0
    if principal_cents <= BE_FLAT_UP_TO:
        return BE_FLAT
    if principal_cents <= BE_MIDDLE_UP_TO:
        return BE_MIDDLE_BASE + _cents((principal_cents - BE_FLAT_UP_TO) * BE_MIDDLE_RATE)
    fee = BE_HIGH_BASE + _cents((principal_cents - BE_MIDDLE_UP_TO) * BE_HIGH_RATE)
    return min(fee, BE_MAX)


# Business customers (DESIGN.md section 10): at least EUR 40 per invoice, Late Payment
# Directive 2011/7/EU art. 6; NL art. 6:96 lid 4 BW, BE law of 2 August 2002 art. 6.
B2B_PER_INVOICE = 4_000


def wik_b2b(principal_cents: int, invoices: int) -> int:
    """A Dutch business: the WIK scale over the combined principal, but at least EUR 40
    for each invoice."""
    if principal_cents <= 0:
        return 0
    return max(wik(principal_cents), B2B_PER_INVOICE * max(invoices, 1))


def belgian_b2b(invoices: int) -> int:
    """A Belgian business: the fixed EUR 40 per invoice."""
    return B2B_PER_INVOICE * max(invoices, 0)
