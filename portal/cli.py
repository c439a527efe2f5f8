"""Command line: flask --app wsgi <command> (DESIGN.md section 4)."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import sys
from collections.abc import Iterator
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup
from sqlalchemy import select, text

from portal.db import db

ROOT = Path(__file__).resolve().parent.parent


def alembic_config() -> object:
    """Alembic configuration pointing at this app's database."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option(
        "file_template",
        "%%(year)d_%%(month).2d_%%(day).2d_%%(hour).2d%%(minute).2d-%%(rev)s_%%(slug)s",
    )
    cfg.attributes["engine"] = db.engine
    return cfg


@functools.cache
def migration_heads() -> tuple[str, ...]:
    """The newest revision(s) among the migration files (what /readyz expects)."""
    from alembic.script import ScriptDirectory

    return tuple(ScriptDirectory.from_config(alembic_config()).get_heads())  # type: ignore[arg-type]


MIGRATION_LOCK = 0x62706D67  # "bpmg": the advisory lock every migrating process takes


def upgrade_database() -> None:
    """Run every migration up to the newest (idempotent).

    Processes that start together (two web servers and the workers of a deploy, each
    running scripts/start-production.sh) migrate once: the first takes a lock
    (PostgreSQL: an advisory lock; SQLite: a file lock beside the database file), the
    others wait for it and then find nothing left to do."""
    from alembic import command

    with _migration_lock():
        command.upgrade(alembic_config(), "head")  # type: ignore[arg-type]


