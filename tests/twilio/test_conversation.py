"""A whole Twilio call without SIP, end to end through the real app: a Media Streams
client (playing Twilio) asks "Where are you located?" in Piper's voice as 20 ms µ-law
frames; the real `LineCalls` runs the real `SecretaryBehaviour` (Whisper tiny.en, the FAQ
brain, Piper); the audio that comes back, transcribed by Whisper, holds the answer. Then
barge-in (the client talks over a long answer and gets `clear`), goodbye (the secretary
hangs up through the REST stub), and a transfer (DTMF 0: the `twilio` client POSTs
`<Dial>` TwiML). Recordings, transcript and the database row are checked."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from ari_app.line_call import LineCallOptions, LineCalls
from ari_app.playback import PhraseCache
from ari_app.secretary_behaviour import DialogueTiming, SecretaryBehaviour
from brain.conversation import Brain, BrainOptions
from brain.persona import load_persona
from media.clock import FrameClock
from media.codecs import ULawCodec
from media.resample import SoxrStreamResampler
from media.stt.segmenter import AsyncUtteranceRecognizer
from media.stt.whisper import FasterWhisperStt
from secretary import speech
from secretary.settings import load_settings
from tests.twilio.conftest import TRANSFER_NUMBERS, TwilioHarness
from tests.twilio.test_streams import stream, wait_closed
from tests.web.speech_services import MONDAY_MORNING, PERSONAS, whisper_tiny_en
from voices.chain import VoiceSynthesizer

ULAW = ULawCodec()


@dataclass
class Speech:
    recognizers: Callable[[], AsyncUtteranceRecognizer]
    voice: VoiceSynthesizer  # Anna's profile; XTTS is not provisioned here, so Piper
    listener: FasterWhisperStt  # the test's own ears


@pytest.fixture(scope="module")
def models() -> Speech:
    settings = load_settings(stt={"language": "en"})  # English line: Whisper tiny.en
    engines = speech.build_tts(settings)
    listener = whisper_tiny_en()
    listener.load()
    return Speech(speech.recognizer_factory(settings),
                  speech.build_voice(settings, engines, "anna"), listener)


@pytest.fixture
async def secretary(tw: TwilioHarness, models: Speech) -> AsyncIterator[LineCalls]:
    """What run_secretary lends the console: the phone's calls, with the secretary."""
    brain = Brain(load_persona(PERSONAS, "anna"), tw.console.writer, None, BrainOptions(),
                  now=lambda: MONDAY_MORNING)  # open hours: transfers are offered
    cache = PhraseCache(models.voice, size=64)
    # no filler or "are you still there?" in the middle of what the test listens to
    timing = DialogueTiming(filler_after_s=10.0, silence_prompt_s=60.0)
    clock = FrameClock()
    lines = LineCalls(lambda: SecretaryBehaviour(brain, models.recognizers, models.voice,
                                                 cache, timing),
                      clock, LineCallOptions(calls_log_dir=tw.console.calls_log,
                                             max_call_seconds=300))
    tw.services.lines = lines
    yield lines
    lines.end_all("test over")
    clock.stop()


async def spoken(voice: VoiceSynthesizer, text: str) -> bytes:
    """`text` in µ-law 8 kHz, as a caller's phone would send it."""
    pcm = bytearray()
    resampler: SoxrStreamResampler | None = None
    async for chunk in voice.stream(text):
        resampler = resampler or SoxrStreamResampler(chunk.sample_rate, 8000)
        pcm += resampler.process(chunk.pcm16)
    assert resampler is not None
    pcm += resampler.flush()
    return ULAW.encode(bytes(pcm))


async def heard(models: Speech, ulaw: bytes) -> str:
    text = (await asyncio.to_thread(models.listener.transcribe, ULAW.decode(ulaw), 8000,
                                    "en")).text
    return text.lower()


def recording_sizes(prefix: str) -> dict[str, int]:
    return {suffix: Path(prefix + suffix).stat().st_size
            for suffix in ("_input.wav", "_output.wav", "_transcript.txt")}


