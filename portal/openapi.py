"""The OpenAPI 3.1 document of /api/v1, written by hand (a schemathesis test holds the
real endpoints to it)."""

from __future__ import annotations

from typing import Any


def _problem_ref() -> dict[str, Any]:
    return {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": _problem_ref()}


def _link_ref() -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": "#/components/schemas/PayLink"}}}


COMMON_ERRORS = {
    "401": _problem("Missing, unknown or revoked API key."),
    "429": {
        "description": "Rate limit reached; wait `Retry-After` seconds.",
        "headers": {"Retry-After": {"schema": {"type": "integer"}}},
        "content": _problem_ref(),
    },
}

TEXT = {"type": "string"}
# no control characters; a number has something besides spaces
PLAIN = "^[^\\x00-\\x1f]*$"
NUMBER = "^[^\\x00-\\x1f]*[^\\x00-\\x20][^\\x00-\\x1f]*$"
LINK_ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1, "maximum": 2_000_000_000},
}


def document(base_url: str) -> dict[str, Any]:
    """The OpenAPI document, with this deployment's address as its server."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Betaalportaal API",
            "version": "1.0.0",
            "description": (
                "Create pay-links for your shop's orders. Authenticate with "
                "`Authorization: Bearer <key>` (a `bp_live_` or `bp_test_` key from admin). "
                "Amounts are whole cents (`amount_cents`: 12100 is EUR 121.00). Errors are "
                "RFC 9457 problem details. Send an `Idempotency-Key` header on creates: the "
                "same key and body give the same answer, another body gives 422, and a "
                "first request still running gives 409."
            ),
        },
        "servers": [{"url": f"{base_url}/api/v1"}],
        "security": [{"bearer": []}],
        "paths": {
            "/pay-links": {
                "post": {
                    "operationId": "createPayLink",
                    "summary": "Create a pay-link",
                    "description": (
                        "Finds the debtor by number and the invoice by number, creating "
                        "them when new, and makes a new pay-link for that invoice. "
                        "`reminders: false` keeps the invoice out of the reminder schedule.\n\n"
                        "A key works on the customers it created. A customer number that "
                        "belongs to another customer (imported by the creditor, or made by "
                        "another key) is refused with 409 `customer-not-yours`, unless an "
                        "administrator let this key add invoices to existing customers. Even "
                        "then the key only adds invoices to such a customer: the `name`, "
                        "`email`, `language`, `country` and `kind` sent are ignored, and "
                        "answers show the customer's `name` as null."
                    ),
                    "parameters": [
                        {
                            "name": "Idempotency-Key",
                            "in": "header",
                            "required": False,
                            "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/PayLinkCreate"}
                            }
                        },
                    },
                    "responses": {
                        "201": {"description": "Created.", "content": _link_ref()},
                        "400": _problem("The body is not JSON."),
                        "409": _problem(
                            "The customer number belongs to a customer this key did not "
                            "create and may not add invoices to (`customer-not-yours`); the "
                            "invoice exists with another debtor, amount or currency, or is "
                            "not open; or the Idempotency-Key's first request still runs."
                        ),
                        "422": _problem("Field problems (see `errors`), or a reused key."),
                        **COMMON_ERRORS,
                    },
                },
                "get": {
                    "operationId": "listPayLinks",
                    "summary": "List pay-links, newest first",
                    "parameters": [
                        {
                            "name": "limit",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "integer", "minimum": 1, "maximum": 100},
                        },
                        {
                            "name": "cursor",
                            "in": "query",
                            "required": False,
                            "description": "`next_cursor` of the previous page.",
                            "schema": TEXT,
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "A page of pay-links.",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/PayLinkPage"}
                                }
                            },
                        },
                        "400": _problem("Bad `limit` or `cursor`."),
                        **COMMON_ERRORS,
                    },
                },
            },
            "/pay-links/{id}": {
                "get": {
                    "operationId": "getPayLink",
                    "summary": "Get one pay-link",
                    "parameters": [LINK_ID],
                    "responses": {
                        "200": {"description": "The pay-link.", "content": _link_ref()},
                        "404": _problem("No such pay-link for this key."),
                        **COMMON_ERRORS,
                    },
                }
            },
            "/pay-links/{id}/revoke": {
                "post": {
                    "operationId": "revokePayLink",
                    "summary": "Revoke a pay-link",
                    "parameters": [LINK_ID],
                    "responses": {
                        "200": {"description": "The revoked pay-link.", "content": _link_ref()},
                        "404": _problem("No such pay-link for this key."),
                        **COMMON_ERRORS,
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": SCHEMAS,
        },
    }


SCHEMAS: dict[str, Any] = {
    "PayLinkCreate": {
        "type": "object",
        "required": ["debtor", "invoice"],
        "properties": {
            "debtor": {
                "type": "object",
                "required": ["number"],
                "properties": {
                    "number": {"type": "string", "maxLength": 30, "pattern": NUMBER},
                    "name": {
                        "type": "string",
                        "maxLength": 200,
                        "pattern": PLAIN,
                        "description": (
                            "Used for a new debtor (default: the number); never changes an "
                            "existing one."
                        ),
                    },
                    "email": {
                        "type": "string",
                        "format": "email",
                        "maxLength": 254,
                        "description": (
                            "May sign in to the customer's portal: set on a new customer, "
                            "added to one this key created, ignored otherwise."
                        ),
                    },
                    "language": {"enum": ["nl", "en", "fr"]},
                    "country": {"type": "string", "pattern": "^[A-Z]{2}$"},
                    "kind": {"enum": ["b2c", "b2b"]},
                },
            },
            "invoice": {
                "type": "object",
                "required": ["number", "amount_cents"],
                "properties": {
                    "number": {"type": "string", "maxLength": 30, "pattern": NUMBER},
                    "amount_cents": {"type": "integer", "minimum": 1, "maximum": 100_000_000},
                    "currency": {"type": "string", "pattern": "^[A-Z]{3}$", "default": "EUR"},
                    "reference": {"type": "string", "maxLength": 80, "pattern": PLAIN},
                    "description": {"type": "string", "maxLength": 500, "pattern": PLAIN},
                    "due_date": {"type": "string", "format": "date"},
                },
            },
            "return_url": {
                "type": "string",
                "maxLength": 2000,
                "pattern": "^https?://[^\\x00-\\x20/?#]+[^\\x00-\\x1f]*$",
                "description": "Where the pay page's receipt links back to (http or https).",
            },
            "reminders": {"type": "boolean", "default": True},
        },
        "example": {
            "debtor": {"number": "C-1001", "name": "Jan Jansen", "email": "jan@example.com"},
            "invoice": {"number": "2026-0042", "amount_cents": 12100, "due_date": "2026-12-31"},
            "return_url": "https://shop.example.com/thanks",
        },
    },
    "PayLink": {
        "type": "object",
        "required": [
            "id",
            "url",
            "status",
            "test_mode",
            "reminders",
            "created_at",
            "expires_at",
            "debtor",
            "invoice",
        ],
        "properties": {
            "id": {"type": "integer"},
            "url": {"type": "string", "description": "The pay page for the debtor."},
            "status": {"enum": ["open", "paid", "revoked", "expired"]},
            "test_mode": {"type": "boolean"},
            "reminders": {"type": "boolean"},
            "return_url": {"type": ["string", "null"]},
            "created_at": {"type": "string", "format": "date-time"},
            "expires_at": {"type": "string", "format": "date-time"},
            "revoked_at": {"type": ["string", "null"], "format": "date-time"},
            "embed": {
                "type": "object",
                "description": "Ways to show the link on the shop's pages (not in lists).",
                "required": ["link", "button_html", "qr_svg"],
                "properties": {
                    "link": TEXT,
                    "button_html": {
                        "type": "string",
                        "description": "An <a> styled as a button in the brand's colours.",
                    },
                    "qr_svg": {"type": "string", "description": "A QR code of the link (SVG)."},
                },
            },
            "debtor": {
                "type": "object",
                "required": ["id", "number", "name"],
                "properties": {
                    "id": {"type": "integer"},
                    "number": TEXT,
                    "name": {
                        "type": ["string", "null"],
                        "description": "Null for a customer this key did not create.",
                    },
                },
            },
            "invoice": {
                "type": ["object", "null"],
                "properties": {
                    "id": {"type": "integer"},
                    "number": TEXT,
                    "amount_cents": {"type": "integer"},
                    "open_cents": {"type": "integer"},
                    "currency": TEXT,
                    "due_date": {"type": "string", "format": "date"},
                    "reference": TEXT,
                    "description": TEXT,
                },
            },
        },
    },
    "PayLinkPage": {
        "type": "object",
        "required": ["data", "next_cursor"],
        "properties": {
            "data": {"type": "array", "items": {"$ref": "#/components/schemas/PayLink"}},
            "next_cursor": {"type": ["string", "null"]},
        },
    },
    "Problem": {
        "type": "object",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": TEXT,
            "title": TEXT,
            "status": {"type": "integer"},
            "detail": TEXT,
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"pointer": TEXT, "detail": TEXT},
                },
            },
        },
    },
}
