"""The sales funnel through the real HTTP stack: the quiz reaches every segment, the
requirements interview ends in a document and a status, the FAQ menus, each in the
user's Telegram language and from the configured funnel file, and a Stars payment
recorded once however often Telegram replays it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml

from channels.telegram.funnel import DEFAULT_FUNNEL_FILE, FunnelFileError
from secretary.settings import load_settings
from secretary.telegram import telegram_config
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


@pytest.mark.parametrize(("language", "first", "last", "segment"), [
    ("ru", "Вопрос 1 из 4: Кто будет настраивать секретаря?", "Вопрос 4 из 4",
     "Вам подходит тариф «Базовый»"),
    ("ru-RU", "Вопрос 1 из 4", "Вопрос 4 из 4", "Вам подходит тариф «Базовый»"),
    ("en", "Question 1 of 4: Who will set the secretary up?", "Question 4 of 4",
     "The Basic plan suits you"),
    ("de", "Question 1 of 4", "Question 4 of 4", "The Basic plan suits you"),  # fallback
])
async def test_the_quiz_speaks_the_users_language(
        tg: Harness, language: str, first: str, last: str, segment: str) -> None:
    await tg.add_bot(ANNA_TOKEN, "anna", funnel=True)
    await tg.start_manager()
    tg.stub.push(ANNA_TOKEN, message(611, "/quiz", language=language))
    question = (await tg.stub.wait_sent(ANNA_TOKEN, "sendMessage"))[0]
    assert question.fields["text"].startswith(first)
    keyboard = _buttons(question)
    for step in range(1, 5):
        tg.stub.push(ANNA_TOKEN, callback(611, keyboard[1]["callback_data"], language=language))
        edit = (await tg.stub.wait_sent(ANNA_TOKEN, "editMessageText", step))[-1]
        keyboard = _buttons(edit) if step < 4 else []
        if step == 3:
            assert edit.fields["text"].startswith(last)
    assert edit.fields["text"].startswith(segment)


async def test_the_faq_speaks_russian_to_a_russian_user(tg: Harness) -> None:
    await tg.add_bot(ANNA_TOKEN, "anna", funnel=True)
    await tg.start_manager()
    tg.stub.push(ANNA_TOKEN, message(612, "/faq", language="ru"))
    menu = (await tg.stub.wait_sent(ANNA_TOKEN, "sendMessage"))[0]
    assert menu.fields["text"] == "Вопросы и ответы: выберите раздел."
    assert [b["text"] for b in _buttons(menu)] == ["О продукте", "Установка",
                                                    "Цены и поддержка"]
    tg.stub.push(ANNA_TOKEN, callback(612, "faq:pricing", language="ru"))
    section = (await tg.stub.wait_sent(ANNA_TOKEN, "editMessageText"))[0]
    assert [b["text"] for b in _buttons(section)] == [
        "Сколько это стоит?", "Как получить поддержку?", "⬅️ Назад"]
    tg.stub.push(ANNA_TOKEN, callback(612, "faq:pricing:0", language="ru"))
    entry = (await tg.stub.wait_sent(ANNA_TOKEN, "editMessageText", 2))[1]
    assert "Сама программа бесплатна" in entry.fields["text"]


async def test_a_russian_interview_gets_a_russian_document(tg: Harness) -> None:
    await tg.add_bot(ANNA_TOKEN, "anna", funnel=True)
    await tg.start_manager()
    answers = ["Стоматология; отвечать на звонки", "Телефон и Telegram", "Около 80 звонков",
               "300 тыс. рублей", "К 1 марта"]
    tg.stub.push(ANNA_TOKEN, message(613, "/requirements", language="ru"))
    intro = (await tg.stub.wait_sent(ANNA_TOKEN, "sendMessage"))[0]
    assert intro.fields["text"].startswith("Давайте запишем ваши требования")
    for count, text in enumerate(answers, start=1):
        await tg.stub.wait_sent(ANNA_TOKEN, "sendMessage", count)
        tg.stub.push(ANNA_TOKEN, message(613, text, language="ru"))
    document = (await tg.stub.wait_sent(ANNA_TOKEN, "sendDocument"))[0]
    text = document.files["document"].decode()
    assert "# Требования" in text and "## Бюджет\n\n300 тыс. рублей" in text
    assert "**квалифицирован**" in text
    assert document.fields["caption"] == "Ваши требования. Статус: квалифицирован."
    [lead] = await tg.bots.leads()
    assert lead.status == "qualified"  # the status itself is language-neutral


async def test_the_funnel_file_setting_changes_the_quiz(
        tg: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = yaml.safe_load(DEFAULT_FUNNEL_FILE.read_text(encoding="utf-8"))
    data["languages"]["en"]["quiz"][0]["text"] = "Who runs your front desk?"
    custom = tmp_path / "our-funnel.yaml"
    custom.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("SECRETARY_TELEGRAM__FUNNEL_FILE", str(custom))
    config = telegram_config(load_settings())
    await tg.add_bot(ANNA_TOKEN, "anna", funnel=True)
    await tg.start_manager(funnel_file=config.funnel_file)
    tg.stub.push(ANNA_TOKEN, message(614, "/quiz"))
    question = (await tg.stub.wait_sent(ANNA_TOKEN, "sendMessage"))[0]
    assert question.fields["text"] == "Question 1 of 4: Who runs your front desk?"


async def test_a_bad_funnel_file_stops_the_manager_with_its_problem(
        tg: Harness, tmp_path: Path) -> None:
    bad = tmp_path / "bad-funnel.yaml"
    bad.write_text("thresholds: {diy: 2, basic: 5}\nlanguages: {}\n", encoding="utf-8")
    with pytest.raises(FunnelFileError, match="languages must include 'en'"):
        await tg.start_manager(funnel_file=bad)


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
