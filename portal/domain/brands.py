"""Brand colours: validation and contrast (WCAG 2.1 relative luminance)."""

from __future__ import annotations

import re

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
