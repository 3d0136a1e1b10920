"""Call recording: WAVs valid after every write and after SIGKILL of the writer."""

import errno
import os
import signal
import struct
import subprocess
import sys
import time
import wave
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from media.recorder import CallRecorder, WavWriter

REPO = Path(__file__).resolve().parents[2]


def header_sizes(path):
    with open(path, "rb") as f:
        head = f.read(44)
    return struct.unpack_from("<I", head, 4)[0], struct.unpack_from("<I", head, 40)[0]


def test_valid_after_every_write(tmp_path):
    path = tmp_path / "a.wav"
    rng = np.random.default_rng(0)
    written = b""
    with WavWriter(path, 8000) as w:
        with wave.open(str(path)) as r:
            assert r.getnframes() == 0
        for n in (160, 1, 333, 160):
            chunk = rng.integers(-32768, 32767, n, dtype=np.int16).tobytes()
            w.write(chunk)
            written += chunk
            with wave.open(str(path)) as r:
                assert (r.getnchannels(), r.getsampwidth(), r.getframerate()) == (1, 2, 8000)
                assert r.getnframes() == len(written) // 2 == w.frames_written
                assert r.readframes(r.getnframes()) == written
    riff, data = header_sizes(path)
    assert riff == 36 + data and data == len(written) == path.stat().st_size - 44


def test_stereo_and_bad_sizes(tmp_path):
    w = WavWriter(tmp_path / "s.wav", 16000, channels=2)
    w.write(bytes(8))
    assert w.frames_written == 2
    with pytest.raises(ValueError):
        w.write(bytes(6))  # 1.5 stereo frames
    w.close()
    w.close()
    with pytest.raises(ValueError):
        w.write(bytes(4))
    with wave.open(str(tmp_path / "s.wav")) as r:
        assert (r.getnchannels(), r.getframerate(), r.getnframes()) == (2, 16000, 2)


CHILD = """
import sys, time
from media.recorder import WavWriter
w = WavWriter(sys.argv[1], 8000)
i = 0
while True:
    w.write(bytes([i % 256]) * 320)  # frame i: every byte == i % 256
    i += 1
    if i == 20:
        print("ready", flush=True)
    time.sleep(0.0005)
"""


def test_valid_after_sigkill_mid_call(tmp_path):
    path = tmp_path / "killed.wav"
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path)], cwd=REPO,
                             env={**os.environ, "PYTHONPATH": str(REPO)},
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        time.sleep(0.1)
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=10) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
        child.stdout.close()
    riff, data = header_sizes(path)
    size = path.stat().st_size
    assert riff == 36 + data
    assert data % 2 == 0 and data >= 20 * 320
    assert 0 <= size - 44 - data < 320  # at most the one write the kill interrupted
    with wave.open(str(path)) as r:
        frames = r.getnframes()
        assert frames == data // 2 > 0
        audio = r.readframes(frames)
    for i in range(0, len(audio) // 320):
        assert audio[i * 320:(i + 1) * 320] == bytes([i % 256]) * 320


def test_call_recorder_paths_and_alignment(tmp_path):
    started = datetime(2024, 5, 6, 7, 8, 9, 123456)
    rec = CallRecorder(tmp_path / "calls" / "day", started)
    assert rec.input_path.name == "call_20240506_070809_123456_input.wav"
    assert rec.output_path.name == "call_20240506_070809_123456_output.wav"
    assert rec.input_path.parent.is_dir()
    for _ in range(5):
        rec.write_input(bytes(320))
        rec.write_output(b"\x01\x00" * 160)
    rec.close()
    rec.close()
    rec.write_input(bytes(320))  # after close: ignored, not raised
    for path in (rec.input_path, rec.output_path):
        with wave.open(str(path)) as r:
            assert (r.getframerate(), r.getnframes()) == (8000, 800)


def test_call_recorder_never_overwrites(tmp_path):
    started = datetime(2024, 1, 1)
    a = CallRecorder(tmp_path, started)
    b = CallRecorder(tmp_path, started)
    assert a.input_path != b.input_path and a.output_path != b.output_path
    a.close()
    b.close()


def test_call_recorder_survives_write_errors(tmp_path, monkeypatch):
    rec = CallRecorder(tmp_path, datetime(2024, 1, 1))
    rec.write_input(bytes(320))

    def disk_full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", disk_full)
    rec.write_input(bytes(320))  # logged, not raised: the call must go on
    assert rec.failed
    rec.write_output(bytes(320))
    monkeypatch.undo()
    rec.close()
    with wave.open(str(rec.input_path)) as r:
        assert r.getnframes() == 160  # what was written before the failure is intact
