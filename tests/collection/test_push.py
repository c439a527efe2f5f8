"""The dossier pushed as signed JSON to an agency's HTTPS endpoint, checked by a receiver
that verifies the signature with its own code (not the portal's), and the link's expiry."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import time_machine

from portal import collecting
from portal.db import db
from portal.domain.collection import delivery
from portal.domain.collection.models import AgencyDelivery, Handover
from tests.collection.helpers import create_agency
from tests.collection.test_handover import queued_debtor

SECRET = "whsec_agency-own-secret"


class Receiver(BaseHTTPRequestHandler):
    """What an agency would run: accept a post only when its signature is right."""

    received: list[dict] = []
    refused: list[str] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        header = self.headers.get("Betaalportaal-Signature", "")
        fields = dict(part.split("=", 1) for part in header.split(","))
        mac = hmac.new(SECRET.encode(), fields["t"].encode() + b"." + body, hashlib.sha256)
        fresh = abs(time.time() - int(fields["t"])) < 300
        if fresh and hmac.compare_digest(mac.hexdigest(), fields["v1"]):
            Receiver.received.append(json.loads(body))
            self.send_response(204)
        else:
            Receiver.refused.append(header)
            self.send_response(401)
        self.end_headers()

    def log_message(self, *args):
        pass


def serve():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_the_pushed_dossier_is_signed_and_verified_by_the_agency(app):
    server = serve()
    try:
        Receiver.received, Receiver.refused = [], []
        debtor, invoices = queued_debtor(name="Bakkerij Smit")
        agency = create_agency(
            delivery="push", secret=SECRET, endpoint_url=f"http://127.0.0.1:{server.server_port}/in"
        )
        with app.test_request_context():
            made = collecting.hand_over(db.session(), debtor.id, agency.id, None, "admin:1")
            db.session.commit()
            handover_id = made.id
        result = delivery.deliver_due(db.session(), production=False, allow_private=True)
        assert (result.sent, result.failed) == (1, 0)
        assert Receiver.refused == []
        (event,) = Receiver.received
        assert event["type"] == "dossier"
        data = event["data"]
        assert data["schema"] == "betaalportaal.dossier/1"
        assert data["debtor"]["name"] == "Bakkerij Smit"
        assert {i["number"] for i in data["invoices"] if i["handed_over"]} == {
            i.number for i in invoices
        }
        assert "/collection/dossier/" in data["dossier_url"]
        h = db.session.get(Handover, handover_id)
        assert data["dossier_sha256"] == h.dossier_sha256

        # a wrong secret on our side: the agency refuses, we retry later
        agency = db.session.get(type(agency), agency.id)
        agency.secret = "whsec_not-theirs"
        collecting.handover.push(db.session(), agency, h, "ping", {"hello": 1})
        db.session.commit()
        again = delivery.deliver_due(db.session(), production=False, allow_private=True)
        assert again.retried == 1 and len(Receiver.refused) == 1
    finally:
        server.shutdown()


def test_push_targets_follow_the_webhook_rules(app):
    debtor, _invoices = queued_debtor()
    agency = create_agency(delivery="push", endpoint_url="https://127.0.0.1/in")
    with app.test_request_context():
        collecting.hand_over(db.session(), debtor.id, agency.id, None, "admin:1")
        db.session.commit()
    delivery.deliver_due(db.session(), production=True)
    row = db.session.query(AgencyDelivery).filter_by(agency_id=agency.id).one()
    assert "refused target" in row.last_error and row.status == "pending"


def test_the_download_link_expires(app, client):
    debtor, _invoices = queued_debtor()
    agency = create_agency()
    with app.test_request_context():
        made = collecting.hand_over(db.session(), debtor.id, agency.id, None, "admin:1")
        db.session.commit()
        path = collecting.dossier_url(made).split("portal.test", 1)[1]
    assert client.get(path).status_code == 200
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=15)
    with time_machine.travel(later, tick=False):
        assert client.get(path).status_code == 404
