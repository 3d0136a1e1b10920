"""The personas pages over a copy of the shipped personas: the list, the edit form, saving
(checked by brain.persona's loader, written atomically, other keys kept), and what must
never happen: a save without the CSRF token or by a viewer, a key that leaves the folder,
an invalid persona written, markup in a name reaching the page unescaped."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import yaml
from aiohttp.test_utils import TestClient
from yarl import URL

from brain.persona import load_persona
from tests.web.conftest import Console, csrf_token

FIELD = re.compile(r'<(input|textarea)[^>]*\bname="([^"]+)"[^>]*>')


def persona_yaml(console: Console, key: str = "anna") -> Path:
    assert console.config.personas_dir is not None
    return console.config.personas_dir / key / "persona.yaml"


def form_fields(page: str) -> dict[str, str]:
    """The edit form's fields with their values, as a browser would send them (boxes
    unticked)."""
    fields: dict[str, str] = {}
    for match in FIELD.finditer(page):
        tag, name = match.group(1), match.group(2)
        if 'type="checkbox"' in match.group(0):
            continue
        if tag == "input":
            value = re.search(r'\bvalue="([^"]*)"', match.group(0))
            fields[name] = html.unescape(value.group(1)) if value else ""
        else:
            body = page[match.end():page.index("</textarea>", match.end())]
            fields[name] = html.unescape(body)
    return fields


async def edit_form(client: TestClient, key: str = "anna") -> dict[str, str]:
    response = await client.get(f"/personas/{key}")
    assert response.status == 200
    return form_fields(await response.text())


async def save(client: TestClient, fields: dict[str, Any], key: str = "anna",
               status: int = 303) -> str:
    response = await client.post(f"/personas/{key}", data=fields, allow_redirects=False)
    body = await response.text()
    assert response.status == status, (response.status, body[:800])
    return body


async def test_list_shows_the_personas_and_the_restart_note(admin: TestClient) -> None:
    text = await (await admin.get("/personas")).text()
    assert 'href="/personas/anna"' in text and 'href="/personas/marina"' in text
    assert "_common" not in text
    assert "Northwind Dental" in text and "Марина" in text
    assert "after the secretary is restarted" in text


async def test_edit_form_shows_everything_the_yaml_has(admin: TestClient) -> None:
    fields = await edit_form(admin)
    assert fields["name"] == "Anna" and fields["company"] == "Northwind Dental"
    assert fields["languages"] == "en, ru" and fields["voice"] == "anna"
    assert fields["greeting.ru"].startswith("Здравствуйте")
    assert "{{ contact }}" in fields["greeting_known.en"]
    assert fields["hours_timezone"] == "Europe/London"
    assert "mon-fri: 09:00-18:00" in fields["hours_schedule"].splitlines()
    assert fields["transfer-0-endpoint"] == "PJSIP/operator"
    assert fields["faq-0-question"] == "Where are you located?"
    assert "How do I find you?" in fields["faq-0-alternatives"].splitlines()
    assert fields["faq-9-language"] == "ru"
    faq_rows = {int(n.split("-")[1]) for n in fields if n.startswith("faq-")}
    assert max(faq_rows) == 12  # twelve entries and one empty row for a new one
    text = await (await admin.get("/personas/anna")).text()
    assert "openai/qwen at http://127.0.0.1:9/v1" in text  # the LLM chain, read-only


async def test_save_changes_the_file_and_keeps_the_rest(admin: TestClient,
                                                        console: Console) -> None:
    path = persona_yaml(console)
    before = yaml.safe_load(path.read_text("utf-8"))
    fields = await edit_form(admin)
    fields.update({
        "name": "Annabel",
        "greeting.en": "Good day, {{ company }}, {{ name }} speaking.",
        "faq-12-question": "Do you open on Sundays?",
        "faq-12-answer": "No, we are closed on Sundays.",
        "faq-12-alternatives": "Are you open on Sunday?\nSunday hours?",
        "faq-1-remove": "1",
        "transfer-1-name": "billing", "transfer-1-endpoint": "PJSIP/201",
        "transfer-1-ring_timeout_s": "15",
        "hours_schedule": "mon-fri: 08:00-17:00\nsat: closed\nsun: closed",
        "csrf_token": await csrf_token(admin, "/personas/anna"),
    })
    await save(admin, fields)
    after = yaml.safe_load(path.read_text("utf-8"))
    assert after["name"] == "Annabel"
    assert after["greeting"]["en"] == "Good day, {{ company }}, {{ name }} speaking."
    assert after["greeting"]["ru"] == before["greeting"]["ru"]
    assert after["hours"]["schedule"] == {"mon-fri": "08:00-17:00", "sat": "closed",
                                          "sun": "closed"}
    questions = [f["question"] for f in after["faq"]]
    assert "How much does a cleaning cost?" not in questions  # row 1 removed
    assert questions[-1] == "Do you open on Sundays?"
    assert after["faq"][-1]["alternatives"] == ["Are you open on Sunday?", "Sunday hours?"]
    assert after["faq"][0]["keywords"] == before["faq"][0]["keywords"]
    assert after["transfer"][1] == {"name": "billing", "endpoint": "PJSIP/201",
                                    "ring_timeout_s": 15}
    # keys the form does not edit, and the file's leading comment, are still there
    assert after["style"] == before["style"] and after["company"] == before["company"]
    assert path.read_text("utf-8").startswith('# Persona "Anna"')
    persona = load_persona(path.parent.parent, "anna")  # the brain loads what was written
    assert persona.name == "Annabel" and len(persona.faq) == len(before["faq"])
    page = await (await admin.get("/personas/anna?saved=1")).text()
    assert "Saved." in page and 'value="Annabel"' in page
    assert not list(path.parent.glob("*.tmp"))  # no temporary file left behind


async def test_invalid_input_is_400_and_nothing_is_written(admin: TestClient,
                                                           console: Console) -> None:
    path = persona_yaml(console)
    original = path.read_bytes()
    fields = await edit_form(admin)
    token = await csrf_token(admin, "/personas/anna")
    cases = [
        ({"hours_timezone": "Mars/Olympus"}, "Mars/Olympus"),
        ({"greeting.en": "", "greeting.ru": ""}, "greeting"),
        ({"greeting.en": "Hello {{ name "}, "template"),
        ({"greeting.en": "Hello {{ nobody_knows }}"}, "nobody_knows"),
        ({"hours_schedule": "whenever"}, "opening hours"),
        ({"transfer-0-ring_timeout_s": "soon"}, "ring timeout"),
        ({"faq-0-answer": ""}, "question and an answer"),
        ({"name": ""}, "name"),
    ]
    for change, reason in cases:
        body = await save(admin, {**fields, **change, "csrf_token": token}, status=400)
        assert reason in html.unescape(body), (change, body[:2000])
        assert 'role="alert"' in body
        assert path.read_bytes() == original, change
    assert not list(path.parent.glob("*.tmp"))


async def test_script_tags_in_names_are_escaped(admin: TestClient, console: Console) -> None:
    fields = await edit_form(admin)
    evil = "<script>alert('x')</script>"
    fields.update(name=evil, csrf_token=await csrf_token(admin, "/personas/anna"))
    await save(admin, fields)
    assert yaml.safe_load(persona_yaml(console).read_text("utf-8"))["name"] == evil
    for path in ("/personas", "/personas/anna"):
        text = await (await admin.get(path)).text()
        assert "<script>" not in text, path
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in text, path


async def test_saving_needs_the_csrf_token(admin: TestClient, console: Console) -> None:
    path = persona_yaml(console)
    original = path.read_bytes()
    fields = {**await edit_form(admin), "name": "Mallory"}
    del fields["csrf_token"]  # the page's own token: the forger does not have it
    for extra in ({}, {"csrf_token": "not-the-token"}):
        response = await admin.post("/personas/anna", data={**fields, **extra},
                                    allow_redirects=False)
        assert response.status == 403
    assert path.read_bytes() == original


async def test_a_viewer_sees_the_form_read_only_and_cannot_save(viewer: TestClient,
                                                                console: Console) -> None:
    path = persona_yaml(console)
    original = path.read_bytes()
    text = await (await viewer.get("/personas/anna")).text()
    assert "<fieldset disabled>" in text and ">Save</button>" not in text
    fields = {**form_fields(text), "name": "Eve",
              "csrf_token": await csrf_token(viewer, "/personas/anna")}
    response = await viewer.post("/personas/anna", data=fields, allow_redirects=False)
    assert response.status == 403
    assert path.read_bytes() == original


async def test_a_stale_form_is_refused(admin: TestClient, console: Console) -> None:
    path = persona_yaml(console)
    fields = await edit_form(admin)
    path.write_text(path.read_text("utf-8").replace("Northwind", "Southwind"), "utf-8")
    changed = path.read_bytes()
    fields.update(name="Late", csrf_token=await csrf_token(admin, "/personas/anna"))
    body = await save(admin, fields, status=409)
    assert "changed since this form was opened" in body
    assert path.read_bytes() == changed


async def test_keys_outside_the_personas_folder_are_404(admin: TestClient, console: Console,
                                                        tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "persona.yaml").write_text("name: Outside\n")
    assert console.config.personas_dir is not None
    (console.config.personas_dir / "linked").symlink_to(outside)
    token = await csrf_token(admin, "/personas/anna")
    root = str(admin.make_url("/personas/"))
    for raw in ("..", "..%2F..%2Fetc", "%2E%2E", "..%2Felsewhere", "_common", "linked",
                "nope", "anna%2F..%2Fmarina", "anna%00", ".anna", "-rf", "a" * 65,
                "%2Fetc%2Fpasswd", "anna%5C..", "%252e%252e"):
        url = URL(root + raw, encoded=True)
        response = await admin.session.get(url)
        assert response.status == 404, raw
        posted = await admin.session.post(url, data={"csrf_token": token, "name": "x"})
        assert posted.status == 404, raw
    assert (outside / "persona.yaml").read_text() == "name: Outside\n"
    listed = await (await admin.get("/personas")).text()
    assert "linked" not in listed and "_common" not in listed


async def test_a_persona_file_that_does_not_load_is_shown_not_500(admin: TestClient,
                                                                  console: Console) -> None:
    path = persona_yaml(console, "marina")
    path.write_text("name: [unclosed\n", "utf-8")
    listed = await admin.get("/personas")
    assert listed.status == 200
    assert "does not load" in await listed.text()
    page = await admin.get("/personas/marina")
    assert page.status == 200
    assert "cannot be read" in await page.text()
