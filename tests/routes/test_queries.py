"""Pages run a fixed number of queries, whatever the number of invoices (no N+1)."""

import contextlib

from sqlalchemy import event

from portal.db import db
from tests.conftest import login_as
from tests.factories import create_debtor, create_invoice


@contextlib.contextmanager
def count_queries():
    statements = []

    def before(conn, cursor, statement, *args):
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", before)


def queries_for(client, path):
    with count_queries() as statements:
        assert client.get(path).status_code == 200
    return len(statements)


def test_pages_do_not_grow_queries_with_invoices(client):
    few, many = create_debtor(), create_debtor()
    for _ in range(2):
        create_invoice(few)
    for _ in range(50):
        create_invoice(many)
    for path in ("/overview", "/invoices", "/invoices?status=all&sort=amount"):
        login_as(client, few)
        small = queries_for(client, path)
        login_as(client, many)
        large = queries_for(client, path)
        assert large == small, f"{path}: {small} queries for 2 invoices, {large} for 50"
        # the session and debtor, the page, the summary, the pay-all offers (2), the plans,
        # and what comes next per row (the schedule with its steps, the reminders sent)
        assert large <= 10, f"{path}: {large} queries"
