"""The JSON API behind bearer tokens, /health and /metrics."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from aiohttp.test_utils import TestClient

from tests.web.conftest import TIMINGS, Console, Seeded


async def bearer(console: Console, username: str = "viewer") -> dict[str, str]:
    return {"Authorization": f"Bearer {await console.accounts.create_token(username, 'ci')}"}


async def test_api_needs_a_valid_token(console: Console, seeded: Seeded) -> None:
    client = console.client
    token = await console.accounts.create_token("viewer")
    for headers in ({}, {"Authorization": "Bearer"}, {"Authorization": "Bearer sct_nope"},
                    {"Authorization": f"Basic {token}"}, {"Authorization": token},
                    {"Authorization": f"Bearer {token}x"}):
        response = await client.get("/api/v1/calls", headers=headers)
        assert response.status == 401, headers
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="secretary"'
        assert (await response.json()) == {"error": "a valid bearer token is required"}
    good = await client.get("/api/v1/calls", headers={"Authorization": f"Bearer {token}"})
    assert good.status == 200
    assert good.content_type == "application/json"


async def test_a_console_login_does_not_open_the_api(admin: TestClient, seeded: Seeded
                                                     ) -> None:
    assert (await admin.get("/api/v1/calls")).status == 401


async def test_tokens_are_stored_as_digests_only(console: Console) -> None:
    token = await console.accounts.create_token("admin", "backup")
    rows = await console.writer.run_in_db_thread(
        lambda: console.writer.database.execute_sql(
            "SELECT digest, name FROM api_tokens").fetchall())
    assert len(rows) == 1
    digest, name = rows[0]
    assert name == "backup" and token not in digest and len(digest) == 64


async def test_api_calls_list_filters_and_pages(console: Console, seeded: Seeded) -> None:
    client, headers = console.client, await bearer(console)
    body = await (await client.get("/api/v1/calls", headers=headers)).json()
    assert body["total"] == 3
    assert [c["id"] for c in body["calls"]] == [seeded.active_call, seeded.today_call,
                                                seeded.old_call]
    old = body["calls"][2]
    assert old["caller"] == "Tester"
    assert datetime.fromisoformat(old["started_at"]).tzinfo is not None
    assert old["ended_at"] is not None and body["calls"][0]["ended_at"] is None

    found = await (await client.get("/api/v1/calls?q=%27+OR+1%3D1+--",
                                    headers=headers)).json()
    assert (found["total"], found["calls"]) == (0, [])
    found = await (await client.get("/api/v1/calls?q=located&from=2024-05-06&to=2024-05-06",
                                    headers=headers)).json()
    assert [c["id"] for c in found["calls"]] == [seeded.old_call]
    window = await (await client.get("/api/v1/calls?limit=1&offset=1",
                                     headers=headers)).json()
    assert [c["id"] for c in window["calls"]] == [seeded.today_call]
    assert (window["total"], window["limit"], window["offset"]) == (3, 1, 1)
    for query in ("limit=0", "limit=201", "offset=-1", "from=nope", "q=%00"):
        response = await client.get(f"/api/v1/calls?{query}", headers=headers)
        assert response.status == 400, query
        assert "error" in await response.json()


async def test_api_call_detail(console: Console, seeded: Seeded) -> None:
    client, headers = console.client, await bearer(console)
    body = await (await client.get(f"/api/v1/calls/{seeded.today_call}",
                                   headers=headers)).json()
    assert body["call"]["outcome"] == "message"
    assert [t["role"] for t in body["turns"]] == ["caller", "secretary"]
    assert body["turns"][1]["timings"] == TIMINGS
    assert body["messages"][0]["name"] == "Ivan Petrov"
    for bad in ("999999", "abc", "99999999999999999999999"):
        response = await client.get(f"/api/v1/calls/{bad}", headers=headers)
        assert response.status == 404, bad
        assert response.content_type == "application/json"
        assert "error" in await response.json()


async def test_api_messages(console: Console, seeded: Seeded) -> None:
    body = await (await console.client.get("/api/v1/messages",
                                           headers=await bearer(console))).json()
    assert body["total"] == 1
    [message] = body["messages"]
    assert (message["name"], message["call_id"]) == ("Ivan Petrov", seeded.today_call)


async def test_api_refuses_changes(console: Console) -> None:
    response = await console.client.post("/api/v1/calls", headers=await bearer(console))
    assert response.status == 405


async def test_health_reports_the_database(console: Console) -> None:
    response = await console.client.get("/health")
    assert response.status == 200
    assert await response.json() == {"status": "ok", "database": "ok"}
    from web.state import STORE

    await console.client.app[STORE].close()  # the database is gone for the console
    response = await console.client.get("/health")
    assert response.status == 503
    assert await response.json() == {"status": "error", "database": "unreachable"}


def sample(text: str, name: str, **labels: str) -> float:
    label_text = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    pattern = re.escape(name) + (r"\{" + re.escape(label_text) + r"\}" if labels else "")
    found = re.search("^" + pattern + r" ([0-9.e+-]+)$", text, re.MULTILINE)
    assert found, f"no {name} {labels} in metrics"
    return float(found.group(1))


async def test_metrics_from_the_database_and_the_process(console: Console, seeded: Seeded
                                                         ) -> None:
    response = await console.client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = await response.text()
    assert sample(text, "secretary_calls_total", channel="phone") == 3
    assert sample(text, "secretary_calls_active") == 1
    assert sample(text, "secretary_turns_total", role="caller") == 3
    assert sample(text, "secretary_turns_total", role="secretary") == 2
    assert sample(text, "secretary_messages_total") == 1
    assert sample(text, "secretary_calls_ended_total", reason="caller said goodbye") == 1
    assert sample(text, "secretary_errors_total", source="call",
                  type="behaviour failed") == 0
    assert sample(text, "secretary_reply_stage_seconds_count", stage="first_rtp") == 2
    assert sample(text, "secretary_reply_stage_seconds_sum", stage="first_rtp") == 2.9
    assert sample(text, "secretary_reply_stage_seconds_bucket", le="1.25",
                  stage="first_rtp") == 1
    assert sample(text, "secretary_reply_stage_seconds_count", stage="llm_first_token") == 1
    assert sample(text, "process_resident_memory_bytes") > 0
    assert "process_cpu_seconds_total" in text

    # A new turn is counted once, however many scrapes see it.
    await console.writer.add_turn(seeded.active_call, role="secretary", text="Hello",
                                  started_at=datetime.now(UTC),
                                  timings={"first_rtp_ms": 400.0})
    await console.writer.end_call(seeded.active_call, ended_at=datetime.now(UTC),
                                  reason="behaviour failed")
    for _ in range(2):
        text = await (await console.client.get("/metrics")).text()
    assert sample(text, "secretary_reply_stage_seconds_count", stage="first_rtp") == 3
    assert sample(text, "secretary_calls_active") == 0
    assert sample(text, "secretary_errors_total", source="call",
                  type="behaviour failed") == 1
