"""Admin forms."""

from __future__ import annotations

import re

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import AnyOf, DataRequired, Length, Regexp, ValidationError

from portal.domain.phones import PhoneError, normalise
from portal.forms import EMAIL_SHAPE


class AdminLoginForm(FlaskForm):
    email = EmailField(
        _l("Email address"),
        validators=[DataRequired(), Regexp(EMAIL_SHAPE)],
        render_kw={"autocomplete": "username", "autofocus": True},
    )
    password = PasswordField(
        _l("Password"), validators=[DataRequired()], render_kw={"autocomplete": "current-password"}
    )


class TotpForm(FlaskForm):
    code = StringField(
        _l("6-digit code from your authenticator app"),
        validators=[
            DataRequired(),
            Regexp(r"^\s*\d{3}\s?\d{3}\s*$", message=_l("Enter the 6 digits.")),
        ],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True},
    )


class NewUserForm(FlaskForm):
    email = EmailField(_l("Email address"), validators=[DataRequired(), Regexp(EMAIL_SHAPE)])
    name = StringField(_l("Name"), validators=[Length(max=120)])
    role = StringField(_l("Role"), validators=[AnyOf(["clerk", "admin"])], default="clerk")
    password = PasswordField(
        _l("Initial password (at least 12 characters)"),
        validators=[DataRequired()],
        render_kw={"autocomplete": "new-password"},
    )


class ContactForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    emails = StringField(
        _l("Email addresses (separate with commas)"), validators=[Length(max=1000)]
    )
    phone = StringField(_l("Phone"), validators=[Length(max=40)])
    address_line = StringField(_l("Address"), validators=[Length(max=200)])
    postcode = StringField(_l("Postcode"), validators=[Length(max=12)])
    city = StringField(_l("City"), validators=[Length(max=100)])
    country = StringField(_l("Country (two letters)"), validators=[Length(min=2, max=2)])
    language = StringField(_l("Language"), validators=[AnyOf(["nl", "en", "fr"])])
    kind = StringField(_l("Kind"), validators=[AnyOf(["b2c", "b2b"])])
    segment_id = StringField(_l("Segment"))

    def validate_emails(self, field: StringField) -> None:
        """Every address must look like one."""
        for address in (field.data or "").replace(";", ",").split(","):
            if address.strip() and not re.match(EMAIL_SHAPE, address.strip()):
                raise ValidationError(_l("“%(address)s” is not an email address.", address=address))

    def validate_phone(self, field: StringField) -> None:
        """Stored in E.164; a number without country prefix is read in the debtor's country."""
        if not (field.data or "").strip():
            field.data = ""
            return
        try:
            field.data = normalise(field.data or "", self.country.data or "")
        except PhoneError as exc:
            raise ValidationError(exc.translated(gettext)) from exc


class ForgotForm(FlaskForm):
    email = EmailField(
        _l("Email address"),
        validators=[DataRequired(), Regexp(EMAIL_SHAPE)],
        render_kw={"autocomplete": "username", "autofocus": True},
    )


class ResetForm(FlaskForm):
    password = PasswordField(
        _l("New password (at least 12 characters)"),
        validators=[DataRequired()],
        render_kw={"autocomplete": "new-password", "autofocus": True},
    )
    confirm = PasswordField(
        _l("The same password again"),
        validators=[DataRequired()],
        render_kw={"autocomplete": "new-password"},
    )
