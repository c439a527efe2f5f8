"""The domain knows neither the worker nor the app: no module under portal/domain imports
`portal.tasks`, the app package's objects or Flask, not even inside a function (that is
how the one import cycle, imports/jobs <-> tasks, hid). What needs the worker is noticed
after the commit (portal/dispatch.py)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DOMAIN = Path(__file__).resolve().parents[2] / "portal" / "domain"
# the app's layer: what the domain may never reach for
OUTSIDE = ("portal.tasks", "portal.dispatch", "portal.extensions", "portal.runtime", "flask")


def every_import(path: Path) -> set[str]:
    """Every module or name a file imports, at the top or inside functions."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return found


def forbidden(imported: set[str]) -> set[str]:
    return {
        name
        for name in imported
        if name.startswith(OUTSIDE)
        or (
            name.startswith("portal.")
            and name.count(".") == 1
            and not name.startswith(
                ("portal.domain", "portal.db", "portal.models", "portal.config")
            )
        )
    }


@pytest.mark.parametrize(
    "path", sorted(DOMAIN.rglob("*.py")), ids=lambda p: str(p.relative_to(DOMAIN))
)
def test_domain_modules_import_neither_tasks_nor_the_app(path):
    assert not forbidden(every_import(path))


def test_the_scan_sees_an_import_inside_a_function(tmp_path):
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text("def later():\n    from portal import tasks\n\n    tasks.send_outbox()\n")
    assert forbidden(every_import(sneaky)) == {"portal.tasks"}
    app = tmp_path / "app.py"
    app.write_text("from flask import current_app\nfrom portal import create_app\n")
    assert forbidden(every_import(app)) == {"flask", "flask.current_app", "portal.create_app"}
