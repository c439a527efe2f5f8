"""A production deployment on this machine, started the way the units and the container
do it: scripts/start-production.sh web|worker, with APP_ENV=production.

PostgreSQL and Redis when the tests run on PostgreSQL (a database of its own on that
server, a queue name of its own in Redis); a SQLite file and the SQLite queue otherwise.
Mail goes to the test SMTP server, Mollie is the stand-in of tests/payments/stubs.py.
Requests go straight to gunicorn as the reverse proxy would send them: Host, X-Forwarded-
For and X-Forwarded-Proto (TRUSTED_PROXIES=1).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from contextlib import suppress
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import redis
import requests

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "start-production.sh"
HOST = "portal.example.com"
BASE_URL = f"https://{HOST}"
REDIS_URL = "redis://127.0.0.1:6379/0"


@dataclass
class Web:
    """One gunicorn started by the script, and a way to talk to it like its proxy."""

    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Browser:
    """A person's browser behind the proxy: cookies kept by hand (they are Secure, and
    between the proxy and gunicorn the scheme is http), redirects followed by hand."""

    web: Web
    cookies: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, path: str, **kw: Any) -> requests.Response:
        headers = {
            "Host": HOST,
            "X-Forwarded-Proto": "https",
            "X-Forwarded-For": "203.0.113.7",
            "Referer": f"{BASE_URL}{path}",
            "Accept-Language": "en",
            **kw.pop("headers", {}),
        }
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        response = requests.request(
            method, self.web.url + path, headers=headers, allow_redirects=False, timeout=30, **kw
        )
        for raw in response.raw.headers.getlist("Set-Cookie"):
            cookie: SimpleCookie = SimpleCookie()
            cookie.load(raw)
            for name, morsel in cookie.items():
                self.cookies[name] = morsel.value
        return response

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> requests.Response:
        return self.request("POST", path, **kw)

    def follow(self, response: requests.Response) -> requests.Response:
        while response.status_code in (301, 302, 303):
            response = self.get(urlsplit(response.headers["Location"]).path)
        return response


class Deployment:
    """Processes started with the production script, all stopped (by their own process
    group, started here) when the deployment ends."""

    def __init__(self, folder: Path, env: dict[str, str]) -> None:
        self.folder = folder
        self.env = env
        self.processes: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []

    def start(self, role: str, **extra: str) -> subprocess.Popen[bytes]:
        log = self.folder / f"{role}-{len(self.processes)}.log"
        self.logs.append(log)
        env = {**self.env, **extra}
        process = subprocess.Popen(  # noqa: S603 (our own start script)
            ["/bin/bash", str(SCRIPT), role],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: gunicorn's workers stop with it
        )
        self.processes.append(process)
        return process

    def web(self, **extra: str) -> Web:
        port = free_port()
        return Web(port, self.start("web", BIND=f"127.0.0.1:{port}", **extra))

    def wait_until_up(self, web: Web, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if web.process.poll() is not None:
                raise AssertionError(f"web server stopped:\n{self.tail()}")
            with suppress(requests.RequestException):
                if requests.get(web.url + "/healthz", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        raise AssertionError(f"web server not up in {timeout}s:\n{self.tail()}")

    def tail(self, lines: int = 40) -> str:
        out = []
        for log in self.logs:
            text = log.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {log.name}\n" + "\n".join(text))
        return "\n".join(out)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                with suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


def base_env(folder: Path, database_url: str, smtp_port: int, mollie_url: str) -> dict[str, str]:
    """The production environment of the deployment (README, "Configuration")."""
    from tests.payments.stubs import MOLLIE_KEY

    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(
        APP_ENV="production",
        SECRET_KEY=uuid.uuid4().hex * 2,
        BASE_URL=BASE_URL,
        DATABASE_URL=database_url,
        SMTP_URL=f"smtp://127.0.0.1:{smtp_port}",
        MAIL_FROM="Betaalportaal <noreply@portal.example.com>",
        PAYMENT_PROVIDER="mollie",
        MOLLIE_API_KEY=MOLLIE_KEY,
        MOLLIE_API_URL=mollie_url,
        TRUSTED_PROXIES="1",
        PORTAL_INSTANCE_PATH=str(folder / "instance"),
        QUEUE_NAME=f"bp-test-{uuid.uuid4().hex[:10]}",
        WEB_CONCURRENCY="2",
        LOG_FORMAT="json",
    )
    return env


def forget_queue(name: str) -> None:
    """Remove what a deployment left in Redis under its queue name."""
    conn = redis.Redis.from_url(REDIS_URL)
    for key in conn.scan_iter(match=f"*{name}*"):
        conn.delete(key)
    conn.close()
