"""Admin forms."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import AnyOf, DataRequired, Length, Regexp

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
