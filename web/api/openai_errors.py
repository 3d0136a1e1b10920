"""Errors of the OpenAI-compatible endpoints in OpenAI's shape,
`{"error": {"message", "type", "code"}}`, so client libraries raise their usual
exceptions; and `openai_handler`, which turns whatever a handler raises into that shape."""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from web.services import ServiceUnavailable, UnknownName

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
M = TypeVar("M", bound=BaseModel)

_BY_STATUS: dict[int, type[web.HTTPException]] = {
    400: web.HTTPBadRequest, 401: web.HTTPUnauthorized, 403: web.HTTPForbidden,
    404: web.HTTPNotFound, 405: web.HTTPMethodNotAllowed, 413: web.HTTPRequestEntityTooLarge,
    415: web.HTTPUnsupportedMediaType, 500: web.HTTPInternalServerError,
    503: web.HTTPServiceUnavailable,
}
_TYPES = {400: "invalid_request_error", 404: "invalid_request_error",
          413: "invalid_request_error", 415: "invalid_request_error",
          401: "authentication_error", 403: "permission_error", 503: "service_unavailable"}


def openai_error(status: int, message: str, code: str | None = None) -> web.HTTPException:
    body = json.dumps({"error": {"message": message, "type": _TYPES.get(status, "api_error"),
                                 "param": None, "code": code}})
    cls = _BY_STATUS.get(status, web.HTTPInternalServerError)
    if cls is web.HTTPRequestEntityTooLarge:
        return web.HTTPRequestEntityTooLarge(0, 0, text=body, content_type="application/json")
    if cls is web.HTTPMethodNotAllowed:
        return web.HTTPMethodNotAllowed("?", [], text=body, content_type="application/json")
    return cls(text=body, content_type="application/json")


def validation_message(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    return f"{where}: {first['msg']}"


async def read_json(request: web.Request, model: type[M]) -> M:
    """The JSON body checked against `model`; 400 in OpenAI's shape otherwise."""
    try:
        data = await request.json()
    except (ValueError, UnicodeDecodeError):
        raise openai_error(400, "The body is not valid JSON.", "invalid_json") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise openai_error(400, validation_message(exc), "invalid_request") from None


def openai_handler(handler: Handler) -> Handler:
    """Any failure of `handler` as OpenAI's error JSON: unknown names 404, missing services
    503, aiohttp's own plain-text errors (413 from the body limit) re-wrapped."""

    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except UnknownName as exc:
            raise openai_error(404, str(exc), "not_found") from None
        except ServiceUnavailable as exc:
            raise openai_error(503, str(exc), "service_unavailable") from None
        except web.HTTPException as exc:
            if exc.status < 400 or exc.content_type == "application/json":
                raise
            raise openai_error(exc.status, exc.text or exc.reason) from None

    return wrapped
