"""The OpenAI-compatible endpoints through the real `openai` client library: models, chat
(FAQ and an LLM behind the local stub, plain and streamed), speech from Piper, and
transcription by Whisper of the speech endpoint's own WAV; and their errors."""

from __future__ import annotations

import io
import json
import re
import wave
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import openai
import pytest

from brain.llm.litellm_model import load_litellm
from media.stt import FasterWhisperStt
from tests.openai_stub import OpenAIStub, StubReply
from tests.web.conftest import Console
from tests.web.speech_services import piper_engines, provide, stub_llm, whisper_tiny_en
from voices.chain import EngineRegistry
from web.state import SERVICES
from web.uploads import TRANSCRIPTION_MAX


@pytest.fixture(scope="module", autouse=True)
def litellm_imported() -> None:
    load_litellm()  # the phone process preloads it; a test must not time out on the import


@pytest.fixture(scope="module")
def engines() -> Iterator[EngineRegistry]:
    registry = piper_engines()
    yield registry
    registry.close()


@pytest.fixture(scope="module")
def whisper() -> FasterWhisperStt:
    return whisper_tiny_en()


async def token(console: Console, username: str = "admin") -> str:
    return await console.accounts.create_token(username, "openai-client")


async def api(console: Console, username: str = "admin") -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=str(console.client.make_url("/v1")),
                              api_key=await token(console, username), max_retries=0)


@pytest.fixture
async def served(console: Console, tmp_path: Path, engines: EngineRegistry,
                 whisper: FasterWhisperStt) -> AsyncIterator[openai.AsyncOpenAI]:
    provide(console.client.app[SERVICES], console.writer, tmp_path, tts=engines, stt=whisper)
    client = await api(console)
    async with client:
        yield client


async def test_models_are_the_personas(served: openai.AsyncOpenAI) -> None:
    models = [model.id async for model in served.models.list()]
    assert models == ["anna", "marina"]
    assert (await served.models.retrieve("anna")).id == "anna"
    with pytest.raises(openai.NotFoundError):
        await served.models.retrieve("nobody")


async def test_faq_question_without_an_llm(served: openai.AsyncOpenAI,
                                           console: Console) -> None:
    completion = await served.chat.completions.create(
        model="anna", messages=[{"role": "user", "content": "What is your address?"}])
    assert completion.object == "chat.completion"
    assert "Baker Street" in completion.choices[0].message.content
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.completion_tokens > 0
    assert completion.usage.total_tokens == (completion.usage.prompt_tokens
                                             + completion.usage.completion_tokens)
    assert completion.model_extra["secretary"]["source"] == "faq"
    calls = await console.writer.find_calls(limit=5)
    assert calls[0].channel == "api" and calls[0].caller == "api:admin"
    assert calls[0].ended_at is not None  # one request, one finished conversation


async def test_llm_reply_plain_and_streamed_with_history(
        served: openai.AsyncOpenAI, console: Console) -> None:
    async with OpenAIStub() as stub:
        stub.script(StubReply(text="It is sunny in London today."),
                    StubReply(text="Bring an umbrella tomorrow, though."))
        for brain in console.client.app[SERVICES].brains.values():
            brain.llm = stub_llm(stub)  # as the phone's LLM chain would be
        first = await served.chat.completions.create(
            model="anna", messages=[{"role": "system", "content": "ignored"},
                                    {"role": "user", "content": "Tell me about the weather"}])
        assert first.choices[0].message.content == "It is sunny in London today."
        assert first.model_extra["secretary"]["source"] == "llm"

        stream = await served.chat.completions.create(
            model="anna", stream=True, messages=[
                {"role": "user", "content": "Tell me about the weather"},
                {"role": "assistant", "content": "It is sunny in London today."},
                {"role": "user", "content": "And what about tomorrow's weather?"}])
        chunks = [chunk async for chunk in stream]
        assert all(chunk.object == "chat.completion.chunk" for chunk in chunks)
        assert chunks[0].choices[0].delta.role == "assistant"
        assert chunks[-1].choices[0].finish_reason == "stop"
        text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
        assert text == "Bring an umbrella tomorrow, though."
        sent = [(m["role"], m["content"]) for m in stub.exchanges[1].body["messages"][1:]]
        assert sent == [("user", "Tell me about the weather"),
                        ("assistant", "It is sunny in London today."),
                        ("user", "And what about tomorrow's weather?")]


async def test_stream_ends_with_done(console: Console, served: openai.AsyncOpenAI) -> None:
    response = await console.client.post(
        "/v1/chat/completions", headers={"Authorization": f"Bearer {await token(console)}"},
        json={"model": "anna", "stream": True,
              "messages": [{"role": "user", "content": "What is your address?"}]})
    assert response.content_type == "text/event-stream"
    events = [line for line in (await response.text()).split("\n\n") if line]
    assert events[-1] == "data: [DONE]"
    last = json.loads(events[-2].removeprefix("data: "))
    assert last["choices"][0]["finish_reason"] == "stop"
    assert last["secretary"]["source"] == "faq"


