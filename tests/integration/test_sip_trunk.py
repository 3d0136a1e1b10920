"""A SIP trunk (Twilio Elastic SIP Trunking's shape) through the real Asterisk: the rendered
config loads, calls "from Twilio" (baresip on a second loopback address, 127.0.0.2) reach the
secretary with the dialled number, bad calls are refused with SIP errors while the next call
still works, TLS + SRTP carries a call, and calls out leave through the trunk showing our
number.

For this module the instance "test" runs a config of its own: trusted_networks narrowed to
an address nobody uses, so the trunks own 127.0.0.1 (TLS: baresip's TCP connections come
from 127.0.0.1 whatever it binds) and 127.0.0.2. The session's config is back afterwards.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from asterisk.server import AsteriskServer
from secretary.caller.baresip import read_dump, write_wav
from secretary.cli import build_server
from secretary.settings import Settings
from tests.integration.conftest import TEST_PORTS, TEST_STAFF, Secretary
from tests.integration.operator_phone import OperatorPhone
from tests.integration.test_phone_call import after_greeting, caller_signal, greeting_8k
from tests.signal_analysis import band_fraction, share_found
from tests.sip_caller import SipCaller

pytestmark = pytest.mark.integration

TRUNK_IP = "127.0.0.2"  # "Twilio's" signalling address (Linux answers on all of 127/8)
DID = "+15550001111"  # the number the trunk delivers to us
CALLER = "+15557654321"  # the caller out on the phone network
FAR_END = "+15552223333"  # a number the secretary dials out to
FAR_END_PORT = 15090  # where "Twilio's termination URI" listens, on TRUNK_IP
TLS_PORT = 15061
SIP = f"127.0.0.1:{TEST_PORTS['sip_port']}"
# A trunk's config problem shows as an error naming its file or pjsip's config code; the
# instance's other noise (modules without a config file) does not.
CONFIG_ERROR = re.compile(
    r"(ERROR|WARNING)\[.*(pjsip\.conf|extensions\.conf|res_pjsip/|aco_process_var|pbx_config)")


def trunk_settings(etc_dir: str) -> Settings:
    keys = f"{etc_dir}/keys"
    return Settings(asterisk={
        "instance": "test", "staff": TEST_STAFF, **TEST_PORTS,
        "trusted_networks": ["127.0.0.99/32"],
        "trunks": [
            {"name": "twilio", "identify_cidrs": [f"{TRUNK_IP}/32"], "dids": [DID],
             "codecs": ["ulaw"], "host": TRUNK_IP, "host_port": FAR_END_PORT,
             "username": "acme", "password": "trunk-secret", "outbound_caller_id": DID},
            {"name": "secure", "provider": "twilio-secure", "identify_cidrs": ["127.0.0.1/32"],
             "transport": "tls", "port": TLS_PORT, "tls_cert_file": f"{keys}/cert.pem",
             "tls_key_file": f"{keys}/key.pem", "media_encryption": "sdes",
             "codecs": ["ulaw"]},
        ]})


def make_certificate(directory: Path) -> None:
    """A self-signed certificate for the TLS transport (baresip does not verify it)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make the TLS transport's certificate")
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-keyout", str(directory / "key.pem"),
         "-out", str(directory / "cert.pem")],
        check=True, capture_output=True)


@pytest.fixture(scope="module")
def trunk_asterisk(asterisk_server: AsteriskServer) -> Iterator[tuple[AsteriskServer, str]]:
    """The instance "test" restarted with the trunks; yields it and its console log since."""
    server = build_server(trunk_settings(asterisk_server.dirs.etc))
    make_certificate(server.install.host_path(f"{server.dirs.etc}/keys"))
    asterisk_server.stop()
    log_start = server.console_log.stat().st_size if server.console_log.exists() else 0
    try:
        server.start()
        time.sleep(0.5)  # let the modules' last lines reach the log
        with server.console_log.open("rb") as log:
            log.seek(log_start)
            console = log.read().decode(errors="replace")
        yield server, console
    finally:
        server.stop()
        asterisk_server.start()


