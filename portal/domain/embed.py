"""Ways for a shop to show a pay-link: a plain link, a button in the brand's colours and a
QR code (SVG). Each opens the pay page in the top window: never a checkout in a frame."""

from __future__ import annotations

import segno
from markupsafe import escape

from portal.domain.brands import safe_color, text_on
from portal.models import Brand

BUTTON_LABELS = {"nl": "Nu betalen", "fr": "Payer maintenant", "en": "Pay now"}


def snippets(url: str, brand: Brand, language: str | None = None) -> dict[str, str]:
    """The link, an HTML button and an SVG QR code for `url`."""
    colour = safe_color(brand.primary_color, "#1d4ed8")
    label = BUTTON_LABELS.get(language or brand.default_language, BUTTON_LABELS["en"])
    style = (
        f"display:inline-block;padding:.75em 1.25em;border-radius:.375em;"
        f"background:{colour};color:{text_on(colour)};font:600 1rem/1.2 system-ui,sans-serif;"
        "text-decoration:none"
    )
    button = (
        f'<a href="{escape(url)}" target="_top" rel="noopener" style="{style}">{escape(label)}</a>'
    )
    qr = segno.make(url, error="m")
    return {
        "link": url,
        "button_html": button,
        "qr_svg": str(qr.svg_inline(scale=4, border=2, title=label)),
    }
