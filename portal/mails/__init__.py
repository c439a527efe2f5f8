"""Mails to debtors: the brand's editable texts (messaging/templates.py), filled in with
what the system renders itself, wrapped in the branded layout and written to the outbox.

compose    the Composer: variables, system-rendered blocks, the branded layout
values     the variables of each kind of mail
system     mails with a credential (sign-in links, admin resets, email confirmation):
           queued with a token id, written with a fresh link at each send attempt
debtors    receipts, second chances, requests, plans and instalments
reminders  the dunning run's reminders, rendering when sent, letters
previews   what the message editor shows and checks before a text is saved
"""

from portal.mails.compose import (
    Composer,
    Row,
    logo_data_uri,
    pay_link_url,
    render_message,
    sender_for,
)
from portal.mails.debtors import InstalmentMails, PaymentMails, PlanMails, RequestMails
from portal.mails.previews import preview_composer, sample_contexts
from portal.mails.reminders import LetterWriter, ReminderMails, SendTimeRenderer, letters_pdf
from portal.mails.system import (
    CredentialMails,
    queue_admin_reset_mail,
    queue_email_confirm_mail,
    queue_login_mail,
)

__all__ = [
    "Composer",
    "CredentialMails",
    "InstalmentMails",
    "LetterWriter",
    "PaymentMails",
    "PlanMails",
    "ReminderMails",
    "RequestMails",
    "Row",
    "SendTimeRenderer",
    "letters_pdf",
    "logo_data_uri",
    "pay_link_url",
    "preview_composer",
    "queue_admin_reset_mail",
    "queue_email_confirm_mail",
    "queue_login_mail",
    "render_message",
    "sample_contexts",
    "sender_for",
]
