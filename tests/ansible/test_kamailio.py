"""The Kamailio front of ansible/roles/kamailio, for real, on loopback.

The role's own templates (kamailio.cfg, dispatcher.list, address.list) are rendered the way
Ansible renders them and run by Debian's `kamailio` in the foreground. Behind it, two Asterisk
instances ("lb1", "lb2") are started by the project's own code (asterisk/server.py), each with
a small ARI application of the test that answers and notes every call reaching its dialplan.
Real SIP calls (baresip) to Kamailio must:

1. be spread over both nodes (round robin), each one arriving from Kamailio's address;
2. all be answered by the surviving node while the other Asterisk is stopped (the failure
   route: no answer in time -> next node, the dead one marked down), and reach the restarted
   node again once it answers Kamailio's OPTIONS (dispatcher probing);
3. be refused with 403 when they come from an address that is not in address.list.

Instance "test" of the integration tests is never touched: own instance names and ports.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import numpy as np
import pytest
import yaml

from ari_app.client import CONNECTED, AriClient, AriConfig, AriError
from asterisk.server import AsteriskServer
from secretary.cli import build_server
from secretary.settings import PROJECT_ROOT, Settings
from tests.sip_caller import BaresipPhone, write_wav

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

ROLE = PROJECT_ROOT / "ansible" / "roles" / "kamailio"
NODE_PORTS = {
    "lb1": {"sip_port": 25061, "http_port": 28081, "rtp_start": 26000, "rtp_end": 26499},
    "lb2": {"sip_port": 25062, "http_port": 28082, "rtp_start": 26500, "rtp_end": 26999},
}
# Shorter than the role's defaults so that a dead node costs the test seconds, not minutes.
NODE_TIMEOUT_MS = 2000
PING_INTERVAL_S = 1
CALLS = 6
STRANGER = "127.0.0.2"  # loopback too, but not in address.list (127.0.0.1/32)


def _log(msg: str) -> None:
    print(f"[kamailio-test {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _node_settings(name: str) -> Settings:
    return Settings(asterisk={"instance": name, **NODE_PORTS[name]})


def _free_udp_and_tcp_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 (kamailio.cfg listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no port free for both UDP and TCP")


def render_role(config_dir: Path, port: int, nodes: list[str]) -> dict[str, str]:
    """The role's three templates with the variables the role defines, as Ansible renders
    them (its template module trims blocks)."""
    variables = {
        "ansible_managed": "rendered by tests/ansible/test_kamailio.py",
        "kamailio_listen_address": "127.0.0.1",
        "kamailio_port": port,
        "kamailio_nodes": nodes,
        "kamailio_algorithm": 4,  # the role's default, round robin
        "kamailio_ping_interval": PING_INTERVAL_S,
        "kamailio_node_timeout_ms": NODE_TIMEOUT_MS,
        # the callers' 127.0.0.1 plus the other forms a trunk list has (IPv6, a bare address)
        "kamailio_trunk_cidrs": ["127.0.0.1/32", "2001:db8::/32", "198.51.100.7"],
        "kamailio_config_dir": str(config_dir),
    }
    # The names must be the role's own, or this test would exercise a template the role
    # never renders.
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    assert set(variables) - {"ansible_managed"} <= set(defaults), set(variables) - set(defaults)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(ROLE / "templates")),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        keep_trailing_newline=True,
    )
    files = {}
    for name in ("kamailio.cfg", "dispatcher.list", "address.list"):
        files[name] = env.get_template(f"{name}.j2").render(variables)
        (config_dir / name).write_text(files[name])
    return files


def sip_request(method: str, port: int, source: str = "127.0.0.1",
                timeout_s: float = 3.0) -> list[str]:
    """Send one SIP request over UDP from `source` to Kamailio; return the replies (whole
    messages), up to the first final one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        sock.settimeout(timeout_s)
        local = f"{source}:{sock.getsockname()[1]}"
        request = (
            f"{method} sip:100@127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {local};branch=z9hG4bK{uuid.uuid4().hex};rport\r\n"
            "Max-Forwards: 70\r\n"
            f"From: <sip:stranger@{source}>;tag={uuid.uuid4().hex[:8]}\r\n"
            "To: <sip:100@127.0.0.1>\r\n"
            f"Call-ID: {uuid.uuid4().hex}@{source}\r\n"
            f"CSeq: 1 {method}\r\n"
            f"Contact: <sip:stranger@{local}>\r\n"
            "Content-Length: 0\r\n\r\n"
        )
        sock.sendto(request.encode(), ("127.0.0.1", port))
        replies: list[str] = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                data = sock.recv(65535).decode(errors="replace")
            except (TimeoutError, ConnectionRefusedError):
                break
            replies.append(data)
            if int(data.split(maxsplit=2)[1]) >= 200:
                break
        return replies


@dataclass
class Kamailio:
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    config: dict[str, str]

    @property
    def target(self) -> str:
        return f"sip:100@127.0.0.1:{self.port}"

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def assert_alive(self) -> None:
        assert self.process.poll() is None, f"kamailio exited:\n{self.log_text()[-3000:]}"