class TrunkCaller(SipCaller):
    """A baresip caller whose SIP leaves from `source_ip` (the trunk's address), with its own
    account line (codecs, transport, media encryption)."""

    def __init__(self, workdir: Path, speak_wav: Path, target: str, *, seconds: float,
                 source_ip: str = TRUNK_IP, account: str = "audio_codecs=PCMU",
                 modules: tuple[str, ...] = ()) -> None:
        super().__init__(workdir, speak_wav, target, user=CALLER, seconds=seconds,
                         local_ip=source_ip, account_params=account,
                         transport="tls" if "tls" in target else None,
                         extra_modules=modules)

    def log(self) -> str:
        return (self.workdir / "baresip.log").read_text(errors="replace").replace("\r", "\n")

    def closed_with(self) -> str:
        """The SIP status the call ended with, as baresip reported it ("" if none)."""
        found = re.findall(r"session closed: (\d{3} [^\n]*)", self.log())
        return found[-1].strip() if found else ""


async def call(tmp_path: Path, name: str, target: str, seconds: float = 9,
               **options: object) -> TrunkCaller:
    speak = caller_signal(tmp_path / f"{name}.wav", 600, seconds + 2)
    caller = TrunkCaller(tmp_path / name, speak, target, seconds=seconds, **options)
    await caller.start()
    await caller.wait()
    return caller


def assert_reached_the_secretary(caller: TrunkCaller, secretary: Secretary, line: str) -> None:
    heard, _ = caller.heard()
    echo = after_greeting(heard, greeting_8k(secretary))
    assert len(echo) > 8000, "call too short to hear the echo"
    assert band_fraction(echo, 8000, 600) > 0.8, "the caller did not hear itself back"
    log = secretary.log_text()
    assert f"args=['trunk', '{line}', '{DID}'] line={line} dialled='{DID}'" in log, log[-3000:]
    assert f"from '{CALLER}' (PJSIP/{line}-" in log, log[-3000:]


def test_the_rendered_trunks_load(trunk_asterisk: tuple[AsteriskServer, str]) -> None:
    server, console = trunk_asterisk
    assert [line for line in console.splitlines() if CONFIG_ERROR.search(line)] == []
    endpoints = server.cli("pjsip show endpoints")
    assert re.search(r"Endpoint:\s+twilio\s", endpoints), endpoints
    assert re.search(r"Match:\s+127\.0\.0\.2/32", endpoints), endpoints
    assert re.search(r"OutAuth:\s+twilio-auth/acme", endpoints), endpoints
    assert re.search(r"Endpoint:\s+secure\s", endpoints), endpoints
    transports = server.cli("pjsip show transports")
    assert re.search(rf"transport-secure\s+tls\s.*127\.0\.0\.1:{TLS_PORT}", transports)
    dialplan = server.cli("dialplan show secretary-trunk-twilio")
    assert f"'{DID}'" in dialplan and "Stasis(secretary,trunk,twilio,${EXTEN})" in dialplan


async def test_a_trunk_call_reaches_the_secretary_with_the_dialled_number(
        trunk_asterisk: tuple[AsteriskServer, str], secretary: Secretary,
        tmp_path: Path) -> None:
    caller = await call(tmp_path, "caller", f"sip:{DID}@{SIP}")
    assert_reached_the_secretary(caller, secretary, "twilio")


async def test_bad_trunk_calls_are_refused_and_the_next_one_works(
        trunk_asterisk: tuple[AsteriskServer, str], secretary: Secretary,
        tmp_path: Path) -> None:
    # G.722 only, on a trunk that carries µ-law: nothing to agree on.
    g722 = await call(tmp_path, "g722", f"sip:{DID}@{SIP}", seconds=4,
                      account="audio_codecs=G722/16000/1", modules=("g722.so",))
    assert g722.closed_with() == "488 Not Acceptable Here", g722.log()[-2000:]
    assert not list((tmp_path / "g722").glob("dump-*-dec.wav"))  # no media ever flowed

    # A number the trunk does not deliver to us.
    stranger = await call(tmp_path, "stranger", f"sip:+15559999999@{SIP}", seconds=4)
    assert stranger.closed_with() == "404 Not Found", stranger.log()[-2000:]

    # Neither reached the app; the next good call does, whole.
    assert " args=" not in secretary.log_text()
    good = await call(tmp_path, "good", f"sip:{DID}@{SIP}")
    assert_reached_the_secretary(good, secretary, "twilio")


