"""Bank transfer: the EPC QR code ("GiroCode") most European banking apps can scan."""

from __future__ import annotations

from decimal import Decimal

import segno.helpers


def epc_qr_data_uri(name: str, iban: str, amount_cents: int, text: str) -> str | None:
    """An SVG data URI of the EPC QR code, or None where EPC does not apply.

    EPC QR codes carry euro amounts only (0.01 to 999,999,999.99) and a remittance text of
    at most 140 characters; an IBAN segno rejects gives no code rather than a wrong one.
    """
    if not iban or not 1 <= amount_cents <= 99_999_999_999:
        return None
    try:
        qr = segno.helpers.make_epc_qr(
            name=name[:70],
            iban=iban.replace(" ", ""),
            amount=Decimal(amount_cents) / 100,
            text=text[:140],
        )
    except ValueError:
        return None
    return str(qr.svg_data_uri(scale=3, border=2))
