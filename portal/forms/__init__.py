"""WTForms classes for the debtor portal (CSRF comes with FlaskForm)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    AnyOf,
    DataRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

from portal.domain.money import AmountError
from portal.domain.plans.schedules import instalment_cents
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


class DisputeForm(FlaskForm):
    reason = SelectField(
        _l("What is wrong?"),
        choices=[
            SelectChoice("amount_wrong", _l("The amount is wrong")),
            SelectChoice("not_received", _l("I did not receive the goods or service")),
            SelectChoice("already_paid", _l("I already paid")),
            SelectChoice("quality", _l("Something was wrong with the goods or service")),
            SelectChoice("other", _l("Something else")),
        ],
        validators=[DataRequired(message=_l("Choose a reason."))],
    )
    message = TextAreaField(
        _l("Explain what is wrong"),
        validators=[DataRequired(message=_l("Tell us what is wrong.")), Length(max=4000)],
    )
    attachment = FileField(_l("Add a document (optional): PDF, JPEG or PNG, at most 5 MB"))


class PromiseForm(FlaskForm):
    pay_by = DateField(
        _l("I will pay on or before"),
        validators=[DataRequired(message=_l("Choose a day."))],
    )
    message = TextAreaField(
        _l("Anything we should know? (optional)"), validators=[Length(max=4000)]
    )


class QuestionForm(FlaskForm):
    invoice_id = SelectField(_l("About invoice"), coerce=str, validate_choice=True)
    message = TextAreaField(
        _l("Your question"),
        validators=[DataRequired(message=_l("Write your question.")), Length(max=4000)],
    )


class ReplyForm(FlaskForm):
    message = TextAreaField(
        _l("Your reply"),
        validators=[DataRequired(message=_l("Write your reply.")), Length(max=4000)],
    )


class ContactForm(FlaskForm):
    email = EmailField(
        _l("Email address"),
        validators=[
            Optional(),
            Length(max=254),
            Regexp(
                EMAIL_SHAPE,
                message=_l(
                    "Enter an email address like %(example)s.", example=_l("name@example.com")
                ),
            ),
        ],
        render_kw={"autocomplete": "email", "inputmode": "email"},
    )
    phone = StringField(
        _l("Phone number"),
        validators=[Optional(), Length(max=20)],
        render_kw={"autocomplete": "tel", "inputmode": "tel"},
    )
    address_line = StringField(
        _l("Street and number"),
        validators=[Optional(), Length(max=200)],
        render_kw={"autocomplete": "street-address"},
    )
    postcode = StringField(
        _l("Postcode"),
        validators=[Optional(), Length(max=12)],
        render_kw={"autocomplete": "postal-code"},
    )
    city = StringField(
        _l("City"),
        validators=[Optional(), Length(max=100)],
        render_kw={"autocomplete": "address-level2"},
    )
    message = TextAreaField(_l("Note (optional)"), validators=[Length(max=4000)])


class InstalmentAmountField(StringField):
    """The amount per instalment of a plan form (the portal's and admin's): one parser,
    `schedules.instalment_cents`; `cents` holds it once validated, None when empty."""

    cents: int | None = None

    def pre_validate(self, form: object) -> None:
        self.cents = None
        try:
            self.cents = instalment_cents(self.data)
        except AmountError:
            raise ValidationError(_l("Enter an amount like 50,00.")) from None


class PlanForm(FlaskForm):
    """A payment plan as the debtor asks for it; the invoices come as `invoice` checkboxes
    and are checked against the debtor's own open invoices."""

    count = IntegerField(
        _l("Number of instalments"),
        validators=[Optional(), NumberRange(min=1, max=120)],
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
        _l("How often"),
        choices=[
            SelectChoice("monthly", _l("Every month")),
            SelectChoice("biweekly", _l("Every two weeks")),
        ],
        validators=[AnyOf(("monthly", "biweekly"))],
    )
    agree = BooleanField(_l("I agree to this payment plan."))


class AgreeForm(FlaskForm):
    """Agreeing to a payment plan someone proposed: one checkbox."""

    agree = BooleanField(_l("I agree to this payment plan."))