async def test_tls_and_srtp_carry_a_trunk_call(
        trunk_asterisk: tuple[AsteriskServer, str], secretary: Secretary,
        tmp_path: Path) -> None:
    target = f"sip:{DID}@127.0.0.1:{TLS_PORT};transport=tls"
    # Plain RTP offered where the trunk requires SRTP: refused, not downgraded.
    plain = await call(tmp_path, "plain", target, seconds=4, source_ip="127.0.0.1")
    assert plain.closed_with() == "488 Not Acceptable Here", plain.log()[-2000:]

    caller = await call(tmp_path, "srtp", target, source_ip="127.0.0.1",
                        account="mediaenc=srtp-mand;audio_codecs=PCMU", modules=("srtp.so",))
    # The trunk takes nothing but SRTP (the call above): this one was encrypted end to end.
    assert "starting mediaenc 'srtp-mand'" in caller.log()
    assert_reached_the_secretary(caller, secretary, "secure")


class FarEnd(OperatorPhone):
    """A phone out on the "phone network": baresip answering at TRUNK_IP:FAR_END_PORT as
    FAR_END, logging who called."""

    def __init__(self, workdir: Path) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        silence = write_wav(workdir / "silence.wav", np.zeros(8000 * 10))
        super().__init__(workdir, silence, FAR_END_PORT, user=FAR_END, local_ip=TRUNK_IP)

    def log(self) -> str:
        return (self.workdir / "baresip.log").read_text(errors="replace").replace("\r", "\n")

    async def established_calls(self, count: int, within_s: float = 10.0) -> list[str]:
        """The callers of the first `count` answered calls (waits for them)."""
        deadline = time.monotonic() + within_s
        while True:
            found = re.findall(r"Call established: (sip:\S+)", self.log())
            if len(found) >= count or time.monotonic() > deadline:
                return found
            await asyncio.sleep(0.2)


async def test_calls_out_leave_through_the_trunk_showing_our_number(
        trunk_asterisk: tuple[AsteriskServer, str], secretary: Secretary, ari,
        tmp_path: Path) -> None:
    server, _ = trunk_asterisk
    async with FarEnd(tmp_path / "far") as far:
        # A transfer: ARI originates to PJSIP/<number>@twilio with the caller's own number,
        # which the trunk would refuse; our number goes out instead.
        await ari.originate("trunk-test-transfer", f"PJSIP/{FAR_END}@twilio",
                            app_args="transfer", caller_id=CALLER, timeout_s=5)
        first = await far.established_calls(1)
        assert first and first[0].startswith(f"sip:{DID}@"), far.log()[-3000:]
        # A callback: the dialplan's outbound context rings the number, and whoever answers
        # talks to the secretary (extension 100).
        server.cli(f"channel originate Local/{FAR_END}@secretary-outbound-twilio "
                   f"extension {secretary.settings.asterisk.extension}@secretary-inbound")
        both = await far.established_calls(2)
        assert len(both) == 2 and both[1].startswith(f"sip:{DID}@"), far.log()[-3000:]
        await asyncio.sleep(6)  # the greeting (3.7 s) and a little echo
    assert CALLER not in far.log()
    dumps = sorted((tmp_path / "far").glob("dump-*-dec.wav"))
    heard, _ = read_dump(dumps[-1])
    # Every eighth of the greeting but one (a packet lost on a busy machine) must be there.
    share = share_found(heard, greeting_8k(secretary))
    assert share >= 7 / 8, f"the called-back phone heard {share:.0%} of the greeting"
