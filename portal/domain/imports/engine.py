"""Preview and commit of an invoice batch: the public face of the import.

Validation runs outside any write transaction and builds a Preview: what would change and
every row problem. Commit applies a preview without errors in bulk statements and one
commit: all rows or none. Matching follows DESIGN.md section 9: invoices by (brand, number),
debtors by (brand, debtor number), email only when the file has no debtor-number column.

The work is done in three steps, each its own module: rows.py reads and checks the rows,
planning.py sets them against the database, writing.py carries the plan out.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.domain.imports import writing
from portal.domain.imports.columns import _HEADER_SCAN as HEADER_SCAN
from portal.domain.imports.columns import LABELS, REQUIRED, Header, apply_overrides, find_header
from portal.domain.imports.planning import Plan, make_plan
from portal.domain.imports.readers import ReadError, open_sheet
from portal.domain.imports.rows import (
    Issue,
    Progress,
    Row,
    check_rows,
    from_problem,
    issue,
    silent,
)
from portal.domain.problems import N_
from portal.models import Brand, ImportBatch, Segment, utcnow

__all__ = ["CommitResult", "ImportRefused", "Preview", "Progress", "ReadError", "commit", "preview"]


@dataclass
class Preview:
    """What a file would do, changing nothing: its checked rows, every problem and the counts
    the admin confirms; commit() carries out a preview without errors."""

    brand_id: int
    mode: str
    file_hash: str
    filename: str
    header: Header | None
    rows: list[Row] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    new_debtors: int = 0
    new_invoices: int = 0
    updated_invoices: int = 0
    unchanged: int = 0
    paid_elsewhere: int = 0
    new_businesses: int = 0  # of new_debtors: by a customer-type, KvK/KBO or VAT column
    new_consumers: int = 0
    placed: int = 0  # new invoices that enter their schedule after the step the file names
    by_reference: int = 0  # invoices paid elsewhere whose transfer named our reference
    already_imported: bool = False
    booking_lag_days: int = 14  # IMPORT_BOOKING_LAG_DAYS: see planning._recently_paid_here

    @property
    def credit_notes(self) -> int:
        """Rows that are credit notes (a negative amount)."""
        return sum(1 for row in self.rows if row.kind == "credit_note")

    def sample(self, size: int = 10) -> list[Row]:
        """The first rows as they were read, for the admin to check the columns."""
        return self.rows[:size]

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "warning"]

    @property
    def can_commit(self) -> bool:
        return bool(self.rows) and not self.errors and not self.already_imported


@dataclass
class CommitResult:
    batch_id: int
    new_debtors: int
    new_invoices: int
    updated_invoices: int
    paid_elsewhere: int
    # "new invoices" event: per debtor the invoices this batch created (for notification mails)
    new_invoices_by_debtor: dict[int, list[int]] = field(default_factory=dict)


class ImportRefused(ValueError):
    """The batch cannot be committed; the preview says why."""


def preview(
    session: Session,
    data: bytes,
    *,
    brand: Brand,
    filename: str = "",
    mode: str = "full",
    mapping: Mapping[str, Any] | None = None,
    force: bool = False,
    progress: Progress | None = None,
    booking_lag_days: int = 14,
) -> Preview:
    """Read, map and validate a file against the database, changing nothing.

    `progress(phase, done, total)` is told how far it got (for the background job page).
    """
    report = progress or silent
    if mode not in ("full", "open_items"):
        raise ValueError("mode must be full or open_items")
    digest = hashlib.sha256(data).hexdigest()
    result = Preview(brand.id, mode, digest, filename, None, booking_lag_days=booking_lag_days)
    report("reading", 0, 0)
    try:
        sheet = open_sheet(data)
        # rows are read one at a time: only the top of the sheet (where the header is) is kept
        rows = list(itertools.islice(sheet.rows, HEADER_SCAN))
    except ReadError as exc:
        result.issues.append(from_problem(0, "", filename, exc))
        return result
    header = find_header(rows)
    if header is None and mapping and rows:
        # nothing recognised: the admin's mapping names columns of the first row
        header = Header(0, {}, [str(c or "") for c in rows[0]])
    if header is not None and mapping:
        try:
            header = apply_overrides(header, mapping)
        except ValueError as exc:
            result.issues.append(
                issue(
                    0,
                    "",
                    "",
                    N_("The column mapping does not fit this file: %(error)s"),
                    error=str(exc),
                )
            )
            return result
    missing = [LABELS[f] for f in REQUIRED if header is None or f not in header.columns]
    if header is None or missing:
        # keep the first row's names so the admin can choose the columns by hand
        first = next((r for r in rows if any(c not in (None, "") for c in r)), [])
        result.header = header or Header(
            rows.index(first) if first else 0, {}, [str(c or "") for c in first]
        )
        result.issues.append(
            issue(
                0,
                "",
                "",
                N_(
                    "No header row with the columns %(columns)s was found; "
                    "choose the columns by hand."
                ),
                columns=", ".join(missing or [LABELS[f] for f in REQUIRED]),
            )
        )
        return result
    result.header = header
    if not force and session.scalar(
        select(ImportBatch.id).where(
            ImportBatch.brand_id == brand.id, ImportBatch.file_hash == digest
        )
    ):
        result.already_imported = True
        result.issues.append(
            issue(
                0,
                "",
                filename,
                N_(
                    "This exact file was imported before; "
                    "nothing would change. Import it again only on purpose."
                ),
                "warning",
            )
        )
    try:
        check_rows(
            itertools.chain(rows, sheet.rows),
            header,
            rows=result.rows,
            issues=result.issues,
            term=_term_days(session, brand),
            report=report,
            brand_country=brand.country,
            sheet_rows=sheet.count,
        )
    except ReadError as exc:  # a row further down the file cannot be read at all
        result.rows.clear()
        result.issues = [from_problem(0, "", filename, exc)]
        return result
    result.placed = sum(1 for r in result.rows if r.last_step)
    del rows, sheet  # the raw cells are no longer needed; large files keep only the parsed rows
    report("comparing", len(result.rows), len(result.rows))
    plan = _plan(session, brand, result)
    result.issues.extend(plan.issues)
    result.issues.extend(plan.warnings)
    result.issues.sort(key=lambda issue: issue.line)
    result.unchanged = plan.unchanged
    result.new_debtors = len(plan.new_debtors)
    result.new_invoices = len(plan.inserts)
    result.updated_invoices = len(plan.updates)
    result.paid_elsewhere = len(plan.paid_elsewhere)
    kinds = [r.customer_kind or brand.default_debtor_kind for r in plan.new_debtors.values()]
    result.new_businesses = kinds.count("b2b")
    result.new_consumers = len(kinds) - result.new_businesses
    result.placed = sum(1 for r in plan.inserts if r.last_step)
    result.by_reference = len(plan.by_reference)
    return result


def _term_days(session: Session, brand: Brand) -> int:
    # the shortest segment term is the safe default for invoices without a due date
    term = session.scalar(select(Segment.payment_term_days).order_by(Segment.payment_term_days))
    return int(term) if term is not None else 14


def _plan(session: Session, brand: Brand, result: Preview) -> Plan:
    """The plan for a preview's rows against the database as it is now."""
    return make_plan(
        session,
        brand,
        result.rows,
        mode=result.mode,
        has_number_column=result.header is not None and "debtor_number" in result.header.columns,
        booking_lag_days=result.booking_lag_days,
    )


