"""Brand colours stay readable: links at 4.5:1 and the focus ring at 3:1 or more on every
light panel of the portal, whatever colour a brand picked (and the admin allows)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from portal.domain import brands

DEMO = Path(__file__).parents[2] / "portal" / "demo.py"
DEMO_COLOURS = sorted(set(re.findall(r'primary_color="(#[0-9a-fA-F]{6})"', DEMO.read_text())))
EXTREMES = [
    "#000000",  # black
    "#767676",  # the lightest grey the admin accepts on white (4.5:1)
    "#949494",  # a grey just above 3:1 on white
    "#ff0000",  # pure red: 4:1 on white
    "#00a000",  # a bright green
    "#ffcc00",  # yellow: far too light, the admin refuses it; still handled
    "#ffffff",  # white: the same
    "#1d4ed8",  # the default
]


def test_the_demo_has_brand_colours_to_check():
    assert len(DEMO_COLOURS) >= 2


@pytest.mark.parametrize("primary", DEMO_COLOURS + EXTREMES)
def test_focus_ring_and_links_have_enough_contrast_everywhere(primary):
    ring, link = brands.focus_ring(primary), brands.link_colour(primary)
    for background in brands.LIGHT_BACKGROUNDS:
        assert brands.contrast_ratio(ring, background) >= 3.0, (primary, background)
        assert brands.contrast_ratio(link, background) >= 4.5, (primary, background)


def test_a_dark_brand_colour_is_kept_as_it_is():
    assert brands.focus_ring("#0f766e") == "#0f766e"
    assert brands.link_colour("#1e3a8a") == "#1e3a8a"


def test_a_light_brand_colour_is_darkened_only_as_far_as_needed():
    assert brands.contrast_ratio("#949494", "#f3f4f6") < 3.0  # fine on white, not on grey
    ring = brands.focus_ring("#949494")
    assert ring not in ("#949494", "#000000")
    assert brands.contrast_ratio(ring, "#f3f4f6") >= 3.0
