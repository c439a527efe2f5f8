"""Admin forms."""

from __future__ import annotations

import re

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    Field,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    AnyOf,
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget

from portal.domain.money import AmountError, parse_amount
from portal.domain.phones import PhoneError, normalise
from portal.forms import EMAIL_SHAPE, InstalmentAmountField


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


class EraseForm(FlaskForm):
    """Erasing a debtor: the customer number typed again, so it is not done by a slip."""

    number = StringField(
        _l("Type the customer number to confirm"),
        validators=[DataRequired(message=_l("Type the customer number.")), Length(max=40)],
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


def _frequency_choices() -> list[SelectChoice]:
    return [
        SelectChoice("monthly", _l("Every month")),
        SelectChoice("biweekly", _l("Every two weeks")),
    ]


class AmountField(StringField):
    """An amount typed as 12,50 or 12.50; `cents` holds it once validated."""

    cents: int | None = None

    def pre_validate(self, form: object) -> None:
        self.cents = None
        if not (self.data or "").strip():
            return
        try:
            self.cents = parse_amount(self.data or "")
        except AmountError:
            raise ValidationError(_l("Enter an amount like 50,00.")) from None


def _at_least(cents: int, message: str) -> object:
    def check(form: object, field: Field) -> None:
        value = getattr(field, "cents", None)
        if value is not None and value < cents:
            raise ValidationError(message)

    return check


class PlanPolicyForm(FlaskForm):
    """A segment's payment plan policy: what a debtor may arrange without review."""

    min_total = AmountField(
        _l("Smallest total for a plan"),
        validators=[
            DataRequired(message=_l("Enter an amount like 50,00.")),
            Length(max=20),
            _at_least(0, _l("The total cannot be negative.")),
        ],
        render_kw={"inputmode": "decimal"},
    )
    max_instalments = IntegerField(
        _l("Most instalments"),
        validators=[
            InputRequired(message=_l("Enter a whole number.")),
            NumberRange(1, 120, message=_l("Enter a number from %(min)s to %(max)s.")),
        ],
        render_kw={"min": 1, "max": 120},
    )
    min_instalment = AmountField(
        _l("Smallest instalment"),
        validators=[
            DataRequired(message=_l("Enter an amount like 50,00.")),
            Length(max=20),
            _at_least(1, _l("The smallest instalment is more than zero.")),
        ],
        render_kw={"inputmode": "decimal"},
    )
    max_days = IntegerField(
        _l("Longest duration (days from first to last instalment)"),
        validators=[
            InputRequired(message=_l("Enter a whole number.")),
            NumberRange(0, 3650, message=_l("Enter a number from %(min)s to %(max)s.")),
        ],
        render_kw={"min": 0, "max": 3650},
    )
    down_payment_pct = IntegerField(
        _l("Down payment (percentage of the total, 0 for none)"),
        validators=[
            InputRequired(message=_l("Enter a whole number.")),
            NumberRange(0, 90, message=_l("Enter a number from %(min)s to %(max)s.")),
        ],
        render_kw={"min": 0, "max": 90},
    )
    frequencies = SelectMultipleField(
        _l("Debtors may pay"),
        choices=_frequency_choices(),
        validators=[DataRequired(message=_l("Offer at least one frequency."))],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    breach_days = IntegerField(
        _l("An instalment this many days late ends the plan"),
        validators=[
            InputRequired(message=_l("Enter a whole number.")),
            NumberRange(1, 90, message=_l("Enter a number from %(min)s to %(max)s.")),
        ],
        render_kw={"min": 1, "max": 90},
    )
    auto_approve = BooleanField(_l("Debtors may agree online to a plan within these rules"))


class PlanDraftForm(FlaskForm):
    """A plan an admin sets up for a debtor; the invoices come as `invoice` checkboxes."""

    count = IntegerField(
        _l("Number of instalments"),
        validators=[
            Optional(),
            NumberRange(1, 120, message=_l("Enter a number from %(min)s to %(max)s.")),
        ],
        render_kw={"min": 1, "max": 120},
    )
    per_instalment = InstalmentAmountField(
        _l("Or: amount per instalment"),
        validators=[Optional(), Length(max=20)],
        render_kw={"inputmode": "decimal"},
    )
    start = DateField(
        _l("First instalment on"), validators=[DataRequired(message=_l("Choose a day."))]
    )
    frequency = SelectField(
        _l("How often"), choices=_frequency_choices(), validators=[AnyOf(("monthly", "biweekly"))]
    )
    down_payment_pct = IntegerField(
        _l("Down payment (percentage of the total, 0 for none)"),
        default=0,
        validators=[
            InputRequired(message=_l("Enter a whole number.")),
            NumberRange(0, 90, message=_l("Enter a number from %(min)s to %(max)s.")),
        ],
        render_kw={"min": 0, "max": 90},
    )
    note = TextAreaField(_l("Note for the debtor (in the mail)"), validators=[Length(max=2000)])

    def validate_per_instalment(self, field: InstalmentAmountField) -> None:
        if field.cents is None and not self.count.data:
            raise ValidationError(_l("Choose a number of instalments or an amount per instalment."))


class CancelPlanForm(FlaskForm):
    reason = TextAreaField(
        _l("Reason (the debtor reads it in the mail)"),
        validators=[DataRequired(message=_l("Give the reason for cancelling.")), Length(max=250)],
    )
