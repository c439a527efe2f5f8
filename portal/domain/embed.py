"""Ways for a shop to show a pay-link: a plain link, a button in the brand's colours and a
QR code (SVG). Each opens the pay page in the top window: never a checkout in a frame."""

from __future__ import annotations

import re

import segno
from markupsafe import escape
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from portal.domain.brands import safe_color, text_on
from portal.models import Brand, BrandFrameOrigin

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
    # a fixed mask skips segno's search for the best of eight (most of the time it takes);
    # any mask gives a valid code that phones read
    qr = segno.make(url, error="m", mask=0)
    return {
        "link": url,
        "button_html": button,
        "qr_svg": str(qr.svg_inline(scale=4, border=2, title=label)),
    }


# ------------------------------------------------------------------ framing the pay page
class BadOrigin(ValueError):
    """Not an origin we can put in frame-ancestors."""


ORIGIN_RE = re.compile(r"^(https?)://([a-z0-9.-]+|\[[0-9a-f:]+\])(:\d{1,5})?$")
MAX_ORIGINS = 20


def parse_origins(text: str, *, production: bool) -> list[str]:
    """One origin a line (`https://shop.example.com`); raises BadOrigin naming the first
    line that is not one (a path, a wildcard, http in production ...)."""
    origins: list[str] = []
    for line in text.splitlines():
        value = line.strip().lower().rstrip("/")
        if not value:
            continue
        match = ORIGIN_RE.match(value)
        if match is None or (production and match.group(1) != "https"):
            raise BadOrigin(line.strip()[:80])
        if value not in origins:
            origins.append(value)
    if len(origins) > MAX_ORIGINS:
        raise BadOrigin(f"at most {MAX_ORIGINS}")
    return origins


def set_origins(session: Session, brand: Brand, origins: list[str]) -> None:
    """Replace the sites that may frame the brand's pay page."""
    session.execute(delete(BrandFrameOrigin).where(BrandFrameOrigin.brand_id == brand.id))
    session.add_all(BrandFrameOrigin(brand_id=brand.id, origin=o) for o in origins)


def origins_of(session: Session, brand_id: int) -> list[str]:
    """The sites that may frame the brand's pay page, in a stable order."""
    return list(
        session.scalars(
            select(BrandFrameOrigin.origin)
            .where(BrandFrameOrigin.brand_id == brand_id)
            .order_by(BrandFrameOrigin.origin)
        )
    )


def frame_csp(base_csp: str, origins: list[str]) -> str:
    """The CSP with `frame-ancestors` listing `origins` (unchanged when there are none)."""
    if not origins:
        return base_csp
    return base_csp.replace("frame-ancestors 'none'", "frame-ancestors " + " ".join(origins))
