"""OpenAI-compatible speech: `POST /v1/audio/speech` (text → a WAV in one of the voice
profiles under tts.voices_dir, e.g. "anna") and `POST /v1/audio/transcriptions` (a WAV file
→ `{"text": ...}` from the Whisper model the phone uses).

Only WAV travels either way: `response_format` must be "wav" (the default here) or "pcm"
(raw 16-bit mono at the voice's rate); uploads must be PCM WAV files (anything else 400),
at most `web.uploads.TRANSCRIPTION_MAX` bytes (413). `model` is accepted and ignored: the
process's own engines answer.
"""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from media.stt.base import SttError
from voices.base import EmptyText, TtsError, UnsupportedLanguage
from voices.profile import ProfileError
from web.api.openai_errors import openai_error, openai_handler, read_json
from web.query import read_form
from web.services import synthesize_wav
from web.state import SERVICES
from web.uploads import TRANSCRIPTION_MAX, check_declared_size, too_large
from web.wav import WavError, read_wav

MAX_SPEECH_CHARS = 4096  # OpenAI's own limit for one request


class SpeechRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")  # speed, instructions: the voice profile's
    model: str = Field(default="tts", max_length=64)
    input: str = Field(min_length=1, max_length=MAX_SPEECH_CHARS)
    voice: str = Field(min_length=1, max_length=64)
    response_format: Literal["wav", "pcm"] = "wav"


@openai_handler
async def speech(request: web.Request) -> web.Response:
    body = await read_json(request, SpeechRequest)
    services = request.app[SERVICES]
    try:
        voice = services.require_voice(body.voice)
        wav = await synthesize_wav(voice, body.input)
    except (EmptyText, UnsupportedLanguage) as exc:
        raise openai_error(400, str(exc), "unspeakable_input") from None
    except ProfileError as exc:
        raise openai_error(503, f"The voice profile cannot be used: {exc}",
                           "voice_unusable") from None
    except TtsError as exc:  # no engine could speak: a set-up problem, not the request's
        raise openai_error(503, str(exc), "tts_unavailable") from None
    if body.response_format == "pcm":
        return web.Response(body=read_wav(wav).pcm16, content_type="audio/pcm")
    return web.Response(body=wav, content_type="audio/wav")


def _file_bytes(field: Any) -> bytes:
    if not isinstance(field, web.FileField):
        raise openai_error(400, "Send the audio as the multipart file field 'file'.",
                           "missing_file")
    data = field.file.read(TRANSCRIPTION_MAX + 1)
    if len(data) > TRANSCRIPTION_MAX:
        raise too_large(TRANSCRIPTION_MAX, len(data))
    return data


@openai_handler
async def transcriptions(request: web.Request) -> web.Response:
    check_declared_size(request, TRANSCRIPTION_MAX)
    if request.content_type != "multipart/form-data":
        raise openai_error(400, "Send multipart/form-data with the audio in 'file'.",
                           "invalid_content_type")
    form = await read_form(request)
    data = _file_bytes(form.get("file"))
    language = form.get("language") or None
    if language is not None and language not in ("ru", "en"):
        raise openai_error(400, "language must be 'ru' or 'en' (or left out to detect it).",
                           "unsupported_language")
    response_format = form.get("response_format") or "json"
    if response_format not in ("json", "text"):
        raise openai_error(400, "response_format must be 'json' or 'text'.",
                           "unsupported_format")
    try:
        audio = read_wav(data)
    except WavError as exc:
        raise openai_error(400, f"Only WAV files are accepted: {exc}.", "invalid_audio") \
            from None
    stt = request.app[SERVICES].require_stt()
    try:
        result = await stt.transcribe(audio.pcm16, audio.sample_rate,
                                      language if isinstance(language, str) else None)
    except SttError as exc:
        raise openai_error(503, str(exc), "stt_failed") from None
    if response_format == "text":
        return web.Response(text=result.text)
    return web.json_response({"text": result.text})


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_post("/v1/audio/speech", speech, name="api.openai.speech")
    router.add_post("/v1/audio/transcriptions", transcriptions,
                    name="api.openai.transcriptions")