async def test_bad_requests_get_openai_errors(console: Console,
                                              served: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        await served.chat.completions.create(
            model="nobody", messages=[{"role": "user", "content": "hi"}])
    assert "no persona 'nobody'" in missing.value.message
    with pytest.raises(openai.BadRequestError):
        await served.chat.completions.create(model="anna", messages=[])
    with pytest.raises(openai.BadRequestError):
        await served.chat.completions.create(
            model="anna", messages=[{"role": "assistant", "content": "no question"}])
    headers = {"Authorization": f"Bearer {await token(console)}"}
    for body in (b"{not json", b'{"model": 5, "messages": "x"}', b"[]"):
        response = await console.client.post("/v1/chat/completions", data=body,
                                             headers={**headers,
                                                      "Content-Type": "application/json"})
        assert response.status == 400, body
        error = (await response.json())["error"]
        assert set(error) >= {"message", "type", "code"}
        assert error["type"] == "invalid_request_error"


async def test_speech_is_a_wav_and_transcribes_back(served: openai.AsyncOpenAI) -> None:
    speech = await served.audio.speech.create(
        model="tts-1", voice="anna", input="Please call me back tomorrow morning.",
        response_format="wav")
    audio = speech.read()
    with wave.open(io.BytesIO(audio)) as w:
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2)
        assert w.getnframes() / w.getframerate() > 1.0
    heard = await served.audio.transcriptions.create(
        model="whisper-1", file=("speech.wav", audio, "audio/wav"), language="en")
    assert "tomorrow" in heard.text.lower()
    assert "call me back" in heard.text.lower()


async def test_speech_and_transcription_errors(console: Console,
                                               served: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        await served.audio.speech.create(model="tts-1", voice="nobody", input="Hello")
    with pytest.raises(openai.BadRequestError):
        await served.audio.speech.create(model="tts-1", voice="anna", input="Hello",
                                         response_format="mp3")
    with pytest.raises(openai.BadRequestError) as not_wav:
        await served.audio.transcriptions.create(
            model="whisper-1", file=("speech.mp3", b"ID3\x03" + b"\0" * 2000, "audio/mpeg"))
    assert "Only WAV" in not_wav.value.message
    too_big = b"RIFF" + b"\0" * (TRANSCRIPTION_MAX + 10)
    with pytest.raises(openai.APIStatusError) as large:
        await served.audio.transcriptions.create(
            model="whisper-1", file=("long.wav", too_big, "audio/wav"))
    assert large.value.status_code == 413


async def test_missing_services_are_503_not_500(console: Console) -> None:
    async with await api(console) as client:
        assert [m.id async for m in client.models.list()] == []
        for call in (
                client.chat.completions.create(
                    model="anna", messages=[{"role": "user", "content": "hi"}]),
                client.audio.speech.create(model="tts-1", voice="anna", input="Hello")):
            with pytest.raises(openai.InternalServerError) as unavailable:
                await call
            assert unavailable.value.status_code == 503
            assert unavailable.value.body["type"] == "service_unavailable"


async def test_a_viewer_token_reads_models_but_cannot_post(console: Console,
                                                           served: openai.AsyncOpenAI) -> None:
    async with await api(console, "viewer") as client:
        assert [m.id async for m in client.models.list()] == ["anna", "marina"]
        with pytest.raises(openai.PermissionDeniedError):
            await client.chat.completions.create(
                model="anna", messages=[{"role": "user", "content": "What is your address?"}])


async def test_no_token_no_answer(console: Console) -> None:
    async with openai.AsyncOpenAI(base_url=str(console.client.make_url("/v1")),
                                  api_key="sct_wrong", max_retries=0) as client:
        with pytest.raises(openai.AuthenticationError):
            await client.models.list()


def test_the_openai_routes_are_token_routes(console: Console) -> None:
    """The route walk in test_auth proves every `api.` route answers 401 without a token;
    these names put the new endpoints under that rule."""
    names = {r.name for r in console.client.app.router.resources() if r.name}
    assert {"api.openai.models", "api.openai.model", "api.openai.chat",
            "api.openai.speech", "api.openai.transcriptions"} <= names
    assert {"chat", "chat_send", "chat_reset", "voices", "voice_upload", "voice_preview",
            "voice_clip"} <= names  # session routes: the walk expects a login redirect


async def test_metrics_report_the_engines_the_process_loaded(console: Console,
                                                             served: openai.AsyncOpenAI
                                                             ) -> None:
    text = await (await console.client.get("/metrics")).text()
    piper = re.search(r'^secretary_engine_available\{kind="tts",name="[^"]*[Pp]iper[^"]*"\} '
                      r'1\.0$', text, re.MULTILINE)
    assert piper, text
    assert re.search(r'^secretary_engine_available\{kind="llm",name="anna"\} [01]\.0$', text,
                     re.MULTILINE), text
