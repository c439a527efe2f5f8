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
    "kind": ("soort", "type", "kind", "klanttype"),
    "segment": ("segment", "groep", "debiteurengroep"),
    "last_step": ("laatste herinnering", "last reminder", "last reminder step", "aanmaningsniveau"),
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
    "kind": N_("Kind"),
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
