"""`secretary asterisk ...` drives the project's own Asterisk instance."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from secretary.settings import PROJECT_ROOT
from tests.integration.conftest import TEST_PORTS

pytestmark = pytest.mark.integration


def secretary_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SECRETARY_ASTERISK__INSTANCE": "test"}
    env.update({f"SECRETARY_ASTERISK__{k.upper()}": str(v) for k, v in TEST_PORTS.items()})
    return subprocess.run([sys.executable, "-m", "secretary", "asterisk", *args], cwd=PROJECT_ROOT,
                          env=env, capture_output=True, text=True, timeout=60)


def test_status_and_cli_reach_the_running_instance(asterisk_server) -> None:
    status = secretary_cli("status")
    assert status.returncode == 0, status.stderr
    info = json.loads(status.stdout)
    assert info["running"] is True
    assert info["sip"] == f"127.0.0.1:{TEST_PORTS['sip_port']}"
    assert info["asterisk"]["version"].split(".")[0] >= "20"

    endpoints = secretary_cli("cli", "pjsip show endpoints")
    assert "local-callers" in endpoints.stdout
    transports = secretary_cli("cli", "pjsip show transports")
    assert f"127.0.0.1:{TEST_PORTS['sip_port']}" in transports.stdout
    modules = secretary_cli("cli", "module show like res_resolver_unbound")
    assert "0 modules loaded" in modules.stdout  # no outside DNS at call time


def test_asterisk_serves_sip_and_ari_on_loopback_only(asterisk_server) -> None:
    """TCP listeners and the SIP port are loopback. (pjproject's DNS resolver also keeps two
    unconnected UDP client sockets on ephemeral ports; they only talk to 127.0.0.1.)"""
    sockets = subprocess.run(["ss", "-lnptu"], capture_output=True, text=True).stdout
    pid = str(asterisk_server.pid())
    mine = [line.split() for line in sockets.splitlines() if f"pid={pid}," in line]
    served = {fields[4] for fields in mine if fields[0] == "tcp"}
    served |= {f[4] for f in mine if f[4].endswith(f":{TEST_PORTS['sip_port']}")}
    assert f"127.0.0.1:{TEST_PORTS['http_port']}" in served
    assert f"127.0.0.1:{TEST_PORTS['sip_port']}" in served
    for local in served:
        assert local.startswith(("127.", "[::1]")), f"Asterisk serves on {local}"
