"""The admin console as a person uses it, in headless Chromium: logging in through the
form (and a wrong password), the calls list, one call with its recordings playing (the
browser reads their length), its transcript and timing waterfall, editing a persona, and
the system page; screenshots of each page for a human to look at."""

from __future__ import annotations

import math
import re
from pathlib import Path

import yaml
from playwright.async_api import Page, expect

from tests.web.conftest import ADMIN, Console, Seeded

# The length of an <audio> element's media once its metadata is in (NaN before).
AUDIO_DURATION = """async (audio) => {
  if (audio.readyState < 1) {
    await new Promise((loaded, failed) => {
      audio.addEventListener('loadedmetadata', loaded, {once: true});
      audio.addEventListener('error', () => failed(new Error('audio error ' +
        (audio.error && audio.error.code))), {once: true});
      audio.load();
    });
  }
  return audio.duration;
}"""


def base_url(console: Console) -> str:
    return str(console.client.make_url("/")).rstrip("/")


async def log_in(page: Page, console: Console, username: str, password: str) -> None:
    await page.goto(base_url(console) + "/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", password)
    await page.click("button[type=submit]")


async def shot(page: Page, artifacts: Path, name: str) -> None:
    await page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)


async def test_wrong_password_shows_the_error(page: Page, console: Console) -> None:
    await log_in(page, console, ADMIN[0], "not-the-password")
    await expect(page.locator(".error")).to_have_text("Wrong user name or password.")
    assert page.url.endswith("/login")
    await expect(page.locator("input[name=username]")).to_have_value(ADMIN[0])


async def test_calls_and_a_call_with_recordings(page: Page, console: Console, seeded: Seeded,
                                                artifacts: Path) -> None:
    await log_in(page, console, *ADMIN)
    await expect(page.locator("#calls-today")).to_have_text("2")
    await shot(page, artifacts, "dashboard")

    await page.click("nav >> text=Calls")
    await expect(page.locator("h1")).to_have_text("Calls")
    await expect(page.locator(f'a[href="/calls/{seeded.old_call}"]').first).to_be_visible()
    await shot(page, artifacts, "calls")

    await page.locator(f'a[href="/calls/{seeded.old_call}"]').first.click()
    await page.wait_for_url(re.compile(rf"/calls/{seeded.old_call}$"))
    players = page.locator("audio")
    await expect(players).to_have_count(2)
    for index in range(2):
        duration = await players.nth(index).evaluate(AUDIO_DURATION)
        assert math.isfinite(duration) and abs(duration - 3.0) < 0.1, (index, duration)
    said = page.locator(".turns .text")
    await expect(said.first).to_be_visible()
    await expect(said).to_have_text(["Where are you located?",
                                     "We're at 12 Baker Street. Cleaning is 100% covered.",
                                     "<script>alert('x')</script>"])
    waterfall = page.locator(".waterfall").first
    await expect(waterfall).to_be_visible()
    bar = await waterfall.locator(".bar.first_rtp_ms").bounding_box()
    track = await waterfall.locator(".track").last.bounding_box()
    assert bar is not None and track is not None
    assert 0 < bar["width"] < track["width"] and bar["x"] > track["x"]
    await shot(page, artifacts, "call-detail")


async def test_edit_a_persona(page: Page, console: Console, artifacts: Path) -> None:
    assert console.config.personas_dir is not None
    path = console.config.personas_dir / "anna" / "persona.yaml"
    await log_in(page, console, *ADMIN)
    await page.click("nav >> text=Personas")
    await expect(page.locator("td.persona-name").first).to_have_text("Anna")
    await shot(page, artifacts, "personas")

    await page.click('a[href="/personas/anna"] >> text=edit')
    await expect(page.locator("input[name=name]")).to_have_value("Anna")
    await shot(page, artifacts, "persona-edit")
    await page.fill("input[name=name]", "Annie")
    new_row = page.locator(".faq-row.new-row")
    await new_row.locator("input[name$=-question]").fill("Do you whiten teeth?")
    await new_row.locator("textarea[name$=-answer]").fill("Yes, whitening takes one visit.")
    await page.click("button >> text=Save")
    await page.wait_for_url(re.compile(r"/personas/anna\?saved=1$"))
    await expect(page.locator(".saved")).to_contain_text("Saved.")

    await page.reload()
    await expect(page.locator("input[name=name]")).to_have_value("Annie")
    saved = yaml.safe_load(path.read_text("utf-8"))
    assert saved["name"] == "Annie"
    assert saved["faq"][-1]["question"] == "Do you whiten teeth?"

    # An invalid persona is refused with the reason, and the file stays as it was.
    before = path.read_bytes()
    await page.fill("input[name=hours_timezone]", "Nowhere/Atlantis")
    await page.click("button >> text=Save")
    await expect(page.locator("#form-error")).to_contain_text("Nowhere/Atlantis")
    assert path.read_bytes() == before


async def test_system_page(page: Page, console: Console, artifacts: Path) -> None:
    await log_in(page, console, *ADMIN)
    await page.click("nav >> text=System")
    await expect(page.locator("#asterisk")).to_contain_text("Asterisk unreachable")
    await expect(page.locator("#database-kind")).to_contain_text("SQLite")
    await shot(page, artifacts, "system")
