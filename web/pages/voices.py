"""Voice profiles (tts.voices_dir): each voice's engines, samples and what was wrong with the
rejected ones; admins upload a sample WAV to a voice and hear a preview synthesized by the
process's TTS, served from a short-lived route (the page's CSP allows no data: audio)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from voices.base import TtsError
from voices.profile import VoiceProfile, inspect_sample
from web.query import form_text, read_form
from web.services import ServiceUnavailable, UnknownName, synthesize_wav
from web.state import CLIPS, SERVICES
from web.templating import render
from web.uploads import VOICE_SAMPLE_MAX, check_declared_size, too_large
from web.voice_samples import SampleRejected, check_sample, save_sample

MAX_PREVIEW_CHARS = 300


@dataclass(frozen=True)
class VoiceRow:
    name: str
    profile: VoiceProfile | None
    seconds: dict[str, float]  # sample file name -> duration
    error: str | None = None


def _row(request: web.Request, name: str) -> VoiceRow:
    try:
        profile = request.app[SERVICES].load_voice(name)
    except TtsError as exc:  # a broken profile.yaml: shown, not fatal to the page
        return VoiceRow(name, None, {}, str(exc))
    seconds = {}
    for path in profile.samples:
        try:
            seconds[path.name] = inspect_sample(path).seconds
        except ValueError:
            continue
    return VoiceRow(name, profile, seconds)


async def _render(request: web.Request, *, error: str | None = None,
                  notice: str | None = None, status: int = 200) -> web.StreamResponse:
    services = request.app[SERVICES]
    try:
        rows = [_row(request, name) for name in services.voice_names()]
    except ServiceUnavailable as exc:
        return await render("voices.html", request, {
            "voices": [], "unavailable": str(exc), "error": None, "notice": None,
            "clip": None, "clip_voice": None}, status=503)
    clip = request.query.get("clip")
    if clip is not None and request.app[CLIPS].get(clip) is None:
        clip = None
    return await render("voices.html", request, {
        "voices": rows, "unavailable": None, "error": error, "notice": notice,
        "clip": clip, "clip_voice": request.query.get("voice") if clip else None,
        "tts_ready": services.tts is not None}, status=status)


async def voices_page(request: web.Request) -> web.StreamResponse:
    return await _render(request)


def _voice_folder(request: web.Request) -> tuple[str, Path]:
    name = request.match_info["voice"]
    try:
        return name, request.app[SERVICES].voice_folder(name)
    except UnknownName as exc:
        raise web.HTTPNotFound(text=str(exc)) from None
    except ServiceUnavailable as exc:
        raise web.HTTPServiceUnavailable(text=str(exc)) from None


async def upload_sample(request: web.Request) -> web.StreamResponse:
    check_declared_size(request, VOICE_SAMPLE_MAX)
    name, folder = _voice_folder(request)
    form = await read_form(request)
    upload = form.get("file")
    if not isinstance(upload, web.FileField):
        raise web.HTTPBadRequest(text="Choose a WAV file to upload.")
    data = upload.file.read(VOICE_SAMPLE_MAX + 1)
    if len(data) > VOICE_SAMPLE_MAX:
        raise too_large(VOICE_SAMPLE_MAX, len(data))
    try:
        saved = save_sample(folder, upload.filename or "sample", check_sample(data))
    except SampleRejected as exc:
        return await _render(request, error=f"{name}: {exc}", status=400)
    return await _render(request, notice=f"{name}: saved {saved.name}.")


async def preview(request: web.Request) -> web.StreamResponse:
    name, _ = _voice_folder(request)
    text = (form_text(await read_form(request), "text") or "").strip()
    if not text or len(text) > MAX_PREVIEW_CHARS:
        raise web.HTTPBadRequest(text=f"Give 1-{MAX_PREVIEW_CHARS} characters to speak.")
    services = request.app[SERVICES]
    try:
        wav = await synthesize_wav(services.require_voice(name), text)
    except ServiceUnavailable as exc:
        raise web.HTTPServiceUnavailable(text=str(exc)) from None
    except TtsError as exc:
        return await _render(request, error=f"{name}: cannot speak this: {exc}", status=400)
    clip = secrets.token_urlsafe(12)
    request.app[CLIPS].put(clip, wav)
    target = request.app.router["voices"].url_for().with_query(clip=clip, voice=name)
    raise web.HTTPSeeOther(str(target))


async def clip_audio(request: web.Request) -> web.Response:
    wav = request.app[CLIPS].get(request.match_info["clip"])
    if wav is None:
        raise web.HTTPNotFound(text="That preview has expired; synthesize it again.")
    return web.Response(body=wav, content_type="audio/wav")


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/voices", voices_page, name="voices")
    router.add_post("/voices/{voice}/samples", upload_sample, name="voice_upload")
    router.add_post("/voices/{voice}/preview", preview, name="voice_preview")
    router.add_get("/voices/clips/{clip}", clip_audio, name="voice_clip")
