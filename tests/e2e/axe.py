"""axe-core in the browser tests: a page passes only without WCAG 2.2 AA violations.

axe is evaluated through the DevTools protocol (page.evaluate), not added as a script
tag, so the app's CSP, which forbids inline script, stays as strict as in production.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

AXE = Path(__file__).parent / "vendor" / "axe-4.14.1.min.js"
WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


@cache
def _source() -> str:
    return AXE.read_text(encoding="utf-8")


def violations(page: Page, tags: list[str] | None = None) -> list[dict[str, Any]]:
    """axe's violations on the page as it is now, at the given tags (WCAG 2.2 AA)."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(_source())
    result: dict[str, Any] = page.evaluate(
        """async (tags) => await window.axe.run(document, {
               runOnly: {type: 'tag', values: tags},
               resultTypes: ['violations'],
           })""",
        tags or WCAG_22_AA,
    )
    return list(result["violations"])


def describe(found: list[dict[str, Any]]) -> str:
    """Violations as lines a person can act on: rule, impact, help and the elements."""
    lines = []
    for v in found:
        lines.append(f"- {v['id']} ({v.get('impact')}): {v['help']} <{v['helpUrl']}>")
        for node in v["nodes"][:8]:
            target = " ".join(str(t) for t in node["target"])
            summary = (node.get("failureSummary") or "").replace("\n", " ")
            lines.append(f"    {target}: {node['html'][:160]}")
            if summary:
                lines.append(f"      {summary[:300]}")
        if len(v["nodes"]) > 8:
            lines.append(f"    … and {len(v['nodes']) - 8} more")
    return "\n".join(lines)


def assert_accessible(page: Page, where: str = "") -> None:
    """Fail with a readable list when axe finds any WCAG 2.2 AA violation on the page."""
    found = violations(page)
    if found:
        name = where or page.url
        raise AssertionError(f"axe found {len(found)} violation(s) on {name}:\n{describe(found)}")