@contextlib.contextmanager
def _migration_lock() -> Iterator[None]:
    engine = db.engine
    assert engine is not None
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
        return
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        yield
        return
    import fcntl

    with open(f"{database}.migrate-lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def register(app: Flask) -> None:
    """Attach the portal's commands to the app's CLI."""

    @app.cli.group("db")
    def db_group() -> None:
        """Database schema."""

    @db_group.command("upgrade")
    def db_upgrade() -> None:
        """Apply all migrations."""
        upgrade_database()
        click.echo("Database is up to date.")

    @app.cli.command("seed-demo")
    @click.option("--quiet", is_flag=True, help="Print nothing but errors.")
    def seed_demo(quiet: bool) -> None:
        """Create demo brands, debtors and invoices once; print a login link."""
        from portal.demo import (
            DEMO_ADMIN_EMAIL,
            DEMO_ADMIN_PASSWORD,
            login_link_for,
            pay_link_for,
            seed,
        )

        settings = current_app.config["SETTINGS"]
        if settings.is_production:
            click.echo("seed-demo is for development and demonstrations, not production.", err=True)
            sys.exit(1)
        with db.unit_of_work() as session:
            created = seed(session)
        if created:  # insight's figures, as the worker makes them every night
            from portal.tasks import refresh_insight_now

            refresh_insight_now()
            from portal import collecting
            from portal.demo import collection

            with current_app.test_request_context(), db.unit_of_work() as session:
                collection(session, collecting.business_today(), collecting.hand_over)
            from portal.domain.worklist import events

            with db.unit_of_work() as session:  # the tasks' priorities, now with ratings
                events.settle(session)
        with db.unit_of_work() as session:
            link = login_link_for(session, settings)
            pay_link = pay_link_for(session, settings)
        if quiet:
            return
        click.echo("Demo data " + ("created." if created else "already present (kept as is)."))
        click.echo("")
        click.echo(f"  Portal:            {settings.base_url}/")
        click.echo(f"  Demo debtor login: {link}")
        click.echo("                     (valid 15 minutes, once; new one: make login-link)")
        if pay_link:
            click.echo(f"  Demo pay-link:     {pay_link}")
            click.echo(
                "                     (no login; the sandbox checkout lets you pick the outcome)"
            )
        click.echo(f"  Admin:             {settings.base_url}/admin/")
        click.echo(f"                     {DEMO_ADMIN_EMAIL} / {DEMO_ADMIN_PASSWORD}")
        click.echo("")

    @app.cli.command("create-admin")
    @click.argument("email")
    @click.option(
        "--role", type=click.Choice(["admin", "clerk"]), default="admin", show_default=True
    )
    @click.option("--name", default="")
    @click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
    def create_admin(email: str, role: str, name: str, password_stdin: bool) -> None:
        """Create an admin account (asks for the password)."""
        from portal.domain.admins import AdminError
        from portal.domain.admins import create_admin as create

        if password_stdin:
            password = sys.stdin.readline().rstrip("\n")
        else:
            password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        try:
            with db.unit_of_work() as session:
                create(session, email, password, role=role, name=name, by="cli")
        except AdminError as exc:
            click.echo(f"Not created: {exc}.", err=True)
            sys.exit(1)
        click.echo(f"Created {role} {email.strip().lower()}. Sign in at /admin/login.")

    @app.cli.command("import-invoices")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False))
    @click.option("--brand", "brand_slug", help="Brand slug (needed when there are several).")
    @click.option("--commit", "do_commit", is_flag=True, help="Write the batch (default: preview).")
    @click.option(
        "--mode",
        type=click.Choice(["full", "open-items"]),
        default="full",
        help="open-items: open invoices missing from the file were paid elsewhere.",
    )
    @click.option("--force", is_flag=True, help="Import a file again that was imported before.")
    @click.option("--profile", "profile_name", help="Use a column mapping saved in admin.")
    @click.option(
        "--pdfs",
        "pdf_zip",
        type=click.Path(exists=True, dir_okay=False),
        help="ZIP of original invoice PDFs, matched by file name.",
    )
    @click.option("--notify", is_flag=True, help="Mail each customer about their new invoices.")
    def import_invoices(
        file: str,
        brand_slug: str | None,
        do_commit: bool,
        mode: str,
        force: bool,
        profile_name: str | None,
        pdf_zip: str | None,
        notify: bool,
    ) -> None:
        """Preview an invoice batch (xlsx, xls, ods, csv) and commit it with --commit."""
        from pathlib import Path

        from portal.domain.imports import engine
        from portal.models import Brand, ImportProfile

        data = Path(file).read_bytes()
        with db.unit_of_work() as session:
            brands = list(session.scalars(select(Brand).order_by(Brand.slug)))
            chosen = [b for b in brands if brand_slug in (None, b.slug)]
            if len(chosen) != 1:
                names = ", ".join(b.slug for b in brands) or "none yet"
                click.echo(f"Choose a brand with --brand ({names}).", err=True)
                sys.exit(2)
            brand = chosen[0]
            mapping = None
            if profile_name:
                profile = session.scalars(
                    select(ImportProfile).where(
                        ImportProfile.brand_id == brand.id, ImportProfile.name == profile_name
                    )
                ).first()
                if profile is None:
                    click.echo(f"{brand.slug} has no column profile {profile_name!r}.", err=True)
                    sys.exit(2)
                mapping = dict(profile.mapping)
            result = engine.preview(
                session,
                data,
                brand=brand,
                filename=Path(file).name,
                mode=mode.replace("-", "_"),
                force=force,
                mapping=mapping,
                booking_lag_days=current_app.config["SETTINGS"].import_booking_lag_days,
            )
            click.echo(
                f"{brand.slug}: {len(result.rows)} rows read; new customers {result.new_debtors}"
                f" ({result.new_businesses} businesses, {result.new_consumers} consumers), "
                f"new invoices {result.new_invoices}, updated {result.updated_invoices}, "
                f"unchanged {result.unchanged}, paid elsewhere {result.paid_elsewhere}"
            )
            for issue in result.issues[:200]:
                where = f"row {issue.line}" if issue.line else "file"
                column = f", {issue.column}" if issue.column else ""
                value = f" [{issue.value}]" if issue.value else ""
                click.echo(f"  {issue.severity}: {where}{column}{value}: {issue.message}")
            if len(result.issues) > 200:
                click.echo(f"  ... and {len(result.issues) - 200} more")
            if result.errors:
                click.echo(f"{len(result.errors)} errors: nothing was imported.", err=True)
                sys.exit(1)
            if not do_commit:
                click.echo("Preview only; add --commit to import.")
                return
            if result.already_imported:
                click.echo("Nothing imported (use --force to import the same file again).")
                return
            done = engine.commit(session, result, brand=brand, by="cli")
            if notify:
                from portal.domain.dunning import new_invoices
                from portal.models import ImportBatch

                new_invoices.mark(
                    session.get_one(ImportBatch, done.batch_id), done.new_invoices_by_debtor
                )
            if pdf_zip:
                from portal.domain.imports import pdfs

                match = pdfs.match_pdfs(
                    Path(pdf_zip).read_bytes(), (r.invoice_number for r in result.rows)
                )
                attached = pdfs.attach(session, brand.id, match.matched)
                click.echo(
                    f"Original PDFs attached: {attached}; without an invoice: "
                    f"{len(match.unmatched)}; refused: {len(match.refused)}"
                )
        click.echo(f"Imported as batch {done.batch_id}.")
        if notify:
            from portal.tasks import notify_new_invoices

            notify_new_invoices(done.batch_id)
            click.echo("Customers are mailed about their new invoices by the worker.")

    @app.cli.command("login-link")
    @click.argument("email", required=False)
    def login_link(email: str | None) -> None:
        """Print a fresh magic login link (default: the demo debtor)."""
        from portal.demo import DEMO_EMAIL, login_link_for

        settings = current_app.config["SETTINGS"]
        with db.unit_of_work() as session:
            link = login_link_for(session, settings, email or DEMO_EMAIL)
        if link is None:
            click.echo(f"No debtor has the address {email}.", err=True)
            sys.exit(1)
        click.echo(link)

    outbox_group = click.Group("outbox", help="The outgoing message queue.")
    app.cli.add_command(outbox_group)

    @outbox_group.command("send")
    def outbox_send() -> None:
        """Send every due message now."""
        from portal.tasks import send_outbox_now

        result = send_outbox_now()
        click.echo(
            f"sent {result.sent}, kept locally {result.kept_local}, "
            f"retry later {result.retried}, failed {result.failed}"
            + (f", in doubt {result.in_doubt} (see Admin > Outbox)" if result.in_doubt else "")
            + (", stopped: the mail server cannot be reached" if result.server_down else "")
            + (", the rest waits for OUTBOX_PER_MINUTE" if result.rate_limited else "")
        )

    dunning_group = click.Group("dunning", help="Reminders by schedule.")
    app.cli.add_command(dunning_group)

    @dunning_group.command("run")
    @click.option(
        "--date", "day", default="", help="Run as of this day (YYYY-MM-DD); default today."
    )
    @click.option("--dry-run", is_flag=True, help="Only count what would be sent.")
    def dunning_run(day: str, dry_run: bool) -> None:
        """Send every reminder step that is due (or count them with --dry-run)."""
        from portal.tasks import run_dunning_now, run_plans_now

        try:
            when = dt.date.fromisoformat(day) if day else None
        except ValueError:
            click.echo("--date must look like 2026-11-24.", err=True)
            sys.exit(2)
        if not dry_run:
            plans = run_plans_now(when)
            click.echo(
                f"payment plans: {plans.checked} checked, {plans.completed} completed, "
                f"{plans.expired} proposals expired, "
                f"{plans.reminded} instalment reminders, {plans.breached} ended by a breach"
            )
        result = run_dunning_now(when, dry_run=dry_run)
        kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(result.by_kind.items())) or "none"
        verb = "would send" if dry_run else "sent"
        calls = result.by_kind.get("call", 0)  # steps that make a task for the team
        click.echo(
            f"{result.day}: {verb} steps for {result.invoices} invoices ({kinds}); "
            f"{result.messages} messages, {max(result.flagged - calls, 0)} marked ready for"
            f" collection, {calls} calls for the team, {result.skipped} skipped"
        )

    insight_group = click.Group("insight", help="Receivables insight.")
    app.cli.add_command(insight_group)

    @insight_group.command("refresh")
    @click.option(
        "--date", "day", default="", help="Compute as of this day (YYYY-MM-DD); default today."
    )
    def insight_refresh(day: str) -> None:
        """Recompute DSO, ageing, ratings, predictions, the forecast and the backtest."""
        from portal.tasks import refresh_insight_now

        try:
            when = dt.date.fromisoformat(day) if day else None
        except ValueError:
            click.echo("--date must look like 2026-11-24.", err=True)
            sys.exit(2)
        result = refresh_insight_now(when)
        click.echo(
            f"insight: {result.invoices} invoices, {result.settled} newly settled, "
            f"{result.rated} debtors rated, {result.predicted} open invoices predicted "
            f"in {result.seconds:.1f} s"
        )

    @insight_group.command("summary")
    def insight_summary() -> None:
        """Queue and send the weekly summary to the admins who asked for it."""
        from portal.tasks import send_insight_summaries_now

        click.echo(f"weekly summary queued for {send_insight_summaries_now()} admins")

    @app.cli.command("backup")
    @click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
    def backup(target: Path) -> None:
        """Copy the database to TARGET while the portal runs (SQLite: online backup API;
        PostgreSQL: pg_dump, custom format). README, "Backups", says how to restore."""
        from portal.backups import BackupError
        from portal.backups import backup as make_backup

        try:
            how = make_backup(current_app.config["SETTINGS"].database_url, target)
        except BackupError as exc:
            click.echo(f"No backup made: {exc}.", err=True)
            sys.exit(1)
        click.echo(f"Backup written to {target} ({how}, {target.stat().st_size:,} bytes).")

    @app.cli.command("retention")
    def retention() -> None:
        """Remove now what the nightly retention job removes (README, "Personal data")."""
        from portal.tasks import run_retention_now

        purged = run_retention_now()
        click.echo(
            f"removed: {purged.idempotency_keys} idempotency keys, "
            f"{purged.webhook_deliveries} webhook deliveries, {purged.webhook_events} "
            f"outgoing webhook events, {purged.mail_bodies} message bodies, "
            f"{purged.previews} previews, {purged.uploads} upload files"
        )

    @app.cli.command("worker")
    @click.option("--workers", default=2, show_default=True)
    @click.option("--verbose", is_flag=True, help="Log Huey's start-up lines and every task run.")
    def worker(workers: int, verbose: bool) -> None:
        """Run the Huey consumer with its periodic schedule."""
        import logging

        from huey.consumer import Consumer

        from portal.tasks import heartbeat_now, huey

        if not verbose:
            # Huey lists its twenty tasks at start-up and logs every periodic run: in
            # `make run` that pushed the printed links and credentials off the screen.
            # Warnings (the login links of the local outbox among them) still show.
            logging.getLogger("huey").setLevel(logging.WARNING)
        heartbeat_now()
        click.echo(f"Worker running ({workers} threads, periodic tasks on).")
        Consumer(huey, workers=workers, worker_type="thread", periodic=True).run()


def main() -> None:
    """Console script `betaalportaal`: the same commands as flask --app wsgi."""
    from portal import create_app

    FlaskGroup(create_app=lambda: create_app())(prog_name="betaalportaal")
