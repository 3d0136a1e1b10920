"""The sales funnel through the real HTTP stack: the quiz reaches every segment, the
requirements interview ends in a document and a status, the FAQ menus, and a Stars
payment recorded once however often Telegram replays it."""

from __future__ import annotations

import asyncio

import pytest

from tests.telegram.bot_api_stub import ApiCall, callback, message, user
from tests.telegram.conftest import ANNA_TOKEN, Harness


def _buttons(call: ApiCall) -> list[dict[str, str]]:
    return [b for row in call.json("reply_markup")["inline_keyboard"] for b in row]


@pytest.mark.parametrize(("option", "segment"), [(0, "diy"), (1, "basic"), (2, "custom")])
async def test_the_quiz_reaches_each_segment(tg: Harness, option: int, segment: str) -> None:
    bot = await tg.add_bot(ANNA_TOKEN, "anna", funnel=True)
    await tg.start_manager()
    tg.stub.push(ANNA_TOKEN, message(601, "🚀 Start"))
    question = (await tg.stub.wait_sent(ANNA_TOKEN, "sendMessage"))[0]
    assert question.fields["text"].startswith("Question 1 of 4")
    keyboard = _buttons(question)
    for step in range(1, 5):
        tg.stub.push(ANNA_TOKEN, callback(601, keyboard[option]["callback_data"]))
        edit = (await tg.stub.wait_sent(ANNA_TOKEN, "editMessageText", step))[-1]
        if step < 4:
            assert edit.fields["text"].startswith(f"Question {step + 1} of 4")
            keyboard = _buttons(edit)
    assert await tg.bots.segment(bot.id, 601) == segment
    assert await tg.store.find_calls(channel="telegram") == []  # buttons are not a chat


async def test_the_requirements_interview_sends_a_document(tg: Harness) -> None:
    bot = await tg.add_bot(ANNA_TOKEN, "anna", funnel=True)
    await tg.start_manager()
    answers = ["A dental clinic; answer calls", "Phone and Telegram", "About 80 calls",
               "5000 USD", "By March 1"]
    tg.stub.push(ANNA_TOKEN, message(602, "📋 Requests"))
    for count, text in enumerate(answers, start=1):
        await tg.stub.wait_sent(ANNA_TOKEN, "sendMessage", count)
        tg.stub.push(ANNA_TOKEN, message(602, text))
    document = (await tg.stub.wait_sent(ANNA_TOKEN, "sendDocument"))[0]
    text = document.files["document"].decode()
    assert "## Budget\n\n5000 USD" in text and "**qualified**" in text
    assert "qualified" in document.fields["caption"]
    [lead] = await tg.bots.leads()
    assert (lead.bot_id, lead.chat_id, lead.status) == (bot.id, 602, "qualified")


async def test_faq_sections_are_inline_menus(tg: Harness) -> None:
    await tg.add_bot(ANNA_TOKEN, "anna", funnel=True)
    await tg.start_manager()
    tg.stub.push(ANNA_TOKEN, message(603, "❓ FAQ"))
    menu = (await tg.stub.wait_sent(ANNA_TOKEN, "sendMessage"))[0]
    assert [b["text"] for b in _buttons(menu)] == ["Product", "Installation",
                                                    "Pricing and support"]
    tg.stub.push(ANNA_TOKEN, callback(603, "faq:pricing"))
    section = (await tg.stub.wait_sent(ANNA_TOKEN, "editMessageText"))[0]
    tg.stub.push(ANNA_TOKEN, callback(603, _buttons(section)[0]["callback_data"]))
    entry = (await tg.stub.wait_sent(ANNA_TOKEN, "editMessageText", 2))[1]
    assert "free and open source" in entry.fields["text"]


async def test_funnel_buttons_do_nothing_on_a_bot_without_the_funnel(tg: Harness) -> None:
    await tg.add_bot(ANNA_TOKEN, "anna")
    await tg.start_manager()
    tg.stub.push(ANNA_TOKEN, message(604, "/quiz"))
    reply = (await tg.stub.wait_sent(ANNA_TOKEN, "sendMessage"))[0]
    assert reply.fields["text"] == "This bot has no such menu."


async def test_a_stars_payment_is_recorded_once_even_when_replayed(tg: Harness) -> None:
    bot = await tg.add_bot(ANNA_TOKEN, "anna", funnel=True)
    await tg.start_manager()
    tg.stub.push(ANNA_TOKEN, message(605, "💳 Payment"))
    offer = (await tg.stub.wait_sent(ANNA_TOKEN, "sendMessage"))[0]
    tg.stub.push(ANNA_TOKEN, callback(605, _buttons(offer)[0]["callback_data"]))
    invoice = (await tg.stub.wait_sent(ANNA_TOKEN, "sendInvoice"))[0]
    assert invoice.fields["currency"] == "XTR"
    payload = invoice.fields["payload"]
    amount = invoice.json("prices")[0]["amount"]

    tg.stub.push(ANNA_TOKEN, {"pre_checkout_query": {
        "id": "pcq-1", "from": user(605), "currency": "XTR", "total_amount": amount,
        "invoice_payload": payload}})
    checkout = (await tg.stub.wait_sent(ANNA_TOKEN, "answerPreCheckoutQuery"))[0]
    assert checkout.fields["ok"] == "true"

    paid = {"currency": "XTR", "total_amount": amount, "invoice_payload": payload,
            "telegram_payment_charge_id": "tg-charge-1", "provider_payment_charge_id": ""}
    for _ in range(2):  # Telegram redelivers an update it thinks was lost
        last = tg.stub.push(ANNA_TOKEN, message(605, successful_payment=paid))
    await tg.stub.wait_for(lambda: _fetched(tg, last))
    await asyncio.sleep(0.3)  # both handled (one chat's updates go in order)
    thanks = [c for c in tg.stub.sent(ANNA_TOKEN, "sendMessage")
              if "payment is received" in c.fields["text"]]
    [payment] = await tg.bots.payments()
    assert (payment.provider, payment.charge_id, payment.bot_id, payment.chat_id) == \
        ("stars", "tg-charge-1", bot.id, 605)
    assert len(thanks) == 1

    # A forged or stale invoice is refused before Telegram charges anyone.
    tg.stub.push(ANNA_TOKEN, {"pre_checkout_query": {
        "id": "pcq-2", "from": user(605), "currency": "XTR", "total_amount": 1,
        "invoice_payload": payload}})
    refused = (await tg.stub.wait_sent(ANNA_TOKEN, "answerPreCheckoutQuery", 2))[1]
    assert refused.fields["ok"] == "false"


def _fetched(tg: Harness, update_id: int) -> bool:
    """The bot has confirmed `update_id` (it asked for the ones after it)."""
    return any(int(c.fields.get("offset", 0) or 0) > update_id
               for c in tg.stub.sent(ANNA_TOKEN, "getUpdates"))
