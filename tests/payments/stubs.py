"""Local stand-ins for the Mollie v2 and Stripe v1 APIs, for exactly the calls we make.

Payload shapes follow the providers' published examples and recordings, with our own ids
and values. Each stub keeps its payments in memory, records the requests it got, checks
what the real API checks for those calls (key, required fields, Mollie's refusal of a
localhost webhook, Stripe's expires_at window), and has methods the tests call to play
the person at the checkout or the bank (pay, fail, cancel, expire, refund, charge_back).

Mollie: POST /v2/payments, GET /v2/payments/{id}.
Stripe: POST /v1/checkout/sessions, GET /v1/checkout/sessions/{id} (expand),
GET /v1/checkout/sessions?payment_intent=..., GET /v1/disputes?charge=...

Each stub also serves its hosted checkout on its own origin (another port than the app's,
so another origin, as the real checkouts are): a page where a person pays (or cancels),
after which the stub sends the webhook where the real provider would and sends the
browser back to the `redirectUrl` / `success_url`, as a browser test needs.
"""

from __future__ import annotations

import html
import itertools
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests
import stripe

_ids = itertools.count(1000)


@dataclass
class Recorded:
    """One request as the stub received it; header names in lower case."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass(frozen=True)
class Html:
    """A page for the browser (the hosted checkout)."""

    text: str


@dataclass(frozen=True)
class Redirect:
    """A redirect for the browser."""

    location: str


def _page(title: str, body: str) -> Html:
    return Html(
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f"</head><body><main><h1>{title}</h1>{body}</main></body></html>"
    )


def _post(url: str, data: bytes, headers: dict[str, str]) -> int:
    """POST a webhook the way the provider's servers do; the HTTP status it got."""
    return requests.post(url, data=data, headers=headers, timeout=10).status_code


class _Server:
    """A ThreadingHTTPServer on a free port whose handler calls `self.route`.

    `route` answers (status, payload): JSON for the API, `Html` or `Redirect` (303) for
    the browser at the hosted checkout.
    """

    content_type = "application/json"

    def __init__(self) -> None:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, payload = stub.route(self.command, self.path, headers, raw)
                if isinstance(payload, Redirect):
                    self.send_response(status)
                    self.send_header("Location", payload.location)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if isinstance(payload, Html):
                    data, kind = payload.text.encode(), "text/html; charset=utf-8"
                else:
                    data, kind = json.dumps(payload).encode(), stub.content_type
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _handle

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.requests: list[Recorded] = []
        self.lock = threading.RLock()
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Shut down and free the port: later calls get 'connection refused'."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def record(self, method: str, path: str, headers: dict[str, str], body: Any) -> None:
        with self.lock:
            self.requests.append(Recorded(method, path, headers, body))

    def route(self, method: str, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, Any]:
        raise NotImplementedError


class _Wallet(_Server):
    """Where a provider sends the person on for some methods (PayPal, a bank's own page):
    a third origin, neither the app's nor the provider's. It serves the same checkout page
    as its provider, so what the person does there is recorded by the provider."""

    def __init__(self, checkout: Callable[[str, list[str], bytes], tuple[int, Any]]) -> None:
        self.checkout = checkout
        super().__init__()

    def route(self, method, path, headers, raw):
        parts = urlsplit(path).path.strip("/").split("/")
        if parts[0] == "checkout":
            return self.checkout(method, parts[1:], raw)
        return 404, _page("Not found", "")


# --------------------------------------------------------------------------- Mollie
MOLLIE_KEY = "test_betaalportaal0123456789abcdefghij"
MOLLIE_METHODS = {"ideal", "bancontact", "paypal", "creditcard"}
MOLLIE_STATUSES = {"open", "pending", "authorized", "paid", "canceled", "expired", "failed"}
_VALUE_RE = re.compile(r"\d+\.\d{2}")
_LOCAL_RE = re.compile(r"^https?://(localhost|127\.|10\.|192\.168\.|\[::1\])", re.IGNORECASE)


