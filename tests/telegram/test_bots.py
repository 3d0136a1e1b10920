"""Bots answering through aiogram's real HTTP stack against the local Bot API stub:
personas, whitelist, conversations stored, flood control, a revoked token, reloads."""

from __future__ import annotations

import asyncio

from brain.store import Store
from tests.telegram.bot_api_stub import message
from tests.telegram.conftest import ANNA_TOKEN, MARINA_TOKEN, Harness


async def test_two_bots_answer_as_their_own_personas(tg: Harness) -> None:
    anna = await tg.add_bot(ANNA_TOKEN, "anna")
    marina = await tg.add_bot(MARINA_TOKEN, "marina")
    await tg.start_manager()
    tg.stub.push(ANNA_TOKEN, message(501, "Where is your office?"))
    tg.stub.push(MARINA_TOKEN, message(501, "Where is your office?"))
    anna_reply = (await tg.stub.wait_sent(ANNA_TOKEN, "sendMessage"))[0]
    marina_reply = (await tg.stub.wait_sent(MARINA_TOKEN, "sendMessage"))[0]
    assert "Baker Street" in anna_reply.fields["text"]
    assert "Tverskaya" in marina_reply.fields["text"]
    assert anna_reply.fields["chat_id"] == "501"

    # A second message continues the same stored conversation.
    tg.stub.push(ANNA_TOKEN, message(501, "Do you treat children?"))
    second = (await tg.stub.wait_sent(ANNA_TOKEN, "sendMessage", 2))[1]
    assert "children" in second.fields["text"]
    calls = await tg.store.find_calls(channel="telegram")
    assert sorted(c.external_id for c in calls) == [f"{anna.id}:501", f"{marina.id}:501"]
    anna_call = next(c for c in calls if c.persona == "anna")
    turns = await tg.store.turns(anna_call.id)
    assert [t.role for t in turns] == ["caller", "secretary"] * 2
    assert turns[2].text == "Do you treat children?"


async def test_start_sends_the_greeting_and_the_menu(tg: Harness) -> None:
    await tg.add_bot(ANNA_TOKEN, "anna", funnel=True)
    await tg.start_manager()
    tg.stub.push(ANNA_TOKEN, message(502, "/start"))
    reply = (await tg.stub.wait_sent(ANNA_TOKEN, "sendMessage"))[0]
    assert "Northwind Dental" in reply.fields["text"]
    labels = [b["text"] for row in reply.json("reply_markup")["keyboard"] for b in row]
    assert labels[:2] == ["📦 Products", "💳 Payment"] and "📋 Requests" in labels
    assert await tg.store.find_calls(channel="telegram") == []  # a greeting is no chat yet


async def test_a_user_off_the_whitelist_is_refused_and_nothing_is_stored(tg: Harness) -> None:
    await tg.add_bot(ANNA_TOKEN, "anna", whitelist=frozenset({700}))
    await tg.start_manager()
    tg.stub.push(ANNA_TOKEN, message(701, "Where is your office?"))
    refusal = (await tg.stub.wait_sent(ANNA_TOKEN, "sendMessage"))[0]
    assert "only talks to the people" in refusal.fields["text"]
    assert await tg.store.find_calls(channel="telegram") == []
    tg.stub.push(ANNA_TOKEN, message(700, "Where is your office?"))
    allowed = (await tg.stub.wait_sent(ANNA_TOKEN, "sendMessage", 2))[1]
    assert "Baker Street" in allowed.fields["text"]
    assert len(await tg.store.find_calls(channel="telegram")) == 1


async def test_unsupported_messages_get_a_clear_answer(tg: Harness) -> None:
    await tg.add_bot(ANNA_TOKEN, "anna")
    await tg.start_manager()
    tg.stub.push(ANNA_TOKEN, message(503, sticker={
        "file_id": "s", "file_unique_id": "s", "type": "regular", "width": 1, "height": 1,
        "is_animated": False, "is_video": False}))
    reply = (await tg.stub.wait_sent(ANNA_TOKEN, "sendMessage"))[0]
    assert "text and voice messages only" in reply.fields["text"]