async def test_a_twilio_caller_asks_gets_the_faq_answer_barges_in_and_is_hung_up(
        tw: TwilioHarness, models: Speech, secretary: LineCalls) -> None:
    loop = asyncio.get_running_loop()
    question = await spoken(models.voice, "Where are you located?")
    long_question = await spoken(models.voice, "What services do you offer?")
    interruption = await spoken(models.voice, "Sorry, is there parking?")
    goodbye = await spoken(models.voice, "Thank you, goodbye.")
    async with stream(tw, "CA400") as client:
        client.start_media()
        for junk in ("{oops", '{"event": "media", "media": {"payload": "***"}}',
                     '{"event": "nonsense"}'):
            await client.ws.send_str(junk)  # shrugged off: the call goes on
        _, greeting = await client.utterance_after(loop.time(), quiet_s=0.8)
        assert "northwind" in await heard(models, greeting)

        asked_at = await client.say(question)
        answered_at, answer = await client.utterance_after(asked_at, quiet_s=1.2)
        assert "baker street" in await heard(models, answer)
        latency_ms = (answered_at - asked_at) * 1000

        # barge-in: talk over the long list of services; Twilio must be told to drop it
        asked_at = await client.say(long_question)
        await client.wait_for(lambda: client.first_voiced_after(asked_at) is not None, 30,
                              "no answer to the long question")
        await asyncio.sleep(1.5)
        interrupted_at = loop.time()
        await client.say(interruption)
        await client.wait_for(lambda: any(r.at > interrupted_at for r in client.events("clear")),
                              10, "no clear message after the caller barged in")
        clear_ms = (next(r.at for r in client.events("clear") if r.at > interrupted_at)
                    - interrupted_at) * 1000
        _, parking = await client.utterance_after(loop.time(), quiet_s=1.2)
        assert "park" in await heard(models, parking)

        said_goodbye_at = await client.say(goodbye)
        update = await tw.rest.wait_update("CA400", within_s=30)
        assert update.form == {"Status": "completed"}  # we hung up through the REST API
        assert await wait_closed(client) is not None
    print(json.dumps({"reply_latency_ms": round(latency_ms),
                      "barge_in_to_clear_ms": round(clear_ms),
                      "goodbye_to_hang_up_ms": round((loop.time() - said_goodbye_at) * 1000)}))

    await client.wait_for(lambda: secretary.active_calls == 0, 30, "the call never ended")
    calls = await tw.console.writer.find_calls(channel="phone")
    assert [(c.external_id, c.caller) for c in calls] == [("CA400", "+15551230001")]
    call = calls[0]
    assert call.ended_at is not None and call.recording_prefix
    sizes = recording_sizes(call.recording_prefix)
    assert sizes["_input.wav"] > 8000 * 2 * 5 and sizes["_output.wav"] > 8000 * 2 * 5
    assert sizes["_transcript.txt"] > 100
    turns = await tw.console.writer.turns(call.id)
    said = " ".join(t.text for t in turns).lower()
    assert "located" in said and "baker street" in said
    assert any(t.interrupted for t in turns)  # the services list, cut short


async def test_pressing_0_puts_a_twilio_caller_through_with_dial_twiml(
        tw: TwilioHarness, models: Speech, secretary: LineCalls) -> None:
    loop = asyncio.get_running_loop()
    async with stream(tw, "CA401") as client:
        client.start_media()
        await client.utterance_after(loop.time(), quiet_s=0.8)  # the greeting
        await client.dtmf("0")
        update = await tw.rest.wait_update("CA401", within_s=30)
        assert f"<Number>{TRANSFER_NUMBERS['reception']}</Number>" in update.form["Twiml"]
        assert "<Dial" in update.form["Twiml"]
        # Twilio now runs the <Dial>: the stream stops
        await client.stop()
        assert await wait_closed(client) is not None
    await client.wait_for(lambda: secretary.active_calls == 0, 30, "the call never ended")
    call = (await tw.console.writer.find_calls(channel="phone"))[0]
    assert call.external_id == "CA401" and call.outcome == "transfer"


