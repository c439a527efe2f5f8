"""The admin navigation, defined once: groups of pages, who sees them, and which page
(endpoint) marks an entry as the current one. `admin/base.html` draws it (`admin_nav`).

A page joins the menu with one `Entry` in its group; the collection group is where the
work on overdue invoices gathers (requests, plans, letters, the team's tasks, the
collection queue and agencies).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from portal.models import AdminUser


@dataclass(frozen=True)
class Entry:
    """One link: its endpoint, and the endpoints (or prefixes ending in '*') it covers."""

    label: LazyString
    endpoint: str
    covers: tuple[str, ...] = ()
    full_admin: bool = False  # clerks do not see it (the page refuses them too)
    excludes: tuple[str, ...] = ()

    def is_current(self, endpoint: str | None) -> bool:
        """True when `endpoint` (the page being shown) belongs to this entry."""
        if not endpoint or endpoint in self.excludes:
            return False
        for pattern in (self.endpoint, *self.covers):
            if pattern.endswith("*") and endpoint.startswith(pattern[:-1]):
                return True
            if endpoint == pattern:
                return True
        return False


@dataclass(frozen=True)
class Group:
    """A heading of the menu with its entries."""

    key: str
    label: LazyString
    entries: tuple[Entry, ...]


RECEIVABLES = Group(
    "receivables",
    _l("Receivables"),
    (
        Entry(_l("Debtors"), "admin.debtors", ("admin.debtor*",)),
        Entry(_l("Invoices"), "admin.invoices", ("admin.invoice*",)),
        Entry(_l("Imports"), "admin.imports", ("admin.import*",)),
    ),
)

COLLECTION = Group(
    "collection",
    _l("Collection"),
    (
        Entry(_l("Requests"), "admin.request_inbox", ("admin.request*",)),
        Entry(_l("Plans"), "admin.plan_list", ("admin.plan*",), excludes=("admin.plan_policy",)),
        Entry(_l("Letters"), "admin.letters_page", ("admin.letters*",)),
        Entry(_l("Outbox"), "admin.outbox", ("admin.outbox*",), full_admin=True),
        Entry(_l("My tasks"), "admin.task_list", ("admin.task*",), excludes=("admin.task_all",)),
        Entry(_l("Tasks"), "admin.task_all", full_admin=True),
        Entry(
            _l("Collection queue"),
            "admin.collection_queue",
            ("admin.collection*", "admin.handover*"),
        ),
        Entry(_l("Agencies"), "admin.agency_list", ("admin.agenc*",), full_admin=True),
    ),
)

MONEY = Group(
    "money",
    _l("Money"),
    (
        Entry(_l("Payments"), "admin.payments", ("admin.payment*",)),
        Entry(_l("Interest"), "admin.interest_rates", ("admin.interest*",), full_admin=True),
    ),
)

INSIGHT = Group(
    "insight",
    _l("Insight"),
    (
        Entry(_l("DSO and ageing"), "admin.insight"),
        Entry(_l("Forecast and predictions"), "admin.insight_forecast"),
        Entry(_l("Debtors"), "admin.insight_debtors", ("admin.insight_invoices",)),
        Entry(_l("Rating rules"), "admin.insight_rules", ("admin.insight_rule*",)),
        Entry(_l("Audit log"), "admin.audit_log", full_admin=True),
    ),
)

SETTINGS = Group(
    "settings",
    _l("Settings"),
    (
        Entry(_l("Brands"), "admin.brands", ("admin.brand*",), full_admin=True),
        Entry(_l("Segments"), "admin.segments", ("admin.plan_policy",)),
        Entry(_l("Schedules"), "admin.schedule_list", ("admin.schedule*",), full_admin=True),
        Entry(_l("Message texts"), "admin.message_list", ("admin.message*",), full_admin=True),
        Entry(_l("API keys"), "admin.api_keys", ("admin.api_key*",), full_admin=True),
        Entry(_l("Webhooks"), "admin.webhooks", ("admin.webhook*",), full_admin=True),
        Entry(_l("Users"), "admin.users", full_admin=True),
    ),
)

GROUPS: tuple[Group, ...] = (RECEIVABLES, COLLECTION, MONEY, INSIGHT, SETTINGS)


@dataclass(frozen=True)
class ShownGroup:
    """A group as one admin sees it on one page."""

    key: str
    label: LazyString
    entries: tuple[tuple[Entry, bool], ...]  # (entry, is the current page)

    @property
    def current(self) -> bool:
        """True when the page shown is one of this group's."""
        return any(here for _entry, here in self.entries)


def menu(admin: AdminUser, endpoint: str | None) -> list[ShownGroup]:
    """The groups and entries `admin` may open, with the current page marked."""
    shown = []
    for group in GROUPS:
        entries = tuple(
            (entry, entry.is_current(endpoint))
            for entry in group.entries
            if admin.is_admin or not entry.full_admin
        )
        if entries:
            shown.append(ShownGroup(group.key, group.label, entries))
    return shown


def entries() -> list[Entry]:
    """Every entry of every group (for tests and the accessibility walk)."""
    return [entry for group in GROUPS for entry in group.entries]
