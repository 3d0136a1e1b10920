"""The voices page: profiles listed from the voices folder, sample uploads checked by
parsing the WAV (size, format, length; CSRF; names sanitized; nothing left on failure),
and a preview synthesized by Piper and played from a short-lived route."""

from __future__ import annotations

import io
import re
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient

from tests.web.conftest import Console, csrf_token
from tests.web.speech_services import piper_engines, provide
from voices.chain import EngineRegistry
from web.state import SERVICES
from web.uploads import VOICE_SAMPLE_MAX


@pytest.fixture(scope="module")
def engines() -> Iterator[EngineRegistry]:
    registry = piper_engines()
    yield registry
    registry.close()


def tone(seconds: float, rate: int = 16000, channels: int = 1, width: int = 2) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    wave_ = np.sin(2 * np.pi * 220 * t) * 0.3
    if width == 2:
        frames = (wave_ * 32767).astype("<i2")
    else:  # 24-bit little-endian
        ints = (wave_ * (2**23 - 1)).astype("<i4")
        frames = np.frombuffer(ints.tobytes(), dtype=np.uint8).reshape(-1, 4)[:, :3].copy()
    data = np.repeat(frames.reshape(len(t), -1), channels, axis=0).tobytes() \
        if channels == 1 else np.concatenate([frames.reshape(len(t), -1)] * channels,
                                             axis=1).tobytes()
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(data)
    return out.getvalue()


@pytest.fixture
def voices(console: Console, tmp_path: Path, engines: EngineRegistry) -> Path:
    provide(console.client.app[SERVICES], console.writer, tmp_path, tts=engines)
    return tmp_path / "voices"


async def upload(client: TestClient, voice: str, data: bytes, filename: str = "s.wav",
                 token: str | None = "page") -> tuple[int, str]:
    form = FormData()
    if token is not None:
        form.add_field("csrf_token", await csrf_token(client, "/voices")
                       if token == "page" else token)
    form.add_field("file", data, filename=filename, content_type="audio/wav")
    response = await client.post(f"/voices/{voice}/samples", data=form)
    return response.status, await response.text()


async def test_profiles_are_listed(admin: TestClient, voices: Path) -> None:
    page = await (await admin.get("/voices")).text()
    assert 'id="voice-anna"' in page and 'id="voice-marina"' in page
    assert "xtts, piper, festival" in page


async def test_a_good_sample_is_saved_under_a_safe_name(admin: TestClient,
                                                        voices: Path) -> None:
    status, page = await upload(admin, "anna", tone(5.0), filename="../../My Voice!.WAV")
    assert status == 200, page
    assert "saved my-voice.wav" in page
    assert sorted(p.name for p in (voices / "anna").iterdir()) == ["my-voice.wav",
                                                                    "profile.yaml"]
    status, page = await upload(admin, "anna", tone(4.0, channels=2, width=3,
                                                    rate=22050), filename="my voice.wav")
    assert status == 200 and "saved my-voice-2.wav" in page  # never overwritten
    with wave.open(str(voices / "anna" / "my-voice-2.wav")) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 22050)
        assert abs(w.getnframes() / 22050 - 4.0) < 0.01
    page = await (await admin.get("/voices")).text()
    assert "my-voice.wav (5.0 s)" in page


@pytest.mark.parametrize(("data", "reason"), [
    (b"ID3\x04" + b"\0" * 5000, "not a WAV file"),
    (b"RIFF\x10\0\0\0WAVEjunk" + b"\0" * 100, "Not a usable WAV"),
    (tone(1.5), "1.5 s long"),
    (tone(31.0, rate=8000), "31.0 s long"),
    (tone(5.0)[:44] + b"\0" * 160000, "silent"),
])
async def test_bad_samples_are_400_and_leave_nothing(admin: TestClient, voices: Path,
                                                     data: bytes, reason: str) -> None:
    status, page = await upload(admin, "anna", data)
    assert status == 400
    assert reason in page
    assert [p.name for p in (voices / "anna").iterdir()] == ["profile.yaml"]


async def test_oversized_upload_is_413(admin: TestClient, voices: Path) -> None:
    status, _ = await upload(admin, "anna", b"RIFF" + b"\0" * (VOICE_SAMPLE_MAX + 1000))
    assert status == 413
    assert [p.name for p in (voices / "anna").iterdir()] == ["profile.yaml"]


async def test_upload_needs_csrf_admin_and_a_real_voice(admin: TestClient, voices: Path,
                                                        console: Console) -> None:
    assert (await upload(admin, "anna", tone(5.0), token=None))[0] == 403
    assert (await upload(admin, "anna", tone(5.0), token="forged"))[0] == 403
    assert (await upload(admin, "..", tone(5.0)))[0] == 404
    assert (await upload(admin, "nobody", tone(5.0)))[0] == 404
    assert [p.name for p in (voices / "anna").iterdir()] == ["profile.yaml"]


async def test_viewer_cannot_upload(viewer: TestClient, voices: Path) -> None:
    assert (await upload(viewer, "anna", tone(5.0)))[0] == 403


async def test_preview_plays_a_synthesized_wav(admin: TestClient, voices: Path) -> None:
    token = await csrf_token(admin, "/voices")
    response = await admin.post("/voices/anna/preview",
                                data={"text": "Hello, this is Anna.", "csrf_token": token})
    assert response.status == 200
    page = await response.text()
    found = re.search(r'<audio controls src="(/voices/clips/[^"]+)"', page)
    assert found, page
    clip = await admin.get(found.group(1))
    assert clip.content_type == "audio/wav"
    with wave.open(io.BytesIO(await clip.read())) as w:
        assert w.getnframes() / w.getframerate() > 0.5
    assert (await admin.get("/voices/clips/expired")).status == 404


async def test_without_tts_preview_is_503(admin: TestClient, console: Console,
                                          tmp_path: Path) -> None:
    provide(console.client.app[SERVICES], console.writer, tmp_path)  # no TTS yet
    token = await csrf_token(admin, "/voices")
    response = await admin.post("/voices/anna/preview",
                                data={"text": "Hello", "csrf_token": token})
    assert response.status == 503
    assert "not available" in await response.text()
