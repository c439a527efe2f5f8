import datetime as dt
import hashlib
import hmac
import json
import shutil
import socket
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from sqlalchemy import select

from portal.db import db
from portal.domain import api, outgoing
from portal.domain.payments import service
from portal.domain.payments.providers.base import ProviderStatus, Status
from portal.models import Payment, WebhookEndpoint, WebhookEvent, utcnow
from tests.api.test_api import make_key


class Receiver:
    """A shop's endpoint: checks the signature with its own code; can fail first."""

    def __init__(self, secret="", fail_first=0):
        self.secret, self.fail_first, self.received = secret, fail_first, []
        self.hosts = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.hosts.append(self.headers["Host"])
                header = self.headers["Betaalportaal-Signature"]
                parts = dict(item.split("=", 1) for item in header.split(","))
                expected = hmac.new(
                    receiver.secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256
                ).hexdigest()
                ok = hmac.compare_digest(expected, parts["v1"])
                if receiver.fail_first > 0:
                    receiver.fail_first -= 1
                    self.send_response(503)
                else:
                    receiver.received.append((ok, json.loads(body)))
                    self.send_response(200 if ok else 400)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def private_ok(app):
    app.config["WEBHOOKS_ALLOW_PRIVATE"] = True
    yield
    app.config.pop("WEBHOOKS_ALLOW_PRIVATE")


def api_link(key):
    wish = api.parse_request(
        {
            "debtor": {"number": "C-1", "name": "Jan"},
            "invoice": {"number": "O-1", "amount_cents": 500},
        }
    )
    record = api.create_pay_link(db.session(), key, wish, dt.date(2026, 11, 28), 60)
    link = record.pay_link
    payment = Payment(
        public_id=f"pub{link.id}",
        brand_id=link.brand_id,
        debtor_id=link.debtor_id,
        pay_link_id=link.id,
        provider="sandbox",
        provider_ref=f"ref{link.id}",
        status="open",
        amount_cents=500,
        invoices=list(link.invoices),
    )
    db.session.add(payment)
    db.session.commit()
    return payment


def endpoint_for(key, url):
    _, secret = outgoing.save_endpoint(
        db.session(), key.brand, url, production=False, allow_private=True
    )
    db.session.commit()
    return secret


def pay(payment):
    truth = ProviderStatus(payment.provider_ref, Status.PAID, 500, "EUR")
    service.apply_truth(db.session(), service.locked(db.session(), payment.id), truth, None)
    db.session.commit()


def test_targets_must_be_public_and_https_in_production():
    for url in (
        "http://127.0.0.1/x",
        "https://localhost/x",
        "https://10.1.2.3/x",
        "https://[::1]/x",
        "https://169.254.169.254/latest",
        "ftp://example.com/x",
        "https://user:pw@93.184.216.34/x",
    ):
        with pytest.raises(outgoing.UnsafeTarget):
            outgoing.check_url(url, production=False)
    with pytest.raises(outgoing.UnsafeTarget):
        outgoing.check_url("http://93.184.216.34/x", production=True)
    target = outgoing.check_url("https://93.184.216.34/x", production=True)
    assert (target.host, target.port, target.address) == ("93.184.216.34", 443, "93.184.216.34")
    # production ignores the escape hatch for tests
    with pytest.raises(outgoing.UnsafeTarget):
        outgoing.check_url("https://127.0.0.1/x", production=True, allow_private=True)


def test_paid_event_reaches_the_shop_signed(app, private_ok):
    receiver = Receiver()
    try:
        key, _ = make_key()
        receiver.secret = endpoint_for(key, receiver.url)
        payment = api_link(key)
        pay(payment)
        result = outgoing.deliver_due(db.session(), production=False, allow_private=True)
        assert result.sent == 1
        ok, body = receiver.received[0]
        assert ok and body["type"] == "payment.paid"
        assert body["data"]["pay_link_id"] == payment.pay_link_id
        assert body["data"]["invoices"] == ["O-1"] and body["data"]["test_mode"] is False
        event = db.session.scalars(select(WebhookEvent)).one()
        assert event.status == "sent" and event.last_status_code == 200
    finally:
        receiver.close()