def _value(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _cents(value: str) -> int:
    whole, _, frac = value.partition(".")
    return int(whole) * 100 + int(frac or 0)


def _mollie_error(
    status: int, title: str, detail: str, field: str | None = None
) -> tuple[int, Any]:
    error: dict[str, Any] = {
        "status": status,
        "title": title,
        "detail": detail,
        "_links": {
            "documentation": {
                "href": "https://docs.mollie.test/overview/handling-errors",
                "type": "text/html",
            }
        },
    }
    if field:
        error["field"] = field
    return status, error


class MollieStub(_Server):
    """Mollie's Payments API v2 for a test-mode profile."""

    name = "mollie"
    content_type = "application/hal+json"

    def __init__(self) -> None:
        super().__init__()
        self.payments: dict[str, dict[str, Any]] = {}
        self.created: dict[str, dict[str, Any]] = {}  # the create body, per payment id
        self.webhook_answers: list[int] = []  # our webhook's HTTP status, per delivery
        self.wallet = _Wallet(self._checkout)  # PayPal's own pages, on a third origin

    def stop(self) -> None:
        """Shut down the API and the wallet's pages."""
        self.wallet.stop()
        super().stop()

    def route(self, method, path, headers, raw):
        parts = urlsplit(path).path.strip("/").split("/")
        if parts[0] == "checkout":  # the person's browser: no API key
            return self._checkout(method, parts[1:], raw)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        self.record(method, path, headers, body)
        if headers.get("authorization") != f"Bearer {MOLLIE_KEY}":
            return _mollie_error(
                401, "Unauthorized Request", "Missing authentication, or failed to authenticate"
            )
        if method == "POST" and parts == ["v2", "payments"]:
            return self._create(body if isinstance(body, dict) else {})
        if method == "GET" and parts[:2] == ["v2", "payments"] and len(parts) == 3:
            with self.lock:
                payment = self.payments.get(parts[2])
                if payment is not None:
                    return 200, json.loads(json.dumps(payment))
            return _mollie_error(
                404, "Not Found", f'The resource with the token "{parts[2]}" could not be found.'
            )
        return _mollie_error(404, "Not Found", "The requested resource does not exist.")

    def _create(self, body: dict[str, Any]) -> tuple[int, Any]:
        amount = body.get("amount") or {}
        if not _VALUE_RE.fullmatch(str(amount.get("value", ""))) or not amount.get("currency"):
            return _mollie_error(422, "Unprocessable Entity", "The amount is invalid.", "amount")
        for name in ("description", "redirectUrl"):
            if not body.get(name):
                return _mollie_error(422, "Unprocessable Entity", f"The {name} is missing.", name)
        webhook = body.get("webhookUrl")
        if webhook and _LOCAL_RE.match(webhook):
            return _mollie_error(
                422,
                "Unprocessable Entity",
                "The webhook URL is invalid because it is unreachable from Mollie's point "
                "of view. Please use a publicly reachable URL instead.",
                "webhookUrl",
            )
        method = body.get("method")
        chosen = [method] if isinstance(method, str) else list(method or [])
        if any(m not in MOLLIE_METHODS for m in chosen):
            return _mollie_error(
                422, "Unprocessable Entity", "The payment method is invalid.", "method"
            )
        if amount["currency"] != "EUR" and {"ideal", "bancontact"} & set(chosen):
            return _mollie_error(
                422,
                "Unprocessable Entity",
                "The payment method does not support this currency.",
                "method",
            )
        ref = f"tr_Bp{next(_ids)}Xq"
        payment: dict[str, Any] = {
            "resource": "payment",
            "id": ref,
            "mode": "test",
            "createdAt": "2026-11-24T10:00:00+00:00",
            "amount": {"value": amount["value"], "currency": amount["currency"]},
            "description": body["description"],
            "method": method if isinstance(method, str) else None,
            "metadata": body.get("metadata"),
            "status": "open",
            "isCancelable": False,
            "expiresAt": "2026-11-24T10:15:00+00:00",
            "locale": body.get("locale"),
            "profileId": "pfl_Betaal01Qz",
            "sequenceType": "oneoff",
            "redirectUrl": body["redirectUrl"],
            "webhookUrl": webhook,
            "_links": {
                "self": {"href": f"{self.url}/v2/payments/{ref}", "type": "application/hal+json"},
                "checkout": {
                    "href": f"{self.url}/checkout/select-method/{ref[3:]}",
                    "type": "text/html",
                },
                "dashboard": {
                    "href": f"https://www.mollie.test/dashboard/org_100200/payments/{ref}",
                    "type": "text/html",
                },
                "documentation": {
                    "href": "https://docs.mollie.test/reference/v2/payments-api/create-payment",
                    "type": "text/html",
                },
            },
        }
        with self.lock:
            self.payments[ref] = payment
            self.created[ref] = body
        return 201, payment

    # ------------------------------------------------- the hosted checkout
    def _checkout(self, method: str, parts: list[str], raw: bytes) -> tuple[int, Any]:
        """/checkout/select-method/<token> sends the person on to the chosen method's page
        (Mollie skips its method choice when the payment names one): a redirect on Mollie's
        own origin, or for PayPal on to PayPal's origin (the wallet), a hop that the pay
        page's CSP cannot know of. There the person pays or cancels. Then Mollie calls the
        webhook, when the payment has one, and sends the browser to `redirectUrl`."""
        ref = f"tr_{parts[-1]}" if len(parts) == 2 else ""
        with self.lock:
            payment = json.loads(json.dumps(self.payments.get(ref)))
        if payment is None:
            return 404, _page("Payment not found", "")
        if parts[0] == "select-method":
            chosen = payment["method"] or "ideal"
            host = self.wallet.url if chosen == "paypal" else self.url
            return 302, Redirect(f"{host}/checkout/{chosen}/{parts[1]}")
        if method == "GET":
            if payment["status"] != "open":
                back = html.escape(payment["redirectUrl"])
                return 200, _page(
                    "Mollie test checkout",
                    f'<p>This payment is {payment["status"]}.</p><a href="{back}">Back</a>',
                )
            amount = payment["amount"]
            return 200, _page(
                "Mollie test checkout",
                f"<p>{html.escape(payment['description'])}</p>"
                f"<p>{amount['currency']} {amount['value']} by {parts[0]}</p>"
                '<form method="post"><button name="outcome" value="paid">Pay</button> '
                '<button name="outcome" value="canceled">Cancel payment</button></form>',
            )
        outcome = dict(parse_qsl(raw.decode())).get("outcome")
        if outcome not in ("paid", "canceled"):
            return 400, _page("Choose pay or cancel", "")
        if payment["status"] == "open":
            if outcome == "paid":
                self.pay(ref, parts[0])
            else:
                self.cancel(ref)
            if payment.get("webhookUrl"):  # classic Mollie webhook: an unsigned form post
                answer = _post(
                    payment["webhookUrl"],
                    urlencode({"id": ref}).encode(),
                    {"Content-Type": "application/x-www-form-urlencoded"},
                )
                self.webhook_answers.append(answer)
        return 303, Redirect(payment["redirectUrl"])

    # ------------------------------------------------- what the person or bank does
    def move(self, ref: str, status: str, **fields: Any) -> None:
        """Put payment `ref` in Mollie status `status` (one of MOLLIE_STATUSES)."""
        assert status in MOLLIE_STATUSES, status
        with self.lock:
            payment = self.payments[ref]
            payment["status"] = status
            payment.update(fields)
            if status not in ("open", "pending"):
                payment["_links"].pop("checkout", None)

    def pay(self, ref: str, method: str = "ideal") -> None:
        """Paid with `method` (Mollie's name: ideal, bancontact, paypal, creditcard)."""
        amount = self.payments[ref]["amount"]
        self.move(
            ref,
            "paid",
            method=method,
            paidAt="2026-11-24T10:02:00+00:00",
            amountRefunded={"value": "0.00", "currency": amount["currency"]},
            amountRemaining=dict(amount),
            settlementAmount=dict(amount),
            details={
                "consumerName": "T. Tester",
                "consumerAccount": "NL02ABNA0123456789",
                "consumerBic": "ABNANL2A",
            },
        )

    def fail(self, ref: str) -> None:
        self.move(ref, "failed", failedAt="2026-11-24T10:02:00+00:00")

    def cancel(self, ref: str) -> None:
        self.move(ref, "canceled", canceledAt="2026-11-24T10:02:00+00:00")

    def expire(self, ref: str) -> None:
        self.move(ref, "expired", expiredAt="2026-11-24T10:15:00+00:00")

    def refund(self, ref: str, cents: int) -> None:
        """`cents` refunded in total (Mollie keeps the status paid)."""
        with self.lock:
            payment = self.payments[ref]
            currency = payment["amount"]["currency"]
            left = _cents(payment["amount"]["value"]) - cents
            payment["amountRefunded"] = {"value": _value(cents), "currency": currency}
            payment["amountRemaining"] = {"value": _value(left), "currency": currency}

    def charge_back(self, ref: str) -> None:
        """The bank reverses the whole payment."""
        with self.lock:
            payment = self.payments[ref]
            payment["amountChargedBack"] = dict(payment["amount"])


# --------------------------------------------------------------------------- Stripe
STRIPE_KEY = "sk_test_betaalportaal"
STRIPE_WEBHOOK_SECRET = "whsec_betaalportaal_test"
STRIPE_METHODS = {"ideal", "bancontact", "paypal", "card"}


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


def _stripe_error(
    status: int, message: str, code: str | None = None, param: str | None = None
) -> tuple[int, Any]:
    error: dict[str, Any] = {"message": message, "type": "invalid_request_error"}
    if code:
        error.update(code=code, doc_url=f"https://stripe.test/docs/error-codes/{code}")
    if param:
        error["param"] = param
    return status, {"error": error}


class StripeStub(_Server):
    """Stripe Checkout Sessions (v1) with their payment intents, charges and disputes."""

    name = "stripe"

    def __init__(self) -> None:
        super().__init__()
        self.sessions: dict[str, dict[str, Any]] = {}
        self.intents: dict[str, dict[str, Any]] = {}
        self.disputes: dict[str, dict[str, Any]] = {}
        self.created: dict[str, dict[str, Any]] = {}  # the create params, per session id
        # the endpoint set in Stripe's dashboard (none: no events are sent)
        self.webhook_endpoint = ""
        self.webhook_answers: list[int] = []  # our webhook's HTTP status, per event

    def route(self, method, path, headers, raw):
        split = urlsplit(path)
        if split.path.startswith("/c/pay/"):  # the person's browser: no API key
            return self._checkout(method, split.path.removeprefix("/c/pay/"), raw)
        query = parse_qsl(split.query)
        body = _nested(parse_qsl(raw.decode())) if raw else {}
        self.record(method, path, headers, body)
        if headers.get("authorization") != f"Bearer {STRIPE_KEY}":
            return _stripe_error(401, "Invalid API Key provided: sk_test_****")
        parts = split.path.strip("/").split("/")
        with self.lock:
            if parts == ["v1", "disputes"] and method == "GET":
                charge = dict(query).get("charge")
                found = [d for d in self.disputes.values() if d["charge"] == charge]
                return 200, _list("/v1/disputes", found)
            if parts[:3] != ["v1", "checkout", "sessions"]:
                return _stripe_error(404, f"Unrecognized request URL ({method}: {split.path}).")
            if method == "POST" and len(parts) == 3:
                return self._create(body)
            if method == "GET" and len(parts) == 3:
                wanted = dict(query).get("payment_intent")
                limit = int(dict(query).get("limit", 10))
                found = [s for s in self.sessions.values() if s["payment_intent"] == wanted]
                return 200, _list("/v1/checkout/sessions", found[:limit])
            if method == "GET" and len(parts) == 4:
                session = self.sessions.get(parts[3])
                if session is None:
                    return _stripe_error(
                        404,
                        f"No such checkout.session: '{parts[3]}'",
                        "resource_missing",
                        "session",
                    )
                expand = [v for k, v in query if k.startswith("expand")]
                return 200, self._view(session, "payment_intent.latest_charge" in expand)
        return _stripe_error(404, f"Unrecognized request URL ({method}: {split.path}).")

    def _create(self, params: dict[str, Any]) -> tuple[int, Any]:
        if params.get("mode") != "payment":
            return _stripe_error(400, "Invalid mode: must be payment here.", None, "mode")
        try:
            item = params["line_items"][0]
            price = item["price_data"]
            amount = int(price["unit_amount"])
            name = price["product_data"]["name"]
        except (KeyError, IndexError, TypeError, ValueError):
            return _stripe_error(400, "Missing required param: line_items.", None, "line_items")
        if int(item.get("quantity", 0)) != 1 or amount <= 0 or not name:
            return _stripe_error(400, "Invalid line item.", None, "line_items")
        types = params.get("payment_method_types") or []
        if not types or any(t not in STRIPE_METHODS for t in types):
            return _stripe_error(400, "Invalid payment_method_types.", None, "payment_method_types")
        if price["currency"] != "eur" and {"ideal", "bancontact"} & set(types):
            return _stripe_error(
                400,
                f"The currency provided ({price['currency']}) is invalid for one or more "
                "payment method types.",
                None,
                "payment_method_types",
            )
        now = int(time.time())
        expires_at = int(params.get("expires_at", now + 86400))
        if not now + 1800 <= expires_at <= now + 86400:
            return _stripe_error(
                400,
                "The `expires_at` timestamp must be between 30 minutes and 24 hours from now.",
                None,
                "expires_at",
            )
        ref = f"cs_test_b1{next(_ids)}Portaal"
        session: dict[str, Any] = {
            "id": ref,
            "object": "checkout.session",
            "amount_subtotal": amount,
            "amount_total": amount,
            "cancel_url": params.get("cancel_url"),
            "client_reference_id": params.get("client_reference_id"),
            "created": now,
            "currency": price["currency"],
            "customer": None,
            "customer_details": None,
            "expires_at": expires_at,
            "livemode": False,
            "locale": params.get("locale"),
            "metadata": params.get("metadata", {}),
            "mode": "payment",
            "payment_intent": None,  # created when the person confirms (API 2022-08-01+)
            "payment_link": None,
            "payment_method_types": types,
            "payment_status": "unpaid",
            "status": "open",
            "success_url": params.get("success_url"),
            "ui_mode": "hosted",
            "url": f"{self.url}/c/pay/{ref}",
        }
        self.sessions[ref] = session
        self.created[ref] = params
        return 200, session

    def _view(self, session: dict[str, Any], expand: bool) -> dict[str, Any]:
        view = json.loads(json.dumps(session))
        intent_id = session["payment_intent"]
        if expand and intent_id:
            view["payment_intent"] = json.loads(json.dumps(self.intents[intent_id]))
        elif intent_id:
            view["payment_intent"] = intent_id
        return view

    # ------------------------------------------------- the hosted checkout
    def _checkout(self, method: str, ref: str, raw: bytes) -> tuple[int, Any]:
        """/c/pay/<session>: the person picks one of the session's methods and pays, or
        goes back (to `cancel_url`; the session stays open). Paying completes the session,
        sends `checkout.session.completed` to the dashboard's endpoint, signed, and sends
        the browser to `success_url`."""
        with self.lock:
            session = json.loads(json.dumps(self.sessions.get(ref)))
        if session is None:
            return 404, _page("Checkout Session not found", "")
        if method == "GET":
            if session["status"] != "open":
                return 200, _page("Stripe test checkout", "<p>This session is no longer open.</p>")
            name = self.created[ref]["line_items"][0]["price_data"]["product_data"]["name"]
            choices = "".join(
                f'<label><input type="radio" name="method" value="{m}"'
                f"{' checked' if i == 0 else ''}> {m}</label> "
                for i, m in enumerate(session["payment_method_types"])
            )
            return 200, _page(
                "Stripe test checkout",
                f"<p>{html.escape(name)}</p>"
                f"<p>{session['currency'].upper()} {_value(session['amount_total'])}</p>"
                f'<form method="post"><fieldset>{choices}</fieldset>'
                '<button name="outcome" value="paid">Pay</button></form>'
                f'<a href="{html.escape(session["cancel_url"])}">Back</a>',
            )
        chosen = dict(parse_qsl(raw.decode())).get("method", "")
        if chosen not in session["payment_method_types"]:
            return 400, _page("Choose a payment method", "")
        if session["status"] == "open":
            self.pay(ref, chosen)
            self.notify("checkout.session.completed", ref)
        return 303, Redirect(session["success_url"])

    def notify(self, kind: str, ref: str) -> None:
        """Send event `kind` about session `ref`, signed, to the dashboard's endpoint."""
        if not self.webhook_endpoint:
            return
        body, header = self.event(kind, self.sessions[ref])
        headers = {"Content-Type": "application/json", "Stripe-Signature": header}
        self.webhook_answers.append(_post(self.webhook_endpoint, body, headers))

    # ------------------------------------------------- what the person or bank does
    def _attempt(self, ref: str, status: str, method: str, error: str | None = None) -> None:
        """The person confirmed the checkout with `method`: an intent and its charge."""
        with self.lock:
            session = self.sessions[ref]
            intent_id = f"pi_b1{next(_ids)}Portaal"
            amount = session["amount_total"]
            prefix = "ch" if method == "card" else "py"  # as Stripe names them
            charge = {
                "id": f"{prefix}_b1{next(_ids)}Portaal",
                "object": "charge",
                "amount": amount,
                "amount_captured": amount if status == "succeeded" else 0,
                "amount_refunded": 0,
                "captured": status == "succeeded",
                "created": int(time.time()),
                "currency": session["currency"],
                "disputed": False,
                "failure_code": "payment_method_provider_decline" if error else None,
                "failure_message": error,
                "livemode": False,
                "metadata": {},
                "paid": status == "succeeded",
                "payment_intent": intent_id,
                "payment_method_details": {"type": method, method: {}},
                "refunded": False,
                "status": {"succeeded": "succeeded", "processing": "pending"}.get(status, "failed"),
            }
            self.intents[intent_id] = {
                "id": intent_id,
                "object": "payment_intent",
                "amount": amount,
                "amount_received": amount if status == "succeeded" else 0,
                "currency": session["currency"],
                "last_payment_error": (
                    {
                        "code": "payment_method_provider_decline",
                        "message": error,
                        "type": "card_error",
                    }
                    if error
                    else None
                ),
                "latest_charge": charge,
                "livemode": False,
                "metadata": (self.created[ref].get("payment_intent_data") or {}).get(
                    "metadata", {}
                ),
                "payment_method_types": session["payment_method_types"],
                "status": status,
            }
            session["payment_intent"] = intent_id

    def pay(self, ref: str, method: str = "ideal") -> None:
        """Paid at once (as iDEAL, Bancontact, card and PayPal report)."""
        self._attempt(ref, "succeeded", method)
        self.sessions[ref].update(status="complete", payment_status="paid")

    def pending(self, ref: str, method: str = "ideal") -> None:
        """A delayed method: the session completed, the money has not arrived yet."""
        self._attempt(ref, "processing", method)
        self.sessions[ref].update(status="complete", payment_status="unpaid")

    def fail(self, ref: str) -> None:
        """The delayed payment failed after the session completed (async_payment_failed)."""
        self._attempt(ref, "requires_payment_method", "ideal", "The payment was declined.")
        self.sessions[ref].update(status="complete", payment_status="unpaid")

    def decline(self, ref: str, method: str = "card") -> None:
        """A declined attempt inside an open session: the person may try again."""
        self._attempt(ref, "requires_payment_method", method, "Your card was declined.")

    def expire(self, ref: str) -> None:
        with self.lock:
            session = self.sessions[ref]
            session["status"] = "expired"
            intent = self.intents.get(session["payment_intent"] or "")
            if intent is not None:
                intent["status"] = "canceled"

    # Stripe Checkout has no "cancel" for the person: leaving goes to cancel_url and the
    # session stays open until it expires (or the merchant expires it)
    cancel = expire

    def charge(self, ref: str) -> dict[str, Any]:
        """The charge of session `ref` (a live reference: changes show in later reads)."""
        return self.intents[self.sessions[ref]["payment_intent"]]["latest_charge"]

    _charge = charge

    def refund(self, ref: str, cents: int) -> None:
        """`cents` refunded in total."""
        with self.lock:
            charge = self.charge(ref)
            charge["amount_refunded"] = cents
            charge["refunded"] = cents == charge["amount"]

    def dispute(self, ref: str, status: str = "needs_response") -> dict[str, Any]:
        """Open (or move) the dispute on the charge of session `ref`."""
        with self.lock:
            charge = self.charge(ref)
            charge["disputed"] = True
            for dispute in self.disputes.values():
                if dispute["charge"] == charge["id"]:
                    dispute["status"] = status
                    return dispute
            dispute = {
                "id": f"du_b1{next(_ids)}Portaal",
                "object": "dispute",
                "amount": charge["amount"],
                "balance_transactions": [],
                "charge": charge["id"],
                "created": int(time.time()),
                "currency": charge["currency"],
                "is_charge_refundable": False,
                "livemode": False,
                "metadata": {},
                "payment_intent": charge["payment_intent"],
                "reason": "fraudulent",
                "status": status,
            }
            self.disputes[dispute["id"]] = dispute
            return dispute

    def charge_back(self, ref: str) -> None:
        """The bank takes the money back for good: a lost dispute."""
        self.dispute(ref, "lost")

    def event(
        self, kind: str, obj: dict[str, Any], secret: str = STRIPE_WEBHOOK_SECRET
    ) -> tuple[bytes, str]:
        """A webhook body and its Stripe-Signature header, signed as Stripe signs."""
        payload = json.dumps(
            {
                "id": f"evt_b1{next(_ids)}Portaal",
                "object": "event",
                "api_version": stripe.api_version,
                "created": int(time.time()),
                "data": {"object": obj},
                "livemode": False,
                "pending_webhooks": 1,
                "request": {"id": None, "idempotency_key": None},
                "type": kind,
            }
        )
        header = stripe.WebhookSignature.generate_signature_header(payload, secret)
        return payload.encode(), header


def _list(url: str, data: list[dict[str, Any]]) -> dict[str, Any]:
    return {"object": "list", "data": data, "has_more": False, "url": url}
