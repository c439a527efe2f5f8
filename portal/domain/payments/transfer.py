"""Bank transfer: the EPC QR code ("GiroCode") most European banking apps can scan."""

from __future__ import annotations

from decimal import Decimal

import segno.helpers


def epc_qr_data_uri(
    name: str, iban: str, amount_cents: int, text: str, reference: str = ""
) -> str | None:
    """An SVG data URI of the EPC QR code, or None where EPC does not apply.

    EPC QR codes carry euro amounts only (0.01 to 999,999,999.99) and either a structured
    creditor reference (ISO 11649 RF, its own field) or a remittance text of at most 140
    characters; a Belgian structured communication travels as that text, where Belgian
    banking apps recognise it. An IBAN segno rejects gives no code rather than a wrong one.
    """
    if not iban or not 1 <= amount_cents <= 99_999_999_999:
        return None
    compact = reference.replace(" ", "")
    structured = compact if compact.upper().startswith("RF") else None
    remittance = None if structured else (reference or text)[:140]
    try:
        qr = segno.helpers.make_epc_qr(
            name=name[:70],
            iban=iban.replace(" ", ""),
            amount=Decimal(amount_cents) / 100,
            text=remittance,
            reference=structured,
        )
    except ValueError:
        return None
    return str(qr.svg_data_uri(scale=3, border=2))