def commit(
    session: Session, result: Preview, *, brand: Brand, by: str, progress: Progress | None = None
) -> CommitResult:
    """Apply a clean preview: bulk statements, then the caller commits once (all or nothing)."""
    report = progress or silent
    if not result.can_commit:
        raise ImportRefused("the preview has errors" if result.errors else "nothing to import")
    report("writing", 0, len(result.rows))
    plan = _plan(session, brand, result)  # again, inside the write transaction
    if plan.issues:
        raise ImportRefused("the data changed since the preview; check it again")
    now = utcnow()
    by_debtor = writing.apply(session, brand, plan, by=by, now=now)
    counts = {
        "new_debtors": len(plan.new_debtors),
        "new_invoices": len(plan.inserts),
        "updated_invoices": len(plan.updates),
        "unchanged": result.unchanged,
        "paid_elsewhere": len(plan.paid_elsewhere),
    }
    batch = ImportBatch(
        brand_id=brand.id,
        filename=result.filename[:255],
        file_hash=result.file_hash,
        mode=result.mode,
        counts=counts,
        created_by=by,
        committed_at=now,
    )
    session.add(batch)
    session.flush()
    return CommitResult(
        batch.id,
        counts["new_debtors"],
        counts["new_invoices"],
        counts["updated_invoices"],
        counts["paid_elsewhere"],
        by_debtor,
    )