def test_a_failing_receiver_gets_it_on_retry_with_backoff(app, private_ok):
    receiver = Receiver(fail_first=1)
    try:
        key, _ = make_key()
        receiver.secret = endpoint_for(key, receiver.url)
        pay(api_link(key))
        first = outgoing.deliver_due(db.session(), production=False, allow_private=True)
        assert first.retried == 1 and receiver.received == []
        event = db.session.scalars(select(WebhookEvent)).one()
        assert event.status == "pending" and event.last_status_code == 503
        assert event.next_attempt_at > utcnow()
        # not due yet: nothing is posted
        assert outgoing.deliver_due(db.session(), production=False, allow_private=True).sent == 0
        later = utcnow() + dt.timedelta(minutes=1)
        again = outgoing.deliver_due(db.session(), production=False, allow_private=True, now=later)
        assert again.sent == 1 and receiver.received[0][0]
    finally:
        receiver.close()


def test_gives_up_after_a_day_and_refuses_a_private_target_at_delivery(app):
    key, _ = make_key()
    db.session.add(WebhookEndpoint(brand_id=key.brand_id, url="http://127.0.0.1:9/x", secret="s"))
    db.session.commit()
    pay(api_link(key))
    result = outgoing.deliver_due(db.session(), production=False)
    event = db.session.scalars(select(WebhookEvent)).one()
    assert result.retried == 1 and "refused target" in event.last_error
    event.created_at = utcnow() - dt.timedelta(hours=23, minutes=59)
    event.next_attempt_at = utcnow()
    db.session.commit()
    assert outgoing.deliver_due(db.session(), production=False).failed == 1


def test_backoff_grows_and_is_capped():
    assert outgoing.backoff(1) == dt.timedelta(seconds=30)
    assert outgoing.backoff(3) == dt.timedelta(minutes=2)
    assert outgoing.backoff(20) == outgoing.MAX_DELAY


def test_no_event_for_links_made_outside_the_api_or_without_an_endpoint(app):
    key, _ = make_key()
    pay(api_link(key))  # no endpoint
    assert db.session.scalars(select(WebhookEvent)).all() == []


def test_admin_sets_the_address_sees_the_secret_once_and_sends_a_test_event(client, private_ok):
    from portal.models import Brand
    from tests.admin.test_admin import admin_login, page_csrf
    from tests.factories import create_admin, create_brand

    receiver = Receiver()
    try:
        brand = create_brand(name="Zon")
        create_admin("boss@example.com")
        admin_login(client, "boss@example.com")
        token = page_csrf(client, "/admin/webhooks")
        refused = client.post(
            f"/admin/webhooks/{brand.id}", data={"csrf_token": token, "url": "ftp://x"}
        )
        assert refused.status_code == 422
        saved = client.post(
            f"/admin/webhooks/{brand.id}", data={"csrf_token": token, "url": receiver.url}
        )
        html = saved.get_data(as_text=True)
        endpoint = db.session.scalars(select(WebhookEndpoint)).one()
        assert endpoint.secret in html and endpoint.brand_id == db.session.get(Brand, brand.id).id
        receiver.secret = endpoint.secret
        assert endpoint.secret not in client.get("/admin/webhooks").get_data(as_text=True)
        sent = client.post(f"/admin/webhooks/{brand.id}/test", data={"csrf_token": token})
        assert sent.status_code == 303
        assert receiver.received and receiver.received[0][0]
        assert receiver.received[0][1]["type"] == "ping"
        event = db.session.scalars(select(WebhookEvent)).one()
        assert event.status == "sent"
        log = client.get("/admin/webhooks").get_data(as_text=True)
        assert "ping" in log
        again = client.post(f"/admin/webhooks/events/{event.id}/resend", data={"csrf_token": token})
        assert again.status_code == 303 and len(receiver.received) == 2
    finally:
        receiver.close()


PUBLIC = "93.184.216.34"  # a public address; this test's network routes it to a local port


