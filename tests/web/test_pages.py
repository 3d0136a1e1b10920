"""The pages over a real database: dashboard figures, the calls list and its filters and
search (hostile text included), a call in detail, messages, and recordings."""

from __future__ import annotations

import html
import os
import re
from datetime import timedelta

from aiohttp.test_utils import TestClient
from yarl import URL

from tests.web.conftest import OLD_DAY, Console, Seeded


def call_ids(text: str) -> list[int]:
    return [int(n) for n in re.findall(r'href="/calls/(\d+)"', text)]


async def page(client: TestClient, path: str, status: int = 200) -> str:
    response = await client.get(path)
    body = await response.text()
    assert response.status == status, (path, response.status, body[:500])
    return body


async def test_dashboard_counts_today_active_messages_and_latency(
        admin: TestClient, seeded: Seeded) -> None:
    text = await page(admin, "/")
    # Today: the +7912 call and the active one; the 2024 call is not today.
    assert re.search(r'id="calls-today">2<', text)
    assert re.search(r'id="calls-active">1<', text)
    assert re.search(r'id="messages-today">1<', text)
    assert "p50 1200 ms · p95 1200 ms" in text  # one reply today, first RTP at 1200 ms
    assert f'href="/calls/{seeded.active_call}"' in text
    assert "Ivan Petrov" in text


async def test_calls_list_newest_first(admin: TestClient, seeded: Seeded) -> None:
    text = await page(admin, "/calls")
    assert call_ids(text) == [seeded.active_call, seeded.today_call, seeded.old_call]
    assert "in progress" in text and "3 in all" in text


async def test_calls_filters_by_dates_caller_and_words(admin: TestClient, seeded: Seeded
                                                        ) -> None:
    day = OLD_DAY.date().isoformat()
    assert call_ids(await page(admin, f"/calls?from={day}&to={day}")) == [seeded.old_call]
    assert seeded.old_call not in call_ids(
        await page(admin, f"/calls?from={(OLD_DAY.date() + timedelta(days=1)).isoformat()}"))
    assert call_ids(await page(admin, "/calls?caller=7912")) == [seeded.today_call]
    assert call_ids(await page(admin, "/calls?caller=tester")) == [seeded.old_call]
    assert call_ids(await page(admin, "/calls?q=located")) == [seeded.old_call]
    assert call_ids(await page(admin, "/calls?q=LEAVE+A+MESSAGE")) == [seeded.today_call]
    assert call_ids(await page(admin, "/calls?q=located&caller=7912")) == []


async def test_search_text_is_plain_text_not_sql_nor_wildcards(admin: TestClient,
                                                               seeded: Seeded) -> None:
    text = await page(admin, "/calls?" + "q=" + "%27%20OR%201%3D1%20--")
    assert call_ids(text) == []
    assert "No calls match." in text
    assert 'value="&#39; OR 1=1 --"' in text  # given back, escaped
    assert call_ids(await page(admin, "/calls?q=%25")) == [seeded.old_call]  # "100%"
    assert call_ids(await page(admin, "/calls?q=_")) == []
    assert call_ids(await page(admin, '/calls?q=%22%29%3B+DROP+TABLE+calls%3B+--')) == []
    assert len(call_ids(await page(admin, "/calls"))) == 3  # the table is still there


async def test_script_tags_are_escaped(admin: TestClient, seeded: Seeded) -> None:
    text = await page(admin, "/calls?q=%3Cscript%3Ealert('x')%3C%2Fscript%3E")
    assert "<script>" not in text
    assert "&lt;script&gt;" in text
    assert call_ids(text) == [seeded.old_call]
    detail = await page(admin, f"/calls/{seeded.old_call}")
    assert "<script>" not in detail
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in detail


async def test_bad_filter_input_is_400(admin: TestClient, seeded: Seeded) -> None:
    for query in ("from=yesterday", "to=2024-13-01", "from=2024-05-07&to=2024-05-06",
                  "from=0001-01-01", "page=abc", "page=0", "page=-1", "page=1e9",
                  "page=99999999999999999999", "q=" + "x" * 201, "q=%00", "caller=a%00b"):
        response = await admin.get("/calls?" + query)
        assert response.status == 400, query
        assert "Bad Request" in await response.text()


async def test_calls_pages_keep_the_filter(admin: TestClient, console: Console) -> None:
    for n in range(27):
        await console.writer.start_call(channel="phone", external_id=f"bulk-{n}",
                                        caller="bulk caller", persona="anna",
                                        started_at=OLD_DAY + timedelta(minutes=n))
    first = await page(admin, "/calls?caller=bulk")
    assert len(call_ids(first)) == 25
    assert "page 1 of 2 · 27 in all" in first
    assert 'href="/calls?caller=bulk&amp;page=2"' in first
    second = await page(admin, "/calls?caller=bulk&page=2")
    assert len(call_ids(second)) == 2
    assert not set(call_ids(first)) & set(call_ids(second))
    assert len(call_ids(await page(admin, "/calls?caller=bulk&page=9"))) == 0


