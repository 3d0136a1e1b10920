"""A streaming engine (Vosk, Korean model) driven turn by turn: the same events and finals
as the Whisper recogniser, decoding off the caller's thread."""

from __future__ import annotations

import threading

from media.stt import AsyncUtteranceRecognizer, FinalPending
from media.stt.streaming import StreamingUtteranceRecognizer
from media.turn import SpeechStarted, TurnDetector, TurnEnded
from media.vad import create_vad
from tests.unit.test_stt_vosk import FRAME, korean, vosk_stt  # noqa: F401 - fixtures


def frames(pcm: bytes) -> list[bytes]:
    return [pcm[i:i + FRAME] for i in range(0, len(pcm), FRAME)]


def recognizer(stt) -> StreamingUtteranceRecognizer:
    stt.reset()
    return StreamingUtteranceRecognizer(TurnDetector(create_vad("webrtc", 8000)), stt)


def test_a_turn_gives_events_and_a_final_from_the_stream(vosk_stt, korean) -> None:  # noqa: F811
    rec = recognizer(vosk_stt)
    callers = {threading.get_ident()}
    original_accept = vosk_stt.accept
    try:
        vosk_stt.accept = lambda frame: (callers.add(threading.get_ident()),
                                         original_accept(frame))[1]
        events = []
        for frame in frames(bytes(8000) + korean + bytes(16000)):
            events += rec.push(frame)
    finally:
        vosk_stt.accept = original_accept
    kinds = [type(e) for e in events]
    assert SpeechStarted in kinds and TurnEnded in kinds
    [pending] = [e for e in events if isinstance(e, FinalPending)]
    final = pending.final.result(timeout=30)
    assert final.is_final and final.text and final.words, final
    assert final.start_ms >= 400  # the turn's own bounds, in stream time
    assert len(callers) == 2, "decoding must run off the thread that pushes frames"
    rec.close()


async def test_async_wrapper_delivers_the_final(vosk_stt, korean) -> None:  # noqa: F811
    rec = AsyncUtteranceRecognizer(recognizer(vosk_stt))
    for frame in frames(bytes(3200) + korean + bytes(16000)):
        rec.push(frame)
    final = await rec.next_final()
    assert final.text
    rec.close()


def test_sessions_share_the_model_but_not_the_stream(vosk_stt, korean) -> None:  # noqa: F811
    one, two = vosk_stt.session(), vosk_stt.session()
    assert one._model is vosk_stt._model is two._model
    for frame in frames(korean):
        one.accept(frame)
    assert one.finish().text
    assert two.finish().text == ""  # heard nothing: streams are separate
