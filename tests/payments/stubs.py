"""Local stand-ins for the Mollie v2 and Stripe v1 APIs, for exactly the calls we make.

Payload shapes follow the providers' published examples (our own ids and values). Each
stub keeps its payments in memory, records the requests it got, and has methods the tests
call to play the person at the checkout or the bank (pay, fail, expire, refund, ...).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import stripe

_ids = itertools.count(1000)


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


class _Server:
    """A ThreadingHTTPServer on a free port whose handler calls `self.route`."""

    def __init__(self) -> None:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                status, payload = stub.route(self.command, self.path, dict(self.headers), raw)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _handle

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.requests: list[Recorded] = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def route(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, Any]:
        raise NotImplementedError


# --------------------------------------------------------------------------- Mollie
MOLLIE_KEY = "test_betaalportaal0123456789abcdefghij"


def _value(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


class MollieStub(_Server):
    """POST /v2/payments and GET /v2/payments/{id}."""

    def __init__(self) -> None:
        super().__init__()
        self.payments: dict[str, dict[str, Any]] = {}

    def route(self, method, path, headers, raw):
        body = json.loads(raw) if raw else None
        with self.lock:
            self.requests.append(Recorded(method, path, headers, body))
        if headers.get("Authorization") != f"Bearer {MOLLIE_KEY}":
            return 401, {
                "status": 401,
                "title": "Unauthorized Request",
                "detail": "Missing authentication, or failed to authenticate",
                "_links": {
                    "documentation": {"href": "https://docs.mollie.test/auth", "type": "text/html"}
                },
            }
        parts = urlsplit(path).path.strip("/").split("/")
        if method == "POST" and parts == ["v2", "payments"]:
            return 201, self._create(body)
        if method == "GET" and parts[:2] == ["v2", "payments"] and len(parts) == 3:
            payment = self.payments.get(parts[2])
            if payment is None:
                return 404, {
                    "status": 404,
                    "title": "Not Found",
                    "detail": f"No payment exists with token {parts[2]}.",
                    "_links": {
                        "documentation": {
                            "href": "https://docs.mollie.test/errors",
                            "type": "text/html",
                        }
                    },
                }
            return 200, payment
        return 404, {"status": 404, "title": "Not Found", "detail": "Unknown endpoint"}

    def _create(self, body: dict[str, Any]) -> dict[str, Any]:
        ref = f"tr_Bp{next(_ids)}x"
        method = body.get("method")
        payment = {
            "resource": "payment",
            "id": ref,
            "mode": "test",
            "createdAt": "2026-11-24T10:00:00+00:00",
            "amount": body["amount"],
            "description": body["description"],
            "method": method if isinstance(method, str) else None,
            "metadata": body.get("metadata"),
            "status": "open",
            "isCancelable": False,
            "expiresAt": "2026-11-24T10:15:00+00:00",
            "locale": body.get("locale"),
            "profileId": "pfl_Betaal01",
            "sequenceType": "oneoff",
            "redirectUrl": body["redirectUrl"],
            "webhookUrl": body.get("webhookUrl"),
            "_links": {
                "self": {"href": f"{self.url}/v2/payments/{ref}", "type": "application/hal+json"},
                "checkout": {
                    "href": f"https://www.mollie.test/checkout/select-method/{ref[3:]}",
                    "type": "text/html",
                },
            },
        }
        self.payments[ref] = payment
        return payment

    def _set(self, ref: str, status: str, **fields: Any) -> None:
        payment = self.payments[ref]
        payment["status"] = status
        payment.update(fields)
        if status != "open":
            payment["_links"].pop("checkout", None)

    def pay(self, ref: str, method: str = "ideal") -> None:
        self._set(ref, "paid", method=method, paidAt="2026-11-24T10:02:00+00:00")

    def fail(self, ref: str) -> None:
        self._set(ref, "failed", failedAt="2026-11-24T10:02:00+00:00")

    def cancel(self, ref: str) -> None:
        self._set(ref, "canceled", canceledAt="2026-11-24T10:02:00+00:00")

    def expire(self, ref: str) -> None:
        self._set(ref, "expired", expiredAt="2026-11-24T10:15:00+00:00")

    def refund(self, ref: str, cents: int) -> None:
        currency = self.payments[ref]["amount"]["currency"]
        self.payments[ref]["amountRefunded"] = {"value": _value(cents), "currency": currency}

    def charge_back(self, ref: str) -> None:
        amount = self.payments[ref]["amount"]
        self.payments[ref]["amountChargedBack"] = dict(amount)


# --------------------------------------------------------------------------- Stripe
STRIPE_KEY = "sk_test_betaalportaal"
STRIPE_WEBHOOK_SECRET = "whsec_betaalportaal_test"


def _nested(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding (`a[b][0][c]=v`) back into dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        names = key.replace("]", "").split("[")
        node: Any = root
        for depth, name in enumerate(names):
            last = depth == len(names) - 1
            slot: Any = int(name) if isinstance(node, list) else name
            if isinstance(node, list):
                while len(node) <= slot:
                    node.append(None)
            if last:
                node[slot] = value
                break
            if node[slot] if isinstance(node, list) else slot in node:
                node = node[slot]
                continue
            child: Any = [] if names[depth + 1].isdigit() else {}
            node[slot] = child
            node = child
    return root


def _stripe_error(status: int, message: str, kind: str, code: str | None = None) -> tuple[int, Any]:
    return status, {"error": {"type": kind, "message": message, "code": code}}


class StripeStub(_Server):
    """POST/GET /v1/checkout/sessions, GET /v1/checkout/sessions/{id}."""

    def __init__(self) -> None:
        super().__init__()
        self.sessions: dict[str, dict[str, Any]] = {}
        self.intents: dict[str, dict[str, Any]] = {}

    def route(self, method, path, headers, raw):
        split = urlsplit(path)
        query = parse_qsl(split.query)
        body = _nested(parse_qsl(raw.decode())) if raw else {}
        with self.lock:
            self.requests.append(Recorded(method, path, headers, body))
        if headers.get("Authorization") != f"Bearer {STRIPE_KEY}":
            return _stripe_error(401, "Invalid API Key provided", "invalid_request_error")
        parts = split.path.strip("/").split("/")
        if parts[:3] != ["v1", "checkout", "sessions"]:
            return _stripe_error(404, "Unrecognized request URL", "invalid_request_error")
        if method == "POST" and len(parts) == 3:
            return 200, self._create(body)
        if method == "GET" and len(parts) == 3:
            wanted = dict(query).get("payment_intent")
            found = [s for s in self.sessions.values() if s["payment_intent"] == wanted]
            return 200, {
                "object": "list",
                "data": found[:1],
                "has_more": False,
                "url": "/v1/checkout/sessions",
            }
        if method == "GET" and len(parts) == 4:
            session = self.sessions.get(parts[3])
            if session is None:
                return _stripe_error(
                    404,
                    f"No such checkout.session: '{parts[3]}'",
                    "invalid_request_error",
                    "resource_missing",
                )
            expand = [v for k, v in query if k.startswith("expand")]
            return 200, self._view(session, "payment_intent.latest_charge" in expand)
        return _stripe_error(404, "Unrecognized request URL", "invalid_request_error")

    def _create(self, params: dict[str, Any]) -> dict[str, Any]:
        ref = f"cs_test_b1{next(_ids)}Portaal"
        item = params["line_items"][0]["price_data"]
        session = {
            "id": ref,
            "object": "checkout.session",
            "amount_subtotal": int(item["unit_amount"]),
            "amount_total": int(item["unit_amount"]),
            "cancel_url": params["cancel_url"],
            "success_url": params["success_url"],
            "client_reference_id": params.get("client_reference_id"),
            "currency": item["currency"],
            "expires_at": int(params["expires_at"]),
            "livemode": False,
            "locale": params.get("locale"),
            "metadata": params.get("metadata", {}),
            "mode": params["mode"],
            "payment_intent": None,
            "payment_method_types": params["payment_method_types"],
            "payment_status": "unpaid",
            "status": "open",
            "url": f"https://checkout.stripe.test/c/pay/{ref}",
        }
        self.sessions[ref] = session
        return session

    def _view(self, session: dict[str, Any], expand: bool) -> dict[str, Any]:
        view = dict(session)
        intent_id = session["payment_intent"]
        if expand and intent_id:
            view["payment_intent"] = self.intents[intent_id]
        return view

    def _intent(self, ref: str, status: str, method: str) -> dict[str, Any]:
        session = self.sessions[ref]
        intent_id = f"pi_b1{next(_ids)}"
        charge = {
            "id": f"ch_b1{next(_ids)}",
            "object": "charge",
            "amount": session["amount_total"],
            "amount_refunded": 0,
            "currency": session["currency"],
            "disputed": False,
            "payment_intent": intent_id,
            "payment_method_details": {"type": method, method: {}},
            "refunded": False,
            "status": "succeeded" if status == "succeeded" else "failed",
        }
        intent = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": session["amount_total"],
            "currency": session["currency"],
            "status": status,
            "latest_charge": charge,
        }
        self.intents[intent_id] = intent
        session["payment_intent"] = intent_id
        return intent

    def pay(self, ref: str, method: str = "ideal") -> None:
        self._intent(ref, "succeeded", method)
        self.sessions[ref].update(status="complete", payment_status="paid")

    def fail(self, ref: str) -> None:
        """An asynchronous method failed after the session completed."""
        self._intent(ref, "requires_payment_method", "ideal")
        self.sessions[ref].update(status="complete", payment_status="unpaid")

    def pending(self, ref: str) -> None:
        self._intent(ref, "processing", "ideal")
        self.sessions[ref].update(status="complete", payment_status="unpaid")

    def expire(self, ref: str) -> None:
        self.sessions[ref]["status"] = "expired"

    cancel = expire  # leaving Stripe Checkout leaves the session open until it expires

    def _charge(self, ref: str) -> dict[str, Any]:
        return self.intents[self.sessions[ref]["payment_intent"]]["latest_charge"]

    def refund(self, ref: str, cents: int) -> None:
        charge = self._charge(ref)
        charge["amount_refunded"] = cents
        charge["refunded"] = cents == charge["amount"]

    def charge_back(self, ref: str) -> None:
        self._charge(ref)["disputed"] = True

    def event(
        self, kind: str, obj: dict[str, Any], secret: str = STRIPE_WEBHOOK_SECRET
    ) -> tuple[bytes, str]:
        """A webhook body and its Stripe-Signature header, signed as Stripe signs."""
        payload = json.dumps(
            {
                "id": f"evt_b1{next(_ids)}",
                "object": "event",
                "api_version": "2025-01-27",
                "created": int(time.time()),
                "livemode": False,
                "type": kind,
                "data": {"object": obj},
            }
        )
        header = stripe.WebhookSignature.generate_signature_header(payload, secret)
        return payload.encode(), header


@dataclass
class Stubs:
    mollie: MollieStub = field(default_factory=MollieStub)
    stripe: StripeStub = field(default_factory=StripeStub)
