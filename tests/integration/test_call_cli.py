"""`secretary call` against a real secretary: a two-line conversation over a real SIP call.

The secretary runs in parrot mode (it says back "You said: ..."), so every reply is known.
The conversation goes once through the Python API the command uses and once through the
command itself; either way both replies must be heard and transcribed, latencies measured
on the caller's clock, and the second line said only after the first reply had ended.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from secretary.caller import CallerSpeech, CallPlan, Line, analysis, place_call
from secretary.caller.baresip import RATE, read_dump
from secretary.settings import PROJECT_ROOT, Settings
from tests.integration.conftest import Secretary, start_secretary, stop_secretary

pytestmark = pytest.mark.integration

FIRST = "Can I speak to the manager?"
SECOND = "Please call me back tomorrow."


def words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


@pytest.fixture(scope="module")
def parrot(asterisk_server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Secretary]:
    running = start_secretary(tmp_path_factory.mktemp("parrot"),
                              extra_env={"SECRETARY_CALL__MODE": "parrot"})
    yield running
    stop_secretary(running)
    assert "Traceback" not in running.log_text(), running.log_text()[-4000:]


@pytest.fixture(scope="module")
def caller_speech() -> Iterator[CallerSpeech]:
    kit = CallerSpeech.from_settings(Settings())
    yield kit
    kit.close()


def assert_parrot_answered(turns: list[dict], log: str) -> None:
    """`turns` as in the JSON report: the greeting and two lines, each said back."""
    assert [t["turn"] for t in turns] == [0, 1, 2]
    greeting, first, second = turns
    assert greeting["latency_ms"] is not None and greeting["latency_ms"] >= 0
    for turn, line in ((first, FIRST), (second, SECOND)):
        assert turn["said"] == line
        heard = words(turn["reply"])
        assert {"you", "said"} <= heard, turn
        missing = words(line) - heard
        assert len(missing) <= 1, f"reply {turn['reply']!r} lacks {missing}"
        assert turn["latency_ms"] is not None and turn["latency_ms"] > 0, turn
    # the harness did not talk over the first reply ...
    assert first["reply_s"][1] <= second["speech_s"][0], (first, second)
    # ... which the secretary would have taken as a barge-in
    assert "barge-in" not in log
    assert log.count("heard (en)") >= 2


async def test_two_line_call_through_the_python_api(parrot: Secretary,
                                                    caller_speech: CallerSpeech,
                                                    tmp_path: Path) -> None:
    log_start = len(parrot.log_text())
    caller_id = f"caller-{secrets.token_hex(4)}"
    plan = CallPlan(parrot.target, caller_id=caller_id, timeout_s=60, quiet_s=1.0,
                    keep_dir=tmp_path / "caller")
    report = await place_call(parrot.settings, [Line(FIRST), Line(SECOND)], plan,
                              caller_speech)
    assert report.error is None, report.error
    assert report.ended_by == "caller"
    assert_parrot_answered([t.to_json() for t in report.turns], parrot.log_text()[log_start:])
    if report.call is not None:  # the secretary keeps a database of calls
        assert report.call.caller == caller_id
    else:
        assert report.call_lookup

    # Checked again on the caller's raw recordings: while the second line went out, the
    # caller heard nothing (the first reply was over), and the second reply came after it.
    folder = tmp_path / "caller" / "baresip"
    [sent_path], [heard_path] = folder.glob("dump-*-enc.wav"), folder.glob("dump-*-dec.wav")
    sent, heard = read_dump(sent_path)[0], read_dump(heard_path)[0]
    second = report.turns[2]
    line = analysis.utterance(sent, RATE, report.turns[1].speech.end_s + 0.5)
    assert line is not None and abs(line.start_s - second.speech.start_s) < 0.05
    # The heard recording starts a little later than the sent one: allow for that here.
    during = heard[int((line.start_s - 0.3) * RATE): int(line.end_s * RATE)]
    assert not analysis.activity(during, RATE, noise=analysis.noise_level(heard, RATE)).any()
    assert np.abs(heard[int(second.reply.start_s * RATE):]).max() > 1000


def test_two_line_call_through_the_command(parrot: Secretary, tmp_path: Path) -> None:
    log_start = len(parrot.log_text())
    caller_id = f"caller-{secrets.token_hex(4)}"
    env = {**os.environ, "SECRETARY_CALLS_LOG_DIR": str(parrot.calls_log_dir)}
    done = subprocess.run(
        [sys.executable, "-m", "secretary", "call", FIRST, SECOND, "--json",
         "--target", parrot.target, "--caller-id", caller_id, "--timeout", "60",
         "--quiet", "1.0",
         "--keep", str(tmp_path / "caller")],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=150)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["caller_id"] == caller_id and report["ended_by"] == "caller"
    assert_parrot_answered(report["turns"], parrot.log_text()[log_start:])
    assert report["recordings"]
    assert report["caller_recordings"] == str((tmp_path / "caller").resolve())


def test_the_command_says_so_when_nobody_answers(parrot: Secretary) -> None:
    """An extension the dialplan rejects: the call is refused before it is answered."""
    a = parrot.settings.asterisk
    done = subprocess.run(
        [sys.executable, "-m", "secretary", "call", FIRST,
         "--target", f"sip:999@{a.bind_address}:{a.sip_port}"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "did not take the call" in done.stderr, done.stderr[-2000:]
    assert done.stdout == ""
