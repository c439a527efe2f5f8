"""Finding the header row and mapping columns to fields, from Dutch and English names."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


def N_(text: str) -> str:
    """Mark a label for extraction; the admin pages translate it when they show it."""
    return text


# field -> names as accounting packages write them (compared after normalize())
SYNONYMS: dict[str, tuple[str, ...]] = {
    "invoice_number": (
        "factuurnummer",
        "factuurnr",
        "factuur",
        "invoice number",
        "invoice no",
        "invoice",
        "invoice #",
        "number",
        "nummer",
    ),
    "debtor_number": (
        "debiteurnummer",
        "debiteurnr",
        "debiteur",
        "klantnummer",
        "klantnr",
        "customer number",
        "customer no",
        "client number",
        "customer id",
        "relatienummer",
    ),
    "name": (
        "naam",
        "name",
        "klant",
        "client",
        "customer",
        "klantnaam",
        "customer name",
        "client name",
        "bedrijfsnaam",
        "company",
    ),
    "email": ("email", "e mail", "emailadres", "e mailadres", "mail"),
    "phone": ("telefoon", "telefoonnummer", "phone", "telephone", "mobiel", "mobile"),
    "invoice_date": ("factuurdatum", "invoice date", "datum", "date", "issue date"),
    "due_date": ("vervaldatum", "due date", "due", "uiterste betaaldatum", "payment due"),
    "total": (
        "bedrag",
        "totaal",
        "totaalbedrag",
        "amount",
        "total",
        "bedrag incl btw",
        "total incl vat",
        "invoice amount",
    ),
    "open": (
        "openstaand",
        "open",
        "open amount",
        "openstaand bedrag",
        "saldo",
        "balance",
        "amount due",
        "outstanding",
        "te betalen",
    ),
    "paid": ("betaald", "paid", "amount paid", "paid amount", "voldaan", "reeds betaald"),
    "currency": ("valuta", "currency", "munt"),
    "description": ("omschrijving", "description", "notes", "toelichting", "memo"),
    "reference": (
        "uw referentie",
        "referentie",
        "reference",
        "your reference",
        "po",
        "po number",
        "order",
        "ordernummer",
        "inkoopordernummer",
    ),
    "address": ("adres", "address", "straat", "street"),
    "postcode": ("postcode", "postal code", "zip", "zip code"),
    "city": ("plaats", "woonplaats", "city", "town", "stad"),
    "country": ("land", "country", "landcode"),
    "language": ("taal", "language"),
    # an invoice or a credit note; the customer's kind is customer_type (DESIGN.md s. 10)
    "kind": (
        "soort",
        "type",
        "kind",
        "documenttype",
        "document type",
        "factuursoort",
        "soort document",
        "invoice type",
    ),
    "customer_type": (
        "klanttype",
        "soort klant",
        "type klant",
        "klantsoort",
        "customer type",
        "client type",
        "debiteurtype",
        "type debiteur",
        "type client",
    ),
    "company_number": (
        "kvk",
        "kvk nummer",
        "kvknummer",
        "kvk nr",
        "kamer van koophandel",
        "kbo",
        "kbo nummer",
        "ondernemingsnummer",
        "enterprise number",
        "company number",
        "coc number",
        "chamber of commerce",
        "numero d entreprise",
    ),
    "vat_number": (
        "btw",
        "btw nummer",
        "btwnummer",
        "btw nr",
        "btw id",
        "vat",
        "vat number",
        "vat id",
        "tva",
        "numero de tva",
        "n tva",
    ),
    "payment_reference": (
        "betalingskenmerk",
        "betaalkenmerk",
        "kenmerk",
        "gestructureerde mededeling",
        "mededeling",
        "communication structuree",
        "communication",
        "payment reference",
        "structured reference",
    ),
    "segment": ("segment", "groep", "debiteurengroep"),
    "last_step": (
        "laatste herinnering",
        "last reminder",
        "last reminder step",
        "aanmaningsniveau",
        "herinneringsniveau",
        "laatste aanmaning",
        "dunning level",
    ),
}
REQUIRED = ("invoice_number", "invoice_date", "total")
LABELS = {
    "invoice_number": N_("Invoice number"),
    "debtor_number": N_("Customer number"),
    "name": N_("Name"),
    "email": N_("E-mail"),
    "phone": N_("Phone"),
    "invoice_date": N_("Invoice date"),
    "due_date": N_("Due date"),
    "total": N_("Amount"),
    "open": N_("Open amount"),
    "paid": N_("Paid so far"),
    "currency": N_("Currency"),
    "description": N_("Description"),
    "reference": N_("Your reference"),
    "address": N_("Address"),
    "postcode": N_("Postcode"),
    "city": N_("City"),
    "country": N_("Country"),
    "language": N_("Language"),
    "kind": N_("Document type"),
    "customer_type": N_("Customer type"),
    "company_number": N_("Chamber of Commerce / enterprise number"),
    "vat_number": N_("VAT number"),
    "payment_reference": N_("Payment reference"),
    "segment": N_("Segment"),
    "last_step": N_("Last reminder step"),
}
_HEADER_SCAN = 30


def normalize(text: Any) -> str:
    """Lower case, no accents, no punctuation: 'E-mail' -> 'e mail'."""
    value = unicodedata.normalize("NFKD", str(text or "")).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9#]+", " ", value.lower()).strip()


_LOOKUP = {normalize(name): field for field, names in SYNONYMS.items() for name in names}


@dataclass(frozen=True)
class Header:
    row_index: int  # 0-based index into the rows
    columns: dict[str, int]  # field -> column index
    names: list[str]  # the header cells as written


def guess_mapping(cells: Sequence[Any]) -> dict[str, int]:
    """Fields recognised in one row of cells; the first column of a name wins."""
    mapping: dict[str, int] = {}
    for index, cell in enumerate(cells):
        field = _LOOKUP.get(normalize(cell))
        if field and field not in mapping:
            mapping[field] = index
    return mapping


def find_header(rows: Sequence[Sequence[Any]]) -> Header | None:
    """The first row in the top of the sheet that names the required fields (a preamble above
    it is skipped). None when no row does: the admin maps the columns by hand."""
    best: Header | None = None
    for index, cells in enumerate(rows[:_HEADER_SCAN]):
        mapping = guess_mapping(cells)
        if all(f in mapping for f in REQUIRED):
            return Header(index, mapping, [str(c or "") for c in cells])
        if best is None or len(mapping) > len(best.columns):
            best = (
                Header(index, mapping, [str(c or "") for c in cells]) if len(mapping) >= 3 else best
            )
    return best


def apply_overrides(header: Header, overrides: Mapping[str, Any]) -> Header:
    """An explicit mapping (field -> column index or header text) wins over the guess."""
    columns = dict(header.columns)
    by_name = {normalize(n): i for i, n in enumerate(header.names)}
    for field, target in overrides.items():
        if field not in SYNONYMS:
            raise ValueError(f"unknown field {field!r}")
        if target in (None, ""):
            columns.pop(field, None)
        elif isinstance(target, int) or str(target).isdigit():
            columns[field] = int(target)
        elif normalize(target) in by_name:
            columns[field] = by_name[normalize(target)]
        else:
            raise ValueError(f"no column named {target!r}")
    return Header(header.row_index, columns, header.names)


CONSUMER_WORDS = frozenset(
    {"particulier", "consument", "consumer", "prive", "private", "b2c", "individual",
     "natuurlijk persoon", "personne physique", "particuliere klant"}
)  # fmt: skip
BUSINESS_WORDS = frozenset(
    {"zakelijk", "bedrijf", "onderneming", "b2b", "business", "company", "zakelijke klant",
     "professional", "professionnel", "entreprise", "societe", "vennootschap", "zzp"}
)  # fmt: skip


def customer_kind(value: Any) -> str | None:
    """'b2c' or 'b2b' for a customer-type cell, '' when empty, None when not understood."""
    word = normalize(value)
    if not word:
        return ""
    if word in CONSUMER_WORDS:
        return "b2c"
    if word in BUSINESS_WORDS:
        return "b2b"
    return None


STEP_WORDS = (  # (words that name it, step kind), compared after normalize()
    (("voorherinnering", "nudge", "vooraankondiging"), "nudge"),
    (("herinnering", "betalingsherinnering", "reminder", "rappel"), "reminder"),
    (
        (
            "aanmaning",
            "ingebrekestelling",
            "sommatie",
            "notice",
            "formal notice",
            "mise en demeure",
        ),
        "notice",
    ),
    (
        (
            "14 dagenbrief",
            "veertiendagenbrief",
            "14 dagen brief",
            "14 day letter",
            "fourteen day",
            "fourteen day letter",
        ),
        "fourteen_day",
    ),
    (("incasso", "collection", "deurwaarder"), "collection"),
)
ORDINALS = {"eerste": 1, "tweede": 2, "derde": 3, "first": 1, "second": 2, "third": 3}
NO_STEP = frozenset({"", "geen", "none", "nee", "no", "0", "-"})


def last_step(value: Any) -> str | None:
    """The 'last reminder step sent' cell as 'kind:n' (the n-th step of that kind),
    'level:n' (the n-th step after the due date), '' for none, None when not understood."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = normalize(value)
    if text in NO_STEP:
        return ""
    if text.isdigit():
        return f"level:{int(text)}"
    number = re.search(r"\d+", re.sub(r"\b14\b", "", text))
    ordinal = int(number.group()) if number else 1
    for word, n in ORDINALS.items():
        if word in text.split():
            ordinal = n
    plain = re.sub(r"\b(\d+(e|de|ste|nd|rd|th|st)?|" + "|".join(ORDINALS) + r")\b", " ", text)
    plain = re.sub(r"\s+", " ", plain).strip()
    for words, kind in STEP_WORDS:
        if plain in words or text in words:
            return f"{kind}:{ordinal if kind != 'fourteen_day' else 1}"
    return None
