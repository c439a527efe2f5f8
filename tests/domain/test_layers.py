"""The ledger seam: the modules that book money import the ledger, never plans, so a new
source of money (direct debit, an agency, an accounting package) cannot call up into them."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "portal" / "domain"
BELOW_THE_LEDGER = [
    "ledger.py",
    "payments/service.py",
    "imports/writing.py",
    "requests.py",
    "collection/reports.py",
    "collection/writeoff.py",
]


def module_imports(path: Path) -> set[str]:
    """What a module imports when it is loaded (not inside functions)."""
    found: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom) and node.module:
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return found


@pytest.mark.parametrize("name", BELOW_THE_LEDGER)
def test_money_code_does_not_import_plans(name):
    imported = module_imports(ROOT / name)
    assert not {m for m in imported if m.startswith("portal.domain.plans")}, imported


@pytest.mark.parametrize("name", BELOW_THE_LEDGER[1:])
def test_money_code_books_through_the_ledger(name):
    assert "portal.domain.ledger" in module_imports(ROOT / name) or any(
        m.startswith("portal.domain.payments.service") for m in module_imports(ROOT / name)
    )