@pytest.fixture(scope="module")
def nodes() -> Iterator[dict[str, AsteriskServer]]:
    servers: dict[str, AsteriskServer] = {}
    started = time.monotonic()
    try:
        for name in NODE_PORTS:
            servers[name] = build_server(_node_settings(name))
            servers[name].stop()  # a leftover from an interrupted run
            servers[name].start()
        _log(f"Asterisk lb1 and lb2 up in {time.monotonic() - started:.1f} s")
        yield servers
    finally:
        for server in servers.values():
            server.stop()


@pytest.fixture(scope="module")
def kamailio(nodes: dict[str, AsteriskServer],
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kamailio]:
    binary = shutil.which("kamailio") or "/usr/sbin/kamailio"
    assert Path(binary).exists(), "kamailio is not installed (scripts/bootstrap.sh installs it)"
    work = tmp_path_factory.mktemp("kamailio")
    port = _free_udp_and_tcp_port()
    config = render_role(work, port, [f"sip:127.0.0.1:{NODE_PORTS[n]['sip_port']}"
                                      for n in NODE_PORTS])
    # Everything Kamailio writes (pid file, runtime dir) stays in the test's directory.
    base = [binary, "-f", str(work / "kamailio.cfg"), "-Y", str(work), "-w", str(work)]
    check = subprocess.run([*base, "-c"], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "config file ok" in check.stdout + check.stderr
    log_path = work / "kamailio.log"
    # -DD: the main process stays in the foreground (children still forked), -E: log to
    # stderr; its own session so that teardown can stop the whole group.
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [*base, "-DD", "-E", "-P", str(work / "kamailio.pid"), "-m", "64", "-M", "8"],
            stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    front = Kamailio(port, process, log_path, config)
    try:
        deadline = time.monotonic() + 15
        while not any(r.startswith("SIP/2.0 200") for r in sip_request("OPTIONS", port,
                                                                          timeout_s=0.5)):
            front.assert_alive()
            assert time.monotonic() < deadline, f"no answer to OPTIONS:\n{front.log_text()}"
        # `kamailio -c` only parses: a wrong pseudo-variable or list file shows when the
        # modules start, as ERROR lines (and a Kamailio that still runs).
        assert " ERROR: " not in front.log_text(), front.log_text()
        yield front
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)


@dataclass
class Node:
    """One Asterisk as its own ARI application sees it."""

    name: str
    calls: list[str] = field(default_factory=list)  # each call's SIP peer (address:port)
    record_routes: list[str] = field(default_factory=list)  # each INVITE's Record-Route
    connections: int = 0
    errors: list[BaseException] = field(default_factory=list)


async def _answer_calls(node: Node, config: AriConfig) -> None:
    """Answer every call that reaches the node's dialplan (Stasis) and note where its
    INVITE came from."""
    async with AriClient(config) as client:
        async for event in client.events():
            try:
                if event["type"] == CONNECTED:
                    node.connections += 1
                elif event["type"] == "StasisStart":
                    channel = event["channel"]["id"]
                    path = f"/channels/{channel}/variable"
                    route = await client.request(
                        "GET", path, {"variable": "PJSIP_HEADER(read,Record-Route)"})
                    node.record_routes.append(route["value"])
                    peer = await client.request("GET", path,
                                                {"variable": "CHANNEL(pjsip,remote_addr)"})
                    node.calls.append(peer["value"])
                    await client.answer(channel)
            except (AriError, OSError, TimeoutError) as exc:
                # The caller may hang up first; a real failure shows as a missing call.
                node.errors.append(exc)


