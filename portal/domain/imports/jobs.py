"""Committing an uploaded batch: in the request for small files, as a background job for
large ones, with progress kept in a small file the job page polls."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.db import Database
from portal.domain import audit
from portal.domain.dunning import new_invoices
from portal.domain.imports import engine, pdfs, readers
from portal.domain.problems import N_, Problem
from portal.models import Brand, ImportBatch, ImportJob, utcnow

log = logging.getLogger(__name__)


KEEP_SECONDS = 24 * 3600  # an upload nobody committed is removed after a day
_HASH = re.compile(r"^[0-9a-f]{64}$")


class UploadsFull(Problem):
    """No room to keep an upload: files that import jobs wait for fill the quota."""


@dataclass(frozen=True)
class Uploads:
    """Where uploads wait between preview and commit, and where jobs report progress."""

    folder: Path

    def data(self, file_hash: str) -> Path:
        return self.folder / f"{file_hash}.upload"

    def pdf_zip(self, file_hash: str) -> Path:
        return self.folder / f"{file_hash}.pdfs.zip"

    def progress_file(self, job_id: int) -> Path:
        return self.folder / f"job-{job_id}.json"

    def forget(self, file_hash: str) -> None:
        self.data(file_hash).unlink(missing_ok=True)
        self.pdf_zip(file_hash).unlink(missing_ok=True)

    def keep(
        self,
        file_hash: str,
        data: bytes,
        pdf_zip: bytes,
        *,
        quota: int,
        busy: set[str],
        now: float | None = None,
    ) -> list[str]:
        """Write a checked upload (and its ZIP of PDFs) within `quota` bytes for all uploads.

        Uploads older than a day go first, then the oldest uploads no import job waits
        for (`busy`), until the new one fits; UploadsFull when the files of waiting jobs
        leave no room. Returns the hashes of the uploads removed to make room.
        """
        now = time.time() if now is None else now
        needed = len(data) + len(pdf_zip)
        groups: dict[str, list[float]] = {}  # hash -> [uploaded at, bytes]
        used = 0
        for path in self.folder.iterdir():
            try:
                stat = path.stat()
            except FileNotFoundError:  # removed meanwhile by another request
                continue
            owner = path.name.split(".", 1)[0]
            if owner == file_hash:
                continue  # the same file again: replaced below
            if now - stat.st_mtime > KEEP_SECONDS and owner not in busy:
                path.unlink(missing_ok=True)
                continue
            used += stat.st_size
            if _HASH.match(owner):
                group = groups.setdefault(owner, [stat.st_mtime, 0])
                group[0] = min(group[0], stat.st_mtime)
                group[1] += stat.st_size
        removed = []
        for owner, (_at, size) in sorted(groups.items(), key=lambda g: g[1][0]):
            if used + needed <= quota:
                break
            if owner in busy:
                continue
            self.forget(owner)
            used -= int(size)
            removed.append(owner)
        if used + needed > quota:
            raise UploadsFull(
                N_(
                    "There is no room to keep this upload: imports waiting for the worker"
                    " use the %(mb)d MB set aside for uploads. Try again when they are done."
                ),
                mb=quota // (1024 * 1024),
            )
        self.data(file_hash).write_bytes(data)
        if pdf_zip:
            self.pdf_zip(file_hash).write_bytes(pdf_zip)
        else:
            self.pdf_zip(file_hash).unlink(missing_ok=True)
        return removed

    def reporter(self, job_id: int) -> engine.Progress:
        path = self.progress_file(job_id)

        def report(phase: str, done: int, total: int) -> None:
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"phase": phase, "done": done, "total": total}))
            os.replace(tmp, path)

        return report

    def progress(self, job_id: int) -> dict[str, Any]:
        try:
            return dict(json.loads(self.progress_file(job_id).read_text()))
        except (OSError, ValueError):
            return {"phase": "queued", "done": 0, "total": 0}


def waiting_files(session: Session) -> set[str]:
    """The uploads that queued or running import jobs still need."""
    return set(
        session.scalars(
            select(ImportJob.file_hash).where(ImportJob.status.in_(("queued", "running")))
        )
    )


def keep_upload(
    session: Session, uploads: Uploads, data: bytes, pdf_zip: bytes, *, quota: int
) -> str:
    """Check an upload before anything of it is kept (size, kind by content, zip bombs and
    XML tricks; the ZIP of PDFs: size, a ZIP, how many files), then keep it within the
    quota. Returns its hash; raises ReadError or UploadsFull."""
    readers.check(data)
    if pdf_zip:
        pdfs.check_archive(pdf_zip)
    file_hash = hashlib.sha256(data).hexdigest()
    removed = uploads.keep(file_hash, data, pdf_zip, quota=quota, busy=waiting_files(session))
    if removed:
        log.info("uploads quota: removed %d older uploads to keep a new one", len(removed))
    return file_hash


def restart(session: Session, job_id: int, uploads: Uploads, actor: str) -> ImportJob | None:
    """Queue a failed job again (its worker died, or it failed and the file is still
    here); None when it is not failed any more or its upload is gone. The caller commits
    and enqueues it."""
    job = session.get(ImportJob, job_id, with_for_update=True, populate_existing=True)
    if job is None or job.status != "failed" or not uploads.data(job.file_hash).exists():
        return None
    job.status, job.error, job.finished_at, job.heartbeat_at = "queued", "", None, None
    audit.record(session, actor, "admin.import_job_restarted", job=job.id)
    return job


def pdf_match(
    uploads: Uploads, file_hash: str, result: engine.Preview, *, keep: bool = True
) -> pdfs.PdfMatch | None:
    """The ZIP of original PDFs that came with the upload, matched to its rows (with
    `keep=False` only their names, for the preview page)."""
    path = uploads.pdf_zip(file_hash)
    if not path.exists():
        return None
    try:
        return pdfs.match_pdfs(path, (r.invoice_number for r in result.rows), keep=keep)
    except engine.ReadError as exc:
        return pdfs.PdfMatch(refused=[str(exc)])


def commit_upload(
    session: Session,
    uploads: Uploads,
    file_hash: str,
    result: engine.Preview,
    *,
    brand: Brand,
    by: str,
    notify: bool = False,
    progress: engine.Progress | None = None,
) -> engine.CommitResult:
    """Commit a clean preview, attach its original PDFs and record the batch (no COMMIT).

    With `notify`, the batch carries the "new invoices" event for the worker to mail.
    """
    done = engine.commit(session, result, brand=brand, by=by, progress=progress)
    match = pdf_match(uploads, file_hash, result)
    attached = pdfs.attach(session, brand.id, match.matched) if match else 0
    batch = session.get(ImportBatch, done.batch_id)
    if batch is not None:
        batch.counts = {**batch.counts, "original_pdfs": attached}
        if notify:
            new_invoices.mark(batch, done.new_invoices_by_debtor)
    audit.record(
        session,
        by,
        "admin.import_committed",
        batch=done.batch_id,
        new_invoices=done.new_invoices,
        updated=done.updated_invoices,
        original_pdfs=attached,
    )
    return done


def run(db: Database, uploads: Uploads, job_id: int) -> int | None:
    """Carry out a queued import job: preview again, then commit, all or nothing.
    Returns the new batch when its debtors are to be mailed about it (the caller asks
    the worker to), else None.

    The job is taken under a row lock (a job queued twice runs once), and its commit
    goes through only while the job is still `running`: one that `liveness.reap` gave up
    on (no heartbeat) and that someone started again is not imported twice."""
    with db.unit_of_work() as session:
        job = session.get(ImportJob, job_id, with_for_update=True)
        if job is None or job.status != "queued":
            return None
        job.status, job.heartbeat_at = "running", utcnow()
    report = uploads.reporter(job_id)
    try:
        with db.unit_of_work() as session:
            job = session.get(ImportJob, job_id)
            brand = session.get(Brand, job.brand_id) if job else None
            if job is None or brand is None:
                raise engine.ImportRefused("the job or its brand no longer exists")
            options = job.options or {}
            result = engine.preview(
                session,
                uploads.data(job.file_hash).read_bytes(),
                brand=brand,
                filename=job.filename,
                mode=options.get("mode", "full"),
                mapping=options.get("mapping") or None,
                force=bool(options.get("force")),
                booking_lag_days=int(options.get("booking_lag_days", 14)),
                progress=report,
            )
            if not result.can_commit:
                raise engine.ImportRefused(
                    f"{len(result.errors)} rows have errors; check the file again"
                    if result.errors
                    else "nothing to import"
                )
            done = commit_upload(
                session,
                uploads,
                job.file_hash,
                result,
                brand=brand,
                by=job.created_by,
                notify=bool(options.get("notify")),
                progress=report,
            )
            session.refresh(job, with_for_update=True)
            if job.status != "running":
                raise engine.ImportRefused("the job was given up while it ran; start it again")
            job.status, job.batch_id, job.finished_at = "done", done.batch_id, utcnow()
        report("done", 1, 1)
        uploads.forget(job.file_hash)
        if done.batch_id and options.get("notify"):
            return done.batch_id
    except Exception as exc:  # the job page must show what went wrong, whatever it was
        log.exception("import job %s failed", job_id)
        with db.unit_of_work() as session:
            failed = session.get(ImportJob, job_id)
            if failed is not None and failed.status == "running":
                failed.status, failed.error, failed.finished_at = (
                    "failed",
                    str(exc)[:2000],
                    utcnow(),
                )
        report("failed", 0, 0)
    return None