async def test_flood_control_retry_after_is_honoured(tg: Harness) -> None:
    await tg.add_bot(ANNA_TOKEN, "anna")
    await tg.start_manager()
    tg.stub.rate_limit("sendMessage", 1)
    tg.stub.push(ANNA_TOKEN, message(504, "Where is your office?"))
    first, second = await tg.stub.wait_sent(ANNA_TOKEN, "sendMessage", 2)
    assert second.at - first.at >= 0.95  # waited what Telegram asked, then sent it
    assert "Baker Street" in second.fields["text"]


async def test_a_revoked_token_marks_its_bot_as_error_and_the_other_runs(tg: Harness) -> None:
    anna = await tg.add_bot(ANNA_TOKEN, "anna")
    marina = await tg.add_bot(MARINA_TOKEN, "marina")
    tg.stub.revoked.add(ANNA_TOKEN)
    manager = await tg.start_manager()
    await tg.wait_running(anna.id)
    await tg.wait_running(marina.id)
    status = manager.status(anna.id)
    assert status is not None and status.status == "error"
    assert "rejected the token" in (status.error or "")
    assert manager.status(marina.id).status == "running"  # type: ignore[union-attr]
    tg.stub.push(MARINA_TOKEN, message(505, "Where is your office?"))
    await tg.stub.wait_sent(MARINA_TOKEN, "sendMessage")


async def test_reload_restarts_one_bot_and_leaves_the_other_alone(tg: Harness) -> None:
    anna = await tg.add_bot(ANNA_TOKEN, "anna")
    marina = await tg.add_bot(MARINA_TOKEN, "marina")
    manager = await tg.start_manager()
    await tg.wait_running(anna.id)
    await tg.wait_running(marina.id)
    marina_runtime = manager.runtime(marina.id)

    await tg.bots.set_enabled(anna.id, False)
    await manager.reload(anna.id)
    assert manager.status(anna.id) is None
    assert manager.runtime(marina.id) is marina_runtime  # untouched

    await tg.bots.set_enabled(anna.id, True)
    await manager.reload(anna.id)
    await tg.wait_running(anna.id)
    tg.stub.push(ANNA_TOKEN, message(506, "Where is your office?"))
    await tg.stub.wait_sent(ANNA_TOKEN, "sendMessage")
    assert manager.runtime(marina.id) is marina_runtime


async def test_owner_notification_is_sent_once_across_a_restart(tg: Harness,
                                                                  ) -> None:
    old = await _message(tg.store, "Before the bot")  # history is not sent
    anna = await tg.add_bot(ANNA_TOKEN, "anna", owner_chat_id=9000)
    assert anna.notified_message_id == old
    await tg.start_manager()
    await tg.wait_running(anna.id)
    await _message(tg.store, "Ivan Petrov")
    sent = await tg.stub.wait_sent(ANNA_TOKEN, "sendMessage")
    assert sent[0].fields["chat_id"] == "9000" and "Ivan Petrov" in sent[0].fields["text"]

    await tg.manager.stop()
    await tg.start_manager()
    await tg.wait_running(anna.id)
    await _message(tg.store, "Olga Ivanova")
    sent = await tg.stub.wait_sent(ANNA_TOKEN, "sendMessage", 2)
    await asyncio.sleep(0.5)  # a few notifier passes: nothing is sent again
    texts = [c.fields["text"] for c in tg.stub.sent(ANNA_TOKEN, "sendMessage")]
    assert len(texts) == 2 and "Olga Ivanova" in texts[1]
    assert not any("Before the bot" in t for t in texts)


async def _message(store: Store, name: str) -> int:
    from datetime import UTC, datetime
    return await store.save_message(call_id=None, name=name, callback_number="+79123456789",
                                    reason="Please call back", language="en",
                                    created_at=datetime.now(UTC))