@contextlib.asynccontextmanager
async def answering(nodes: dict[str, AsteriskServer]) -> AsyncIterator[dict[str, Node]]:
    seen = {name: Node(name) for name in nodes}
    tasks = []
    for name, server in nodes.items():
        settings = _node_settings(name)
        config = AriConfig(server.ari_base_url, settings.ari.username,
                           settings.ari.password.get_secret_value(), settings.ari.app,
                           reconnect_initial_s=0.2, reconnect_max_s=0.5)
        tasks.append(asyncio.create_task(_answer_calls(seen[name], config)))
    try:
        await wait_for(lambda: all(n.connections for n in seen.values()), 10,
                       "the test's ARI application never connected")
        yield seen
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def wait_for(predicate, timeout_s: float, message: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, message
        await asyncio.sleep(0.05)


@pytest.fixture
def silence(tmp_path: Path) -> Path:
    return write_wav(tmp_path / "silence.wav", np.zeros(8000 * 10))


async def call(kamailio: Kamailio, seen: dict[str, Node], workdir: Path,
               silence: Path) -> tuple[str, float]:
    """One real call through Kamailio: dial, wait until answered, hang up. Returns the node
    that answered it and how long the answer took."""
    before = {name: len(n.calls) for name, n in seen.items()}
    started = time.monotonic()
    async with BaresipPhone(workdir, silence) as phone:
        try:
            await phone.dial(kamailio.target, answer_timeout_s=15)
        except Exception as exc:
            raise AssertionError(f"{exc}\nthe test's ARI errors: "
                                 f"{[n.errors for n in seen.values()]}\nbaresip:\n"
                                 f"{phone.log_tail()}\nkamailio:\n"
                                 f"{kamailio.log_text()[-3000:]}") from exc
        took = time.monotonic() - started
        await phone.hang_up()
    answered_by = [name for name, n in seen.items() if len(n.calls) > before[name]]
    assert len(answered_by) == 1, (f"answered by {answered_by}; the test's ARI errors: "
                                   f"{[n.errors for n in seen.values()]}")
    return answered_by[0], took


async def test_calls_are_spread_over_both_nodes(kamailio: Kamailio,
                                                nodes: dict[str, AsteriskServer],
                                                tmp_path: Path, silence: Path) -> None:
    started = time.monotonic()
    async with answering(nodes) as seen:
        order = [(await call(kamailio, seen, tmp_path / f"call{i}", silence))[0]
                 for i in range(CALLS)]
    _log(f"{CALLS} calls in {time.monotonic() - started:.1f} s, answered by {order}")
    kamailio.assert_alive()
    # Round robin: every node takes every other call.
    assert order.count("lb1") == order.count("lb2") == CALLS // 2, order
    assert all(a != b for a, b in itertools.pairwise(order)), order
    # Each call reached its node from Kamailio's address, not straight from the caller.
    for node in seen.values():
        assert node.calls == [f"127.0.0.1:{kamailio.port}"] * (CALLS // 2), node.calls
    # Kamailio stays in the dialogs (Record-Route), so the BYEs pass it too; every call
    # then ended on its node.
    for node in seen.values():
        assert all(f"127.0.0.1:{kamailio.port};lr" in r for r in node.record_routes), \
            node.record_routes
    for name, server in nodes.items():
        await wait_for(lambda s=server: json.loads(s.ari_get("/channels")) == [], 5,
                       f"{name} still has channels after every caller hung up")


async def test_a_caller_outside_address_list_is_refused(kamailio: Kamailio,
                                                        nodes: dict[str, AsteriskServer]
                                                        ) -> None:
    # The permissions module's own format: the netmask is a field of its own.
    lines = [ln for ln in kamailio.config["address.list"].splitlines() if not ln.startswith("#")]
    assert lines == ["1 127.0.0.1 32 0", "1 [2001:db8::] 32 0", "1 198.51.100.7 32 0"], lines
    async with answering(nodes) as seen:
        replies = sip_request("INVITE", kamailio.port, source=STRANGER)
        assert replies and replies[-1].startswith("SIP/2.0 403 Forbidden"), replies
        assert "Server: AI Secretary front" in replies[-1], replies[-1]  # Kamailio said it
        # The other tests call from 127.0.0.1 and are answered: the source was refused.
        await asyncio.sleep(0.5)
        assert not any(n.calls for n in seen.values()), "a refused call reached a node"
    kamailio.assert_alive()


async def test_calls_fail_over_to_the_live_node_and_come_back(
    kamailio: Kamailio, nodes: dict[str, AsteriskServer], tmp_path: Path, silence: Path
) -> None:
    dead = "lb2"
    dead_uri = f"sip:127.0.0.1:{NODE_PORTS[dead]['sip_port']}"
    try:
        async with answering(nodes) as seen:
            nodes[dead].stop()
            started = time.monotonic()
            results = [await call(kamailio, seen, tmp_path / f"down{i}", silence)
                       for i in range(4)]
            _log(f"{dead} down: {len(results)} calls in {time.monotonic() - started:.1f} s, "
                 f"answered by {[n for n, _ in results]}, answer times "
                 f"{[round(t, 2) for _, t in results]} s")
            assert [n for n, _ in results] == ["lb1"] * len(results), results
            # Round robin sent one of the first calls to the dead node; it timed out there
            # and went on to lb1, and the node was marked down: no call tried it again.
            # (Unless an OPTIONS ping found it dead first: then no call tried it at all.)
            # How long each call took is logged above, not asserted: a busy machine is slow.
            tried_dead = kamailio.log_text().count(f"node {dead_uri} failed")
            assert tried_dead <= 1, kamailio.log_text()[-3000:]

            # Back up: once it answers OPTIONS again (every PING_INTERVAL_S), it gets calls.
            connections = seen[dead].connections
            nodes[dead].start()
            back = time.monotonic()
            await wait_for(lambda: seen[dead].connections > connections, 10,
                           "the test's ARI application did not reconnect to the restarted node")
            again: list[str] = []
            while dead not in again:
                assert time.monotonic() - back < 20, f"{dead} got no call after restart: {again}"
                again.append((await call(kamailio, seen, tmp_path / f"up{len(again)}",
                                         silence))[0])
            _log(f"{dead} took a call again {time.monotonic() - back:.1f} s after its "
                 f"restart (calls: {again})")
    finally:
        if not nodes[dead].is_running():
            nodes[dead].start()
    kamailio.assert_alive()
