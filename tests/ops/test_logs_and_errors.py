"""LOG_FORMAT=json: one JSON object a line, carrying the request id (also answered as
X-Request-ID, and taken from a trusted proxy); SENTRY_DSN: errors reach Sentry.

The app runs in a process of its own: logging and sentry-sdk are set up once per
process, and the test suite's own app must keep its settings."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import textwrap
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

APP = textwrap.dedent(
    """
    import json, sys
    from portal import create_app
    from portal.cli import upgrade_database

    app = create_app()

    @app.get("/boom")
    def boom():
        raise RuntimeError("the sky fell on invoice 42")

    with app.app_context():
        upgrade_database()
    client = app.test_client()
    answers = []
    for path, headers in [
        ("/healthz", {"X-Request-ID": "proxy-id-123"}),
        ("/healthz", {}),
        ("/boom", {"Cookie": "bp_session=very-secret-cookie"}),
    ]:
        response = client.get(path, headers=headers)
        answers.append([path, response.status_code, response.headers.get("X-Request-ID")])
    import sentry_sdk
    sentry_sdk.flush(timeout=10)
    # the same without a trusted proxy: a request id from outside is not believed
    from portal.config import Settings
    untrusting = create_app(Settings.from_env(trusted_proxies=0)).test_client()
    response = untrusting.get("/healthz", headers={"X-Request-ID": "proxy-id-123"})
    answers.append(["/healthz", response.status_code, response.headers.get("X-Request-ID")])
    print("ANSWERS " + json.dumps(answers), file=sys.stdout)
    """
)


def run_app(tmp_path: Path, **env: str) -> tuple[list[list], list[dict]]:
    environ = {
        k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_", "DATABASE", "SENTRY"))
    }
    environ.update(
        PORTAL_INSTANCE_PATH=str(tmp_path),
        DATABASE_URL=f"sqlite:///{tmp_path / 'portal.db'}",
        LOG_FORMAT="json",
        **env,
    )
    done = subprocess.run(  # noqa: S603 (the portal itself)
        [sys.executable, "-c", APP],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    answers = json.loads(done.stdout.split("ANSWERS ", 1)[1])
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    return answers, [json.loads(line) for line in lines]  # every line is JSON


class _SentryStandIn(BaseHTTPRequestHandler):
    envelopes: list[bytes] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        encoding = self.headers.get("Content-Encoding")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "br":
            import brotli

            body = brotli.decompress(body)
        type(self).envelopes.append(body)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


def test_json_logs_carry_the_request_id_and_errors_reach_sentry(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SentryStandIn)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        answers, lines = run_app(
            tmp_path, TRUSTED_PROXIES="1", SENTRY_DSN=f"http://publickey@127.0.0.1:{port}/7"
        )
    finally:
        server.shutdown()
        server.server_close()

    (_, ok, given), (_, ok2, made), (_, failed, failed_id), (_, _, untrusted) = answers
    assert (ok, ok2, failed) == (200, 200, 500)
    assert given == "proxy-id-123"  # from the trusted proxy, answered back
    assert made and made != given and len(made) == 32  # made up here
    assert untrusted != "proxy-id-123"  # without TRUSTED_PROXIES anyone could send one
    requests = [line for line in lines if line["logger"] == "portal.request"]
    assert [(r["path"], r["status"], r["request_id"]) for r in requests][:3] == [
        ("/healthz", 200, "proxy-id-123"),
        ("/healthz", 200, made),
        ("/boom", 500, failed_id),
    ]
    assert all(r["level"] == "INFO" and r["duration_ms"] >= 0 for r in requests)
    error = next(line for line in lines if line["level"] == "ERROR")
    assert error["request_id"] == failed_id  # the traceback names its request
    assert "the sky fell on invoice 42" in error["exception"]

    events = []
    for envelope in _SentryStandIn.envelopes:
        for line in envelope.splitlines()[1:]:
            try:
                item = json.loads(line)
            except ValueError:
                continue
            if "exception" in item:
                events.append(item)
    assert events, _SentryStandIn.envelopes
    exceptions = [v for e in events for v in e["exception"]["values"]]
    assert any(v["type"] == "RuntimeError" and "sky fell" in v["value"] for v in exceptions), (
        exceptions
    )
    assert any(e["tags"].get("request_id") == failed_id for e in events)
    assert all(b"very-secret-cookie" not in envelope for envelope in _SentryStandIn.envelopes)
