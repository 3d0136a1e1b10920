"""Voice notes end to end: Piper speaks "Where are you located?", soundfile makes it an
OGG/Opus voice note, the bot downloads it from the stub's file endpoint, Whisper tiny.en
transcribes it, the persona answers, and the answer comes back as a voice note."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import soundfile

from channels.telegram.audio import decode_voice, encode_voice
from tests.telegram.bot_api_stub import message
from tests.telegram.conftest import ANNA_TOKEN, Harness, harness
from tests.web.speech_services import piper_engines, whisper_tiny_en


async def _speak(tg: Harness, text: str) -> bytes:
    voice = tg.services.require_voice("anna")
    pcm, rate = bytearray(), 0
    async for chunk in voice.stream(text):
        rate = rate or chunk.sample_rate
        pcm += chunk.pcm16
    return encode_voice(bytes(pcm), rate)


async def test_a_voice_note_is_transcribed_and_answered_by_voice(tmp_path: Path) -> None:
    async with harness(tmp_path, tts=piper_engines(), stt=whisper_tiny_en()) as tg:
        await tg.add_bot(ANNA_TOKEN, "anna", voice_replies=True)
        await tg.start_manager()
        ogg = await _speak(tg, "Where are you located?")
        assert ogg[:4] == b"OggS"
        tg.stub.files["voice/file_1.oga"] = ogg
        tg.stub.push(ANNA_TOKEN, message(801, voice={
            "file_id": "voice/file_1.oga", "file_unique_id": "u1", "duration": 2,
            "mime_type": "audio/ogg", "file_size": len(ogg)}))
        reply = (await tg.stub.wait_sent(ANNA_TOKEN, "sendVoice", within_s=120))[0]
        assert "Baker Street" in reply.fields["caption"]
        spoken = reply.files["voice"]
        samples, rate = soundfile.read(io.BytesIO(spoken), dtype="int16")
        assert rate in (16000, 24000, 48000) and len(samples) > rate  # over a second
        assert np.abs(samples).max() > 1000  # speech, not silence
        calls = await tg.store.find_calls(channel="telegram")
        turns = await tg.store.turns(calls[0].id)
        assert "located" in turns[0].text.lower()


async def test_a_too_big_voice_note_gets_a_clear_reply_and_no_download(tg: Harness) -> None:
    await tg.add_bot(ANNA_TOKEN, "anna")
    await tg.start_manager()
    tg.stub.push(ANNA_TOKEN, message(802, voice={
        "file_id": "big", "file_unique_id": "big", "duration": 30,
        "file_size": 25 * 1024 * 1024}))
    reply = (await tg.stub.wait_sent(ANNA_TOKEN, "sendMessage"))[0]
    assert "too large" in reply.fields["text"]
    assert tg.stub.sent(ANNA_TOKEN, "getFile") == []  # nothing was downloaded


def test_ogg_opus_round_trip_resamples_to_16_khz() -> None:
    rate = 22050
    t = np.arange(rate) / rate
    pcm = (np.sin(2 * np.pi * 440 * t) * 8000).astype("<i2").tobytes()
    back = decode_voice(encode_voice(pcm, rate))
    assert abs(len(back) // 2 - 16000) < 400
