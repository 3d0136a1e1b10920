"""The personas: a list of those in the personas folder, and one persona's edit form.

Saving (admins only, CSRF-checked by the middlewares) builds the new persona.yaml, checks
it with brain.persona's loader in a scratch folder and only then replaces the file
atomically. The phone process reads personas when it starts, so a change applies to calls
after a restart; the page says so.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import yaml
from aiohttp import web

from brain.persona import PersonaError
from web.persona_files import (
    PersonaDocument,
    StaleDocument,
    check,
    dump,
    persona_file,
    read_document,
    replace,
    summaries,
)
from web.persona_form import FormError, PersonaForm
from web.query import form_text, read_form
from web.state import CONFIG
from web.templating import render

RESTART_NOTE = "Changes apply to new calls after the secretary is restarted."


def personas_dir(request: web.Request) -> Path | None:
    return request.app[CONFIG].personas_dir


async def personas_list(request: web.Request) -> web.StreamResponse:
    folder = personas_dir(request)
    found = await asyncio.to_thread(summaries, folder) if folder is not None else []
    return await render("personas.html", request, {
        "personas": found, "folder": folder,
        "default_persona": request.app[CONFIG].default_persona, "restart_note": RESTART_NOTE,
    })


async def _find(request: web.Request) -> tuple[Path, Path, str]:
    """The personas folder, the file and the key a URL names; 404 for anything else."""
    folder = personas_dir(request)
    key = request.match_info["key"]
    path = await asyncio.to_thread(persona_file, folder, key) if folder is not None else None
    if folder is None or path is None:
        raise web.HTTPNotFound(text="There is no such persona.")
    return folder, path, key


async def _read(path: Path, key: str) -> tuple[PersonaDocument | None, str]:
    try:
        return await asyncio.to_thread(read_document, path, key), ""
    except (PersonaError, yaml.YAMLError, UnicodeDecodeError) as exc:
        return None, f"persona.yaml cannot be read, so it cannot be edited here: {exc}"


async def _render_form(request: web.Request, key: str, document: PersonaDocument | None,
                       form: PersonaForm | None, *, error: str = "", saved: bool = False,
                       version: str = "", status: int = 200) -> web.StreamResponse:
    config = request.app[CONFIG]
    return await render("persona.html", request, {
        "key": key, "form": form, "version": version or (document.digest if document else ""),
        "error": error, "saved": saved, "llm_chain": config.llm_chain,
        "is_default": key == config.default_persona, "restart_note": RESTART_NOTE,
    }, status=status)


async def _stale(request: web.Request, key: str, form: PersonaForm, version: str
                 ) -> web.StreamResponse:
    # The form keeps its old version, so sending it again cannot overwrite the other edit.
    return await _render_form(
        request, key, None, form, version=version, status=409,
        error="persona.yaml changed since this form was opened; nothing was saved. "
              "Reload the page to edit the current version.")


async def persona_page(request: web.Request) -> web.StreamResponse:
    _, path, key = await _find(request)
    document, problem = await _read(path, key)
    form = PersonaForm.from_data(document.data) if document else None
    return await _render_form(request, key, document, form, error=problem,
                              saved=request.query.get("saved") == "1")


async def persona_save(request: web.Request) -> web.StreamResponse:
    folder, path, key = await _find(request)
    document, problem = await _read(path, key)
    if document is None:
        return await _render_form(request, key, None, None, error=problem, status=409)
    posted = await read_form(request)
    version = form_text(posted, "version") or ""
    try:
        form = PersonaForm.from_post(posted)
    except FormError as exc:
        return await _render_form(request, key, document, PersonaForm.from_data(document.data),
                                  error=str(exc), status=400)
    if version != document.digest:
        return await _stale(request, key, form, version)
    try:
        text = dump(form.apply(document.data), document.header)
        await asyncio.to_thread(check, folder, key, text)
    except (FormError, PersonaError) as exc:
        # Nothing was written; the form comes back as posted, with the reason.
        return await _render_form(request, key, document, form, error=str(exc), status=400)
    try:
        await asyncio.to_thread(replace, path, text, version)
    except StaleDocument:
        return await _stale(request, key, form, version)
    location = request.app.router["persona"].url_for(key=key).with_query(saved="1")
    raise web.HTTPSeeOther(str(location))


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/personas", personas_list, name="personas")
    persona = router.add_resource("/personas/{key}", name="persona")
    persona.add_route("GET", persona_page)
    persona.add_route("POST", persona_save)