async def test_call_detail_shows_audio_transcript_timings(admin: TestClient,
                                                          seeded: Seeded) -> None:
    text = await page(admin, f"/calls/{seeded.old_call}")
    stem = seeded.recording_stem
    assert f'<audio controls preload="metadata" src="/recordings/{stem}_input.wav">' in text
    assert f'src="/recordings/{stem}_output.wav"' in text
    assert f'href="/recordings/{stem}_transcript.txt"' in text
    said = [html.unescape(t) for t in re.findall(r'<p class="text">(.*?)</p>', text)]
    assert said == ["Where are you located?",
                    "We're at 12 Baker Street. Cleaning is 100% covered.",
                    "<script>alert('x')</script>"]
    assert "the caller heard: “We&#39;re at 12 Baker Street.”" in text
    bars = re.findall(r'class="bar (\w+)" style="margin-left: ([\d.]+)%; width: ([\d.]+)%"',
                      text)
    assert [b[0] for b in bars] == ["end_of_turn_ms", "stt_final_ms", "first_clause_ms",
                                    "first_tts_chunk_ms", "llm_first_token_ms",
                                    "first_rtp_ms"]
    assert bars[-1] == ("first_rtp_ms", "88.24", "11.76")  # 1500..1700 of 1700 ms
    assert "1700 ms" in text


async def test_call_detail_lists_its_messages(admin: TestClient, seeded: Seeded) -> None:
    text = await page(admin, f"/calls/{seeded.today_call}")
    assert "Ivan Petrov" in text and "About my crown" in text
    assert "No recordings for this call." in text


async def test_bad_call_ids_are_404(admin: TestClient, seeded: Seeded) -> None:
    for path in ("/calls/999999", "/calls/abc", "/calls/-1", "/calls/1.5",
                 "/calls/99999999999999999999999", "/calls/%D9%A3", "/calls/%00"):
        response = await admin.get(path)
        assert response.status == 404, path


async def test_messages_list(admin: TestClient, seeded: Seeded, console: Console) -> None:
    await console.writer.save_message(call_id=None, name="<b>Olga</b>",
                                      callback_number="+7 916 000-00-00", reason="Call me",
                                      language="ru", created_at=OLD_DAY)
    text = await page(admin, "/messages")
    assert text.index("Ivan Petrov") < text.index("&lt;b&gt;Olga&lt;/b&gt;")
    assert f'href="/calls/{seeded.today_call}"' in text
    assert "2 in all" in text
    assert (await admin.get("/messages?page=x")).status == 400


async def test_recording_is_served_with_range(admin: TestClient, seeded: Seeded,
                                              console: Console) -> None:
    name = f"{seeded.recording_stem}_input.wav"
    whole = (console.calls_log / name).read_bytes()
    full = await admin.get(f"/recordings/{name}")
    assert full.status == 200
    assert full.headers["Content-Type"] == "audio/wav"
    assert await full.read() == whole
    part = await admin.get(f"/recordings/{name}", headers={"Range": "bytes=100-199"})
    assert part.status == 206
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(whole)}"
    assert await part.read() == whole[100:200]
    transcript = await admin.get(f"/recordings/{seeded.recording_stem}_transcript.txt")
    assert await transcript.text() == "[00:00.0] caller: hello\n"


async def test_nothing_outside_the_recordings_is_served(admin: TestClient, seeded: Seeded,
                                                        console: Console, tmp_path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    os.symlink(secret, console.calls_log / "call_20240101_000000_000000_transcript.txt")
    root = str(admin.make_url("/recordings/"))
    attempts = [
        "..%2Fsecret.txt", "..%2F..%2F..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd",
        "%2E%2E%2Fsecret.txt", "..%5Csecret.txt", "secretary.db", "secretary.db-wal",
        "call_20240101_000000_000000_transcript.txt",  # a symlink out of the folder
        f"{seeded.recording_stem}_input.wav%00.txt",
        f"..%2Fcalls_log%2F{seeded.recording_stem}_input.wav",
        "call_x_input.wav", "%252e%252e%252fsecret.txt",
    ]
    for raw in attempts:
        response = await admin.session.get(URL(root + raw, encoded=True))
        body = await response.read()
        assert response.status in (400, 404), (raw, response.status)
        assert b"top secret" not in body and b"root:" not in body, raw
    for raw in ("../secret.txt", "/etc/passwd", "//etc/passwd"):
        response = await admin.session.get(URL(root + raw, encoded=True))
        assert response.status in (400, 404), raw
        assert b"top secret" not in await response.read()
