"""The unit files and the container files run the tested start script, nothing else: a
deployment that starts another way would not be the one tests/ops/test_deployment.py
boots. (No container runtime here: these files are checked, not run.)"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = "scripts/start-production.sh"


def test_systemd_units_start_web_and_worker_through_the_script():
    units = ROOT / "deploy" / "systemd"
    for role in ("web", "worker"):
        text = (units / f"betaalportaal-{role}.service").read_text()
        (start,) = re.findall(r"^ExecStart=(.*)$", text, re.M)
        assert start == f"/opt/betaalportaal/{SCRIPT} {role}"
        assert re.search(r"^User=betaalportaal$", text, re.M)  # not root


def test_the_image_and_compose_run_the_script_as_a_user_with_weasyprints_libraries():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert f'ENTRYPOINT ["/opt/betaalportaal/{SCRIPT}"]' in dockerfile
    assert re.search(r"^USER betaalportaal$", dockerfile, re.M)
    needed = re.search(r"need\+=\(([^)]*)\)", (ROOT / "scripts/system-deps.sh").read_text())
    assert needed
    for package in needed.group(1).split():  # what WeasyPrint needs on Debian
        assert package in dockerfile
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert services["web"]["command"] == ["web"]
    assert services["worker"]["command"] == ["worker"]
    assert {"postgres", "redis", "proxy"} <= set(services)
    assert services["web"]["environment"]["TRUSTED_PROXIES"] == "1"
