"""The message sandbox bounds memory and time: strings cannot grow without end, loops have
a total budget, rendering a deadline; the editor says which cap a text hit, in the admin's
language, and refuses to save it. The shipped texts stay far below the caps."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import pytest

from portal.db import db
from portal.domain.messaging import templates
from portal.domain.messaging.templates import LANGUAGES, SPECS
from portal.mails import preview_composer, sample_contexts
from portal.models import Invoice
from tests.admin.test_admin import admin_login, page_csrf
from tests.factories import create_admin, create_brand, create_debtor

DAY = dt.date(2026, 11, 20)
GROWS = "stopped: the text would grow beyond 1000000 characters"
LOOPS = "stopped: its loops ran more than 50000 times in all"


@pytest.fixture
def brand(app):
    return create_brand(name="Zonnepaneel B.V.")


def faults_of(app, brand, text: str, part: str = "text") -> list[str]:
    """The faults of the reminder default with `text` put in front of `part`."""
    default = templates.default("reminder", "en")
    source = dataclasses.replace(default, **{part: text + default.part(part)})
    with app.test_request_context():
        sample = sample_contexts(db.session(), brand, "reminder", "en", app.config["SETTINGS"], DAY)
        return [
            f"{f.part}:{f.line}: {f.problem}" for f in templates.check("reminder", source, sample)
        ]


DOUBLE = "{% set a = a ~ a %}\n"


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ('{% set a = "0123456789" %}\n' + DOUBLE * 17, 18),  # 1.3 million characters
        ('{% set a = "0123456789" %}\n' + "{% set a = a + a %}\n" * 17, 18),
        ("{% set a = [1, 2] %}\n" + "{% set a = a + a %}\n" * 20, 20),  # 2 million items
        (
            '{% set a = ["0123456789", "0123456789"] %}\n'
            + "{% set a = [a|join, a|join] %}\n" * 17,
            18,
        ),
        ("{% set a %}0123456789{% endset %}\n" + "{% set a %}{{ a }}{{ a }}{% endset %}\n" * 17, 0),
    ],
    ids=["tilde", "plus", "list", "join", "set block"],
)
def test_a_string_or_list_that_doubles_is_stopped(app, brand, text, line):
    found = faults_of(app, brand, text)
    assert len(found) == 1 and found[0].endswith(GROWS), found
    if line:
        assert found[0].startswith(f"text:{line}:")


def test_nested_loops_are_counted_together_and_tried_for_a_busy_debtor(app, brand):
    """500 x 500 iterations: fine with the two made-up invoices, not for a debtor with 500."""
    nested = "{% for a in invoices %}{% for b in invoices %}{% endfor %}{% endfor %}\n"
    assert faults_of(app, brand, nested) == [f"text:1: {LOOPS}"]
    filtered = "{% for a in invoices %}{% for b in invoices if false %}{% endfor %}{% endfor %}"
    assert faults_of(app, brand, filtered) == [f"text:1: {LOOPS}"]
    one_loop = "{% for i in invoices %}{{ i.number }} {{ i.open }}\n{% endfor %}"
    assert faults_of(app, brand, one_loop) == []


def test_rendering_time_is_capped(app, brand, monkeypatch):
    monkeypatch.setattr(templates, "MAX_SECONDS", 0.2)
    # 2**40 calls and no output, no loop: only the clock can stop it
    forever = (
        "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(40) }}"
    )
    (found,) = faults_of(app, brand, forever)
    assert found.endswith("stopped: rendering took longer than 0.2 seconds")


def test_recursive_loops_are_refused(app, brand):
    recursive = "{% for i in invoices recursive %}{{ loop(invoices) }}{% endfor %}"
    assert faults_of(app, brand, recursive) == ["text:1: recursive loops are not allowed"]


@pytest.mark.parametrize("key", sorted(SPECS))
@pytest.mark.parametrize("language", LANGUAGES)
def test_the_shipped_texts_render_far_below_the_caps_for_a_debtor_of_500_invoices(
    app, brand, key, language
):
    with app.test_request_context():
        busy = preview_composer(
            db.session(), brand, key, language, app.config["SETTINGS"], DAY, made_up=500
        )
        html, text = busy.contexts()
        rendered = templates.render(templates.default(key, language), html, text)
    assert len(rendered.html) < templates.MAX_OUTPUT / 5
    assert len(rendered.text) < templates.MAX_OUTPUT / 5
    if "invoice_table" in SPECS[key].variables and "invoice_table" in html:
        assert "2025-00497" in rendered.html + rendered.text  # all 500 are there


EDIT = "/admin/messages/{brand}/reminder/{language}"


def edit_form(client, brand, language, text):
    source = templates.default("reminder", language)
    return {
        "csrf_token": page_csrf(client, EDIT.format(brand=brand.id, language=language)),
        "subject": source.subject,
        "html": source.html,
        "text": text + source.text,
    }


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", "stopped: the text would grow beyond 1000000 characters"),
        ("nl", "gestopt: de tekst zou langer worden dan 1000000 tekens"),
        ("fr", "arrêté : le texte dépasserait 1000000 caractères"),
    ],
)
def test_the_editor_names_the_cap_in_the_admins_language_and_refuses_to_save(
    app, brand, language, words
):
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
    create_admin("boss@example.com")
    admin_login(client, "boss@example.com")
    data = edit_form(client, brand, language, '{% set a = "0123456789" %}\n' + DOUBLE * 17)
    url = EDIT.format(brand=brand.id, language=language)
    preview = client.post(url + "/preview", data=data, headers={"HX-Request": "true"})
    assert preview.status_code == 200 and words in preview.get_data(as_text=True)
    saved = client.post(url, data=data)
    assert saved.status_code == 422 and words in saved.get_data(as_text=True)
    assert templates.history(db.session(), brand.id, "reminder", language) == []


def test_a_cap_hit_only_by_the_chosen_debtor_shows_in_the_preview(client, brand):
    """The samples pass (500 + 500 x 98 iterations); a debtor with 510 invoices does not."""
    debtor = create_debtor(brand, language="en")
    db.session.add_all(
        Invoice(
            brand_id=brand.id,
            debtor_id=debtor.id,
            number=f"BIG-{n:04d}",
            invoice_date=dt.date(2026, 9, 1),
            due_date=dt.date(2026, 10, 1),
            total_cents=1000,
            open_cents=1000,
        )
        for n in range(510)
    )
    db.session.commit()
    create_admin("boss@example.com")
    admin_login(client, "boss@example.com")
    loops = "{% for a in invoices %}{% for b in invoices[:98] %}{% endfor %}{% endfor %}\n"
    data = edit_form(client, brand, "en", loops)
    data["debtor_id"] = str(debtor.id)
    url = EDIT.format(brand=brand.id, language="en")
    page = client.post(url + "/preview", data=data, headers={"HX-Request": "true"})
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert re.search(r"Plain text, line 1: stopped: its loops ran more than 50000 times", text)
