"""WTForms classes for the debtor portal (CSRF comes with FlaskForm)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, IntegerField, StringField
from wtforms.validators import AnyOf, DataRequired, Length, Regexp

from portal.i18n import LANGUAGES

EMAIL_SHAPE = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class LoginForm(FlaskForm):
    email = EmailField(
        _l("Email address"),
        validators=[
            DataRequired(message=_l("Enter the email address we send your invoices to.")),
            Length(max=254),
            Regexp(
                EMAIL_SHAPE,
                message=_l(
                    "Enter an email address like %(example)s.", example=_l("name@example.com")
                ),
            ),
        ],
        render_kw={"autocomplete": "email", "autofocus": True, "inputmode": "email"},
    )


class ConfirmForm(FlaskForm):
    """A form with nothing but the CSRF token (continue, logout)."""


class ChooseForm(FlaskForm):
    debtor_id = IntegerField(validators=[DataRequired()])


class LanguageForm(FlaskForm):
    lang = StringField(_l("Language"), validators=[AnyOf(LANGUAGES)])
    next = HiddenField()
