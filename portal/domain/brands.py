"""Brand colours: validation and contrast (WCAG 2.1 relative luminance)."""

from __future__ import annotations

import io
import re

from PIL import Image, UnidentifiedImageError

_HEX = re.compile(r"^#[0-9a-fA-F]{6}$")


def safe_color(value: str, default: str) -> str:
    """The colour when it is a plain #rrggbb value, else the default (never raw CSS)."""
    return value if _HEX.match(value or "") else default


def _luminance(color: str) -> float:
    channels = [int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(a: str, b: str) -> float:
    """Contrast between two #rrggbb colours, from 1 to 21 (4.5 is the WCAG AA minimum)."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def text_on(background: str) -> str:
    """White or near-black text, whichever reads better on `background`."""
    return "#ffffff" if contrast_ratio(background, "#ffffff") >= 4.5 else "#111827"


# the light panels the portal puts text and focus rings on (portal.css): page, empty
# state, notices, the overdue card, the warning, success and error tints
LIGHT_BACKGROUNDS = (
    "#ffffff",
    "#f9fafb",
    "#f3f4f6",
    "#eff6ff",
    "#fff7f7",
    "#fef3c7",
    "#dcfce7",
    "#fee2e2",
)
FOCUS_CONTRAST = 3.0  # WCAG 2.2: a focus indicator against what surrounds it
TEXT_CONTRAST = 4.5  # WCAG AA for body text, links included


def _mix_black(color: str, share: float) -> str:
    channels = [int(color[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(c * (1 - share)):02x}" for c in channels)


def darkest_needed(color: str, minimum: float, backgrounds: tuple[str, ...]) -> str:
    """`color`, darkened in small steps only as far as needed to reach `minimum` contrast
    against every background (black reaches at least 18:1 on these light ones)."""
    for step in range(21):
        candidate = _mix_black(color, step / 20)
        if all(contrast_ratio(candidate, bg) >= minimum for bg in backgrounds):
            return candidate
    return "#000000"


def focus_ring(primary: str) -> str:
    """The focus ring colour for a brand: its primary colour, darkened until the ring
    shows at 3:1 or more on every light background of the portal."""
    return darkest_needed(primary, FOCUS_CONTRAST, LIGHT_BACKGROUNDS)


def link_colour(primary: str) -> str:
    """Text and links in the brand colour, darkened until they read at 4.5:1 everywhere."""
    return darkest_needed(primary, TEXT_CONTRAST, LIGHT_BACKGROUNDS)


MAX_LOGO_BYTES = 2 * 1024 * 1024
MAX_LOGO_PIXELS = 4000 * 4000
LOGO_SIZE = 512
MIN_CONTRAST = 3.0  # links and headings in the brand colour on white


class BrandError(ValueError):
    """A brand setting that cannot be saved; the message says what to change."""


def reencode_logo(data: bytes) -> bytes:
    """Accept PNG, JPEG or WebP (by content), and store a fresh PNG of at most 512 px.

    Re-encoding drops whatever else the file carried (metadata, appended payloads).
    """
    if len(data) > MAX_LOGO_BYTES:
        raise BrandError("the logo is larger than 2 MB")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            kind = probe.format
            width, height = probe.size
        if kind not in ("PNG", "JPEG", "WEBP"):
            raise BrandError("upload the logo as PNG, JPEG or WebP")
        if width * height > MAX_LOGO_PIXELS:
            raise BrandError("the logo has too many pixels; 2000 x 2000 is plenty")
        with Image.open(io.BytesIO(data)) as source:
            source.load()
            logo = source.convert("RGBA")
        logo.thumbnail((LOGO_SIZE, LOGO_SIZE))
        out = io.BytesIO()
        logo.save(out, format="PNG", optimize=True)
        return out.getvalue()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise BrandError("this file is not an image we can read") from exc


def check_colours(primary: str, accent: str) -> list[str]:
    """Problems with brand colours (empty when they are fine)."""
    problems = []
    for name, value in (("primary colour", primary), ("accent colour", accent)):
        if not _HEX.match(value or ""):
            problems.append(f"the {name} must look like #1a2b3c")
    if not problems and contrast_ratio(primary, "#ffffff") < MIN_CONTRAST:
        problems.append(
            f"the primary colour is too light on white (contrast "
            f"{contrast_ratio(primary, '#ffffff'):.1f}:1, at least {MIN_CONTRAST:.0f}:1 needed)"
        )
    return problems
