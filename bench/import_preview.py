"""Memory of an import preview in the web process: a large .xlsx uploaded and checked.

An admin uploads a spreadsheet of about 14 MB (default 185,000 rows, 12 columns) and opens
its preview page, in one process with the real app and routes (Flask's test client,
SQLite). The process reports its resident memory before the upload and its peak (VmHWM)
after the preview page was rendered; the difference is what the preview cost. Not part of
the tests.

    .venv/bin/python bench/import_preview.py [--rows 185000] [--format xlsx|csv]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from portal_pages import SECRET, migrate  # noqa: E402

BIN = Path(sys.executable).parent
EMAIL = "bench-admin@example.com"
PASSWORD = "a long bench password"


def make_file(path: Path, rows: int) -> None:
    """An export with a preamble, 12 columns and some text per row, as packages write them
    (.xlsx, or CSV with semicolons and Dutch dates and amounts when `path` ends in .csv)."""
    from openpyxl import Workbook

    rng = random.Random(5)
    wb = Workbook(write_only=True)
    ws: Any = wb.create_sheet()
    out = None
    if path.suffix == ".csv":
        out = path.open("w", encoding="utf-8", newline="")
        writer = csv.writer(out, delimiter=";")
        ws = _CsvSheet(writer)
    ws.append(["Openstaande posten per 1 november 2026"])
    ws.append([])
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
            "Referentie",
            "Plaats",
        ]
    )
    start = dt.date(2026, 1, 1)
    for n in range(rows):
        d = n % (rows // 5 or 1)
        day = start + dt.timedelta(days=n % 300)
        total = rng.randint(1000, 500000) / 100
        ws.append(
            [
                f"F{n:08d}",
                f"D{d:07d}",
                f"Klant {d} B.V.",
                f"klant{d}@example.com",
                day,
                day + dt.timedelta(days=14),
                total,
                total if n % 3 else 0,
                "EUR",
                f"Levering en installatie order {rng.randint(1, 10**6)}",
                f"PO-{rng.randint(1, 10**8)}",
                "Amsterdam",
            ]
        )
    if out is not None:
        out.close()
    else:
        wb.save(path)


class _CsvSheet:
    """ws.append() for a CSV file, in the shapes Dutch packages export."""

    def __init__(self, writer: Any) -> None:
        self.writer = writer

    def append(self, row: list[Any]) -> None:
        self.writer.writerow([_dutch(v) for v in row])


def _dutch(value: Any) -> str:
    if isinstance(value, dt.date):
        return value.strftime("%d-%m-%Y")
    if isinstance(value, float):
        return f"{value:.2f}".replace(".", ",")
    return str(value)


def _status(field: str) -> float:
    """VmRSS or VmHWM of this process, in MB."""
    text = Path("/proc/self/status").read_text()
    match = re.search(rf"^{field}:\s+(\d+) kB", text, re.M)
    assert match is not None
    return int(match.group(1)) / 1024


def child(path: Path) -> None:
    """Upload `path` and open its preview page; print the figures as JSON."""
    from portal import create_app
    from portal.db import db
    from portal.models import Brand

    app = create_app()
    with app.app_context():
        db.session.add(Brand(slug="bench", name="Bench"))
        db.session.commit()
        brand_id = db.session.query(Brand.id).filter_by(slug="bench").scalar()
    client = app.test_client()

    def csrf(page: str) -> str:
        found = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
        assert found is not None, page[:500]
        return found.group(1)

    login = client.get("/admin/login").get_data(as_text=True)
    signed_in = client.post(
        "/admin/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": csrf(login)}
    )
    assert signed_in.status_code in (302, 303), signed_in.status_code
    token = csrf(client.get("/admin/imports").get_data(as_text=True))
    data = path.read_bytes()
    before = _status("VmRSS")
    t0 = time.perf_counter()
    with path.open("rb") as upload:
        uploaded = client.post(
            "/admin/imports",
            data={"csrf_token": token, "brand_id": str(brand_id), "file": (upload, path.name)},
            content_type="multipart/form-data",
        )
    assert uploaded.status_code == 303, uploaded.get_data(as_text=True)[:2000]
    page = client.get(uploaded.headers["Location"])
    elapsed = time.perf_counter() - t0
    assert page.status_code == 200, page.status_code
    html = page.get_data(as_text=True)
    found = re.search(r'<p class="big">(\d+)</p>', html)
    print(
        json.dumps(
            {
                "file_mb": len(data) / 1e6,
                "before_mb": before,
                "peak_mb": _status("VmHWM"),
                "seconds": elapsed,
                "page_kb": len(html) / 1024,
                "new_debtors": int(found.group(1)) if found else -1,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=185_000)
    parser.add_argument("--format", choices=("xlsx", "csv"), default="xlsx")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child))
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"openstaand.{args.format}"
        make_file(path, args.rows)
        instance = Path(tmp) / "instance"
        url = f"sqlite:///{tmp}/bench.db"
        migrate(url, instance)
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "SECRET_KEY": SECRET,
            "PORTAL_INSTANCE_PATH": str(instance),
        }
        subprocess.run(
            [str(BIN / "flask"), "--app", "wsgi", "create-admin", EMAIL, "--password-stdin"],
            cwd=ROOT,
            env=env,
            input=PASSWORD + "\n",
            text=True,
            check=True,
            capture_output=True,
        )
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(path)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode:
            raise SystemExit(out.stdout + out.stderr)
        figures = json.loads(out.stdout.strip().splitlines()[-1])
    print(
        f"preview of a {figures['file_mb']:.1f} MB .{args.format} ({args.rows:,} rows): "
        f"RSS before upload {figures['before_mb']:.0f} MB, peak {figures['peak_mb']:.0f} MB "
        f"(+{figures['peak_mb'] - figures['before_mb']:.0f} MB), "
        f"{figures['seconds']:.1f} s, page {figures['page_kb']:.0f} KiB"
    )


if __name__ == "__main__":
    main()