@pytest.fixture
def rebinding_dns(monkeypatch):
    """shop.example answers a public address first and 127.0.0.1 after that (DNS rebinding);
    connections to the public address reach `routes[port]` on this machine."""
    real_lookup, real_connect = socket.getaddrinfo, socket.create_connection
    asked = []
    routes = {}

    def lookup(host, port, *args, **kwargs):
        if host != "shop.example":
            return real_lookup(host, port, *args, **kwargs)
        asked.append(host)
        address = PUBLIC if len(asked) == 1 else "127.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    def connect(address, *args, **kwargs):
        host, port = address
        if host == PUBLIC:
            return real_connect(("127.0.0.1", routes[port]), *args, **kwargs)
        return real_connect(address, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    monkeypatch.setattr(socket, "create_connection", connect)
    return asked, routes


def test_the_delivery_connects_to_the_address_it_checked(app, rebinding_dns):
    asked, routes = rebinding_dns
    internal = Receiver()  # what the name points at once it has been checked
    shop = Receiver()  # the shop, at the public address that was checked
    try:
        port = internal.server.server_port
        routes[port] = shop.server.server_port
        key, _ = make_key()
        db.session.add(
            WebhookEndpoint(brand_id=key.brand_id, url=f"http://shop.example:{port}/h", secret="s")
        )
        db.session.commit()
        shop.secret = "s"
        pay(api_link(key))
        result = outgoing.deliver_due(db.session(), production=False)
        assert result.sent == 1
        assert internal.received == [] and len(shop.received) == 1
        assert shop.hosts == [f"shop.example:{port}"]  # the name still goes along as Host
        assert asked == ["shop.example"]  # resolved once, for the check
    finally:
        internal.close()
        shop.close()


def test_https_deliveries_name_the_host_for_tls_and_its_certificate(tmp_path, monkeypatch):
    """Connecting to the checked address must not weaken TLS: the server name (SNI) and the
    certificate check use the URL's host name."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    openssl = shutil.which("openssl") or "openssl"
    subject = ["-subj", "/CN=shop.example", "-addext", "subjectAltName=DNS:shop.example"]
    files = ["-keyout", str(key), "-out", str(cert)]
    subprocess.run(  # noqa: S603 (a throwaway certificate)
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", *files, *subject],
        check=True,
        capture_output=True,
    )
    names = []
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert, key)
    server_tls.sni_callback = lambda sock, name, ctx: names.append(name)
    receiver = Receiver()
    receiver.server.socket = server_tls.wrap_socket(receiver.server.socket, server_side=True)
    port = receiver.server.server_port

    def trusting_the_test_certificate():
        context = ssl.create_default_context()
        context.load_verify_locations(cert)
        return context

    monkeypatch.setattr(outgoing, "tls_context", trusting_the_test_certificate)
    try:
        ok = outgoing.Target(
            f"https://shop.example:{port}/h", "https", "shop.example", port, "127.0.0.1"
        )
        assert (
            outgoing.http_post(ok, b"{}", {"Betaalportaal-Signature": "t=1,v1=x"}).status
            is not None
        )
        assert names == ["shop.example"] and receiver.hosts == [f"shop.example:{port}"]
        # a certificate for another name is refused, whatever address was checked
        other = outgoing.Target(
            f"https://evil.example:{port}/h", "https", "evil.example", port, "127.0.0.1"
        )
        refused = outgoing.http_post(other, b"{}", {"Betaalportaal-Signature": "t=1,v1=x"})
        assert refused.status is None and "CERTIFICATE_VERIFY_FAILED" in refused.error
    finally:
        receiver.close()


def test_a_payment_the_periodic_recheck_finds_paid_reaches_the_shop(app, private_ok, monkeypatch):
    """The webhook from the provider never came; the re-check finds the payment paid and
    the shop still hears of it (the worker delivers what the commit added)."""
    from portal import runtime, tasks

    class PaidProvider:
        name = "sandbox"

        def fetch(self, ref):
            return ProviderStatus(ref, Status.PAID, 500, "EUR")

    receiver = Receiver()
    try:
        key, _ = make_key()
        receiver.secret = endpoint_for(key, receiver.url)
        payment = api_link(key)
        db.session.get(Payment, payment.id).created_at = utcnow() - service.RECHECK_AFTER * 2
        db.session.commit()
        monkeypatch.setattr(runtime, "provider", lambda name: PaidProvider())

        tasks.recheck_payments.call_local()

        assert [body["type"] for ok, body in receiver.received if ok] == ["payment.paid"]
        db.session.expire_all()
        assert db.session.get(Payment, payment.id).status == "paid"
        assert db.session.scalars(select(WebhookEvent)).one().status == "sent"
    finally:
        receiver.close()
