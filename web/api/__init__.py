"""The JSON API (bearer tokens): the call history under /api/v1, the OpenAI-compatible
endpoints under /v1 (chat, models, speech, transcriptions); and the public machine
endpoints: /health, /metrics."""

from __future__ import annotations

from aiohttp import web

from web.api import calls, health, metrics, openai_audio, openai_chat


def add_routes(router: web.UrlDispatcher) -> None:
    for area in (calls, health, metrics, openai_chat, openai_audio):
        area.add_routes(router)
