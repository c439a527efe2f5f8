"""Batch import speed: a 100,000-row .xlsx (10 columns, 20,000 debtors).

Times the raw calamine read of the sheet, then the whole import as the CLI runs it (process
start to exit) with its peak RSS, on SQLite and PostgreSQL, and a re-import of the unchanged
file with --force. Targets (DESIGN.md section 9): whole import within 2x the raw read on
PostgreSQL, peak RSS under 300 MB, re-import no slower than the first. Not part of the tests.

    .venv/bin/python bench/import.py [--rows 100000] [--debtors 20000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from portal_pages import DEFAULT_ADMIN_URL, SECRET, bench_database, migrate  # noqa: E402

BIN = Path(sys.executable).parent


def make_file(path: Path, rows: int, debtors: int) -> None:
    from openpyxl import Workbook

    rng = random.Random(3)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet()
    ws.append(
        [
            "Factuurnummer",
            "Debiteurnummer",
            "Naam",
            "E-mail",
            "Factuurdatum",
            "Vervaldatum",
            "Bedrag",
            "Openstaand",
            "Valuta",
            "Omschrijving",
        ]
    )
    start = dt.date(2026, 1, 1)
    for n in range(rows):
        d = n % debtors
        day = start + dt.timedelta(days=n % 300)
        total = rng.randint(1000, 500000) / 100
        ws.append(
            [
                f"F{n:07d}",
                f"D{d:06d}",
                f"Klant {d}",
                f"klant{d}@example.com",
                day,
                day + dt.timedelta(days=14),
                total,
                total if n % 3 else 0,
                "EUR",
                "Levering en installatie",
            ]
        )
    wb.save(path)


def raw_read(path: Path) -> float:
    from python_calamine import CalamineWorkbook

    t0 = time.perf_counter()
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
    elapsed = time.perf_counter() - t0
    assert len(rows) > 1
    return elapsed


def cli(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Run a flask command; (seconds, peak RSS MB of that process, output)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    out = subprocess.run(
        [str(BIN / "flask"), "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if out.returncode:
        raise RuntimeError(out.stdout + out.stderr)
    # ru_maxrss of children is the largest child so far; each import is the largest yet or
    # equal, so report it with that caveat
    return elapsed, max(peak, before) / 1024, out.stdout.strip().splitlines()[-1]


def measure(url: str, instance: Path, path: Path) -> dict[str, float]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": SECRET,
        "PORTAL_INSTANCE_PATH": str(instance),
    }
    migrate(url, instance)
    code = (
        "from portal import create_app\nfrom portal.db import db\nfrom portal.models import Brand\n"
        "app = create_app()\nwith db.unit_of_work() as s: s.add(Brand(slug='bench', name='Bench'))"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True)
    first, rss, line = cli(["import-invoices", str(path), "--brand", "bench", "--commit"], env)
    print(f"    first import: {first:.1f} s, {line}")
    again, rss2, line2 = cli(
        ["import-invoices", str(path), "--brand", "bench", "--commit", "--force"], env
    )
    print(f"    re-import (--force): {again:.1f} s, {line2}")
    return {"first": first, "again": again, "rss": max(rss, rss2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--debtors", type=int, default=20_000)
    parser.add_argument("--database-url", default=DEFAULT_ADMIN_URL)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "batch.xlsx"
        t0 = time.perf_counter()
        make_file(path, args.rows, args.debtors)
        print(
            f"generated {args.rows:,} rows in {time.perf_counter() - t0:.1f} s "
            f"({path.stat().st_size / 1e6:.1f} MB)"
        )
        read = min(raw_read(path) for _ in range(3))
        print(f"raw calamine read: {read:.2f} s")
        print("  SQLite:")
        lite = measure(f"sqlite:///{tmp}/bench.db", Path(tmp) / "i1", path)
        print("  PostgreSQL:")
        with bench_database(args.database_url, "portal_bench_import", keep=False) as url:
            pg = measure(url, Path(tmp) / "i2", path)
    print()
    print(f"import of {args.rows:,} rows / {args.debtors:,} debtors")
    print(f"raw calamine read            {read:6.2f} s")
    for name, r in (("SQLite", lite), ("PostgreSQL", pg)):
        print(
            f"{name:<11} whole import    {r['first']:6.2f} s  ({r['first'] / read:.1f}x raw read)"
            f"   re-import {r['again']:6.2f} s   peak RSS {r['rss']:.0f} MB"
        )
    print(
        "targets: PostgreSQL whole import <= 2x raw read; peak RSS < 300 MB; "
        "re-import <= first import"
    )


if __name__ == "__main__":
    main()
