"""Editable message templates: the sandbox refuses what could leak or explode, required
parts are enforced, and every save is a version that can be reverted."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from portal.db import db
from portal.domain.messaging import templates
from portal.domain.messaging.templates import LANGUAGES, SPECS, Source
from portal.mails import preview_composer, render_message, sample_contexts
from tests.factories import create_brand, create_debtor, create_invoice

DAY = dt.date(2026, 11, 20)


@pytest.fixture
def brand(app):
    return create_brand(name="Zonnepaneel B.V.", enterprise_number="12345678")


@pytest.fixture
def sample(app, brand):
    with app.test_request_context():
        yield sample_contexts(db.session(), brand, "reminder", "en", app.config["SETTINGS"], DAY)


def faults(app, sample, source, key="reminder"):
    with app.test_request_context():
        return templates.check(key, source, sample)


def with_html(html: str, key: str = "reminder") -> Source:
    return dataclasses.replace(templates.default(key, "en"), html=html)


@pytest.mark.parametrize("key", sorted(SPECS))
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_shipped_default_passes_its_own_checks(app, brand, key, language):
    with app.test_request_context():
        sample = sample_contexts(db.session(), brand, key, language, app.config["SETTINGS"], DAY)
        assert templates.check(key, templates.default(key, language), sample) == []


@pytest.mark.parametrize(
    "hostile",
    [
        "{{ debtor.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ invoices.__len__() }}",
        "{{ total.format_map }}",
        "{% for i in range(1000000000) %}x{% endfor %}",
        "{{ 'x' * 1000000000 }}",
        "{{ 'x' ~ '%99999999d' % 1 }}",
        "{{ '{:>999999999}'.format(1) }}",
        "{{ 'x'|center(999999999) }}",
        "{{ lipsum(1000000) }}",
        "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
        "{% include 'email/_layout.html' %}",
        "{{ config }}",
    ],
)
def test_hostile_templates_are_refused(app, sample, hostile):
    found = faults(app, sample, with_html("{{ invoice_table }}{{ pay_button }}" + hostile))
    assert found, hostile
    assert all(f.part == "html" for f in found)


def test_loops_over_the_invoices_are_fine(app, sample):
    html = (
        "{% for i in invoices %}<p>{{ i.number }}: {{ i.open }}, "
        "{{ i.days_overdue }} days</p>{% endfor %}{{ invoice_table }}{{ pay_button }}"
    )
    assert faults(app, sample, with_html(html)) == []


def test_a_broken_template_is_refused_with_its_line_and_reason(app, sample):
    found = faults(app, sample, with_html("{{ invoice_table }}\n{{ pay_button }}\n{% if %}"))
    assert [(f.part, f.line) for f in found] == [("html", 3)]
    assert "syntax error" in found[0].problem.msgid


def test_an_unknown_variable_is_named_with_its_line(app, sample):
    found = faults(app, sample, with_html("{{ invoice_table }}{{ pay_button }}\n{{ debtr.name }}"))
    assert [(f.line, f.problem.params) for f in found] == [(2, {"name": "debtr"})]


def test_the_legal_notice_cannot_be_left_out_of_a_14_day_letter(app, brand):
    with app.test_request_context():
        sample = sample_contexts(
            db.session(), brand, "fourteen_day", "nl", app.config["SETTINGS"], DAY
        )
        source = templates.default("fourteen_day", "nl")
        cut = dataclasses.replace(source, text=source.text.replace("{{ costs_notice }}", ""))
        found = templates.check("fourteen_day", cut, sample)
    assert [(f.part, f.problem.params) for f in found] == [("text", {"name": "costs_notice"})]


def test_values_are_escaped_in_html_and_the_notice_states_amount_costs_and_date(app, brand):
    debtor = create_debtor(brand, name="<script>alert(1)</script>", language="en")
    create_invoice(debtor, number="F-1", total_cents=300_000, due_date=DAY - dt.timedelta(30))
    with app.test_request_context():
        composer = preview_composer(
            db.session(), brand, "fourteen_day", "en", app.config["SETTINGS"], DAY, debtor
        )
        subject, text, html = render_message(db.session(), composer, "fourteen_day")
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert subject == "Last notice before collection costs: €3,000.00"
    # WIK over €3,000 is €425; sent on Friday 20 Nov, received the next business day
    # (Monday 23 Nov), 14 days from then
    assert "If we have not received €3,000.00 by 7 Dec 2026" in text
    assert "collection costs of €425.00" in text
    assert "Zonnepaneel B.V." in text and "12345678" in text  # the creditor, in the footer


def test_versions_are_kept_and_a_revert_is_a_new_version(app, brand, sample):
    session = db.session()
    with app.test_request_context():
        first = with_html("<p>One</p>{{ invoice_table }}{{ pay_button }}")
        second = with_html("<p>Two</p>{{ invoice_table }}{{ pay_button }}")
        templates.save(session, brand.id, "reminder", "en", first, "ann@example.com", sample)
        templates.save(session, brand.id, "reminder", "en", second, "bob@example.com", sample)
        assert templates.current(session, brand.id, "reminder", "en").html.startswith("<p>Two")
        templates.revert(session, brand.id, "reminder", "en", 1, "ann@example.com", sample)
        assert templates.current(session, brand.id, "reminder", "en").html.startswith("<p>One")
        assert [v.version for v in templates.history(session, brand.id, "reminder", "en")] == [
            3,
            2,
            1,
        ]
        templates.revert(session, brand.id, "reminder", "en", 0, "ann@example.com", sample)
        assert templates.current(session, brand.id, "reminder", "en") == templates.default(
            "reminder", "en"
        )
        # another brand and another language still use the default
        assert templates.current(session, brand.id, "reminder", "nl") == templates.default(
            "reminder", "nl"
        )


def test_a_refused_template_is_not_saved(app, brand, sample):
    session = db.session()
    with app.test_request_context(), pytest.raises(templates.InvalidTemplate):
        templates.save(
            session, brand.id, "reminder", "en", with_html("<p>no table</p>"), "a", sample
        )
    assert templates.history(session, brand.id, "reminder", "en") == []
