"""Behind a reverse proxy (TRUSTED_PROXIES), rate limits and recorded addresses name the real
client; without it, an X-Forwarded-For sent by a client changes nothing.

The proxied test runs the app as in production: gunicorn in its own process, configured only
through the environment, behind a small proxy in this process that adds X-Forwarded-For the
way nginx's `$proxy_add_x_forwarded_for` does. Two clients reach the proxy from two loopback
addresses (127.0.0.2 and 127.0.0.3), so the proxy sees two different peers.
"""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlencode

import pytest
from sqlalchemy import select

from portal.config import ConfigError, Settings
from portal.db import db
from portal.models import AuditEvent
from tests.conftest import CSRF_RE, csrf, free_port
from tests.factories import create_admin

ROOT = Path(__file__).resolve().parents[1]
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "host"}


class Proxy:
    """A reverse proxy in front of `backend_port` that appends the peer's address to
    X-Forwarded-For and sets X-Forwarded-Proto, passing the Host header on."""

    def __init__(self, backend_port: int) -> None:
        class Handler(BaseHTTPRequestHandler):
            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                seen = self.headers.get("X-Forwarded-For")
                peer = self.client_address[0]
                headers["X-Forwarded-For"] = f"{seen}, {peer}" if seen else peer
                headers["X-Forwarded-Proto"] = "http"
                upstream = http.client.HTTPConnection("127.0.0.1", backend_port, timeout=30)
                upstream.putrequest(self.command, self.path, skip_host=True)
                upstream.putheader("Host", self.headers.get("Host", ""))
                for name, value in headers.items():
                    upstream.putheader(name, value)
                upstream.endheaders(body)
                answer = upstream.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in HOP_BY_HOP | {"content-length"}:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                upstream.close()

            do_GET = do_POST = _forward

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Browser:
    """A client on its own loopback address, keeping its cookies."""

    def __init__(self, address: str, port: int) -> None:
        self.address, self.port, self.cookies = address, port, SimpleCookie()

    def request(
        self, method: str, path: str, form: dict[str, str] | None = None, **headers: str
    ) -> tuple[int, str]:
        conn = http.client.HTTPConnection(
            "127.0.0.1", self.port, timeout=30, source_address=(self.address, 0)
        )
        sent = {"Accept-Language": "en", **headers}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={m.value}" for k, m in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=sent)
        answer = conn.getresponse()
        for value in answer.headers.get_all("Set-Cookie") or []:
            self.cookies.load(value)
        text = answer.read().decode()
        conn.close()
        return answer.status, text

    def csrf(self, path: str) -> str:
        status, page = self.request("GET", path)
        match = CSRF_RE.search(page)
        assert status == 200 and match, page[:300]
        return match.group(1)


def _wait_for(port: int, process: subprocess.Popen[bytes], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server stopped: {process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
        try:
            http.client.HTTPConnection("127.0.0.1", port, timeout=1).connect()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the server did not start")


@pytest.fixture
def behind_proxy(database_url: str, tmp_path: Path) -> Iterator[int]:
    """gunicorn with TRUSTED_PROXIES=1 behind the proxy; yields the proxy's port."""
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("REDIS_URL", "APP_ENV", "SMTP_URL", "PAYMENT_PROVIDER")
    }
    env.update(
        DATABASE_URL=database_url,
        PORTAL_INSTANCE_PATH=str(tmp_path),
        SECRET_KEY="proxy-test-secret",
        BASE_URL="http://portal.test",
        TRUSTED_PROXIES="1",
    )
    server = subprocess.Popen(  # noqa: S603 (our own server)
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--threads",
            "4",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    proxy = None
    try:
        _wait_for(port, server)
        proxy = Proxy(port)
        yield proxy.port
    finally:
        if proxy is not None:
            proxy.close()
        server.terminate()
        server.wait(10)


@pytest.mark.committed
@pytest.mark.usefixtures("committed")
def test_two_clients_behind_the_proxy_are_limited_separately(behind_proxy: int) -> None:
    create_admin("boss@example.com")
    anna = Browser("127.0.0.2", behind_proxy)
    bert = Browser("127.0.0.3", behind_proxy)
    token = anna.csrf("/login")
    asked = [
        anna.request("POST", "/login", {"email": f"a{i}@example.com", "csrf_token": token})[0]
        for i in range(20)
    ]
    assert asked == [303] * 20
    assert anna.request("POST", "/login", {"email": "x@example.com", "csrf_token": token})[0] == 429
    # a forged X-Forwarded-For is kept, but the proxy adds the address it saw after it
    forged = anna.request(
        "POST",
        "/login",
        {"email": "y@example.com", "csrf_token": token},
        **{"X-Forwarded-For": "198.51.100.7"},
    )
    assert forged[0] == 429
    # Anna used up her own limit, not everyone's
    bert_token = bert.csrf("/login")
    bert_asks = {"email": "bert@example.com", "csrf_token": bert_token}
    assert bert.request("POST", "/login", bert_asks)[0] == 303

    # a recorded address names the client too: the audit line of an admin login attempt
    admin_token = bert.csrf("/admin/login")
    wrong = {"email": "boss@example.com", "password": "not the password", "csrf_token": admin_token}
    assert bert.request("POST", "/admin/login", wrong)[0] == 422
    db.session.remove()
    failed = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "admin.login_failed")
    ).one()
    assert failed.details["ip"] == "127.0.0.3"


def test_without_trusted_proxies_a_clients_forwarded_for_is_ignored(client) -> None:
    """TRUSTED_PROXIES=0 (the default): a client cannot pick a new address per request."""
    token = csrf(client)
    statuses = [
        client.post(
            "/login",
            data={"email": f"c{i}@example.com", "csrf_token": token},
            headers={"X-Forwarded-For": f"203.0.113.{i}"},
        ).status_code
        for i in range(21)
    ]
    assert statuses[:20] == [303] * 20 and statuses[20] == 429


def test_trusted_proxies_is_checked_at_start_up(tmp_path: Path) -> None:
    env = {"PORTAL_INSTANCE_PATH": str(tmp_path)}
    assert Settings.from_env(env).trusted_proxies == 0
    assert Settings.from_env({**env, "TRUSTED_PROXIES": "2"}).trusted_proxies == 2
    for wrong in ("-1", "one", "9", "²"):
        with pytest.raises(ConfigError, match="TRUSTED_PROXIES"):
            Settings.from_env({**env, "TRUSTED_PROXIES": wrong})
