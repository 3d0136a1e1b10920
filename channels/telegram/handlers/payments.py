"""Paying in the chat: the choice of Telegram Stars (an XTR invoice, the pre-checkout
answer, the successful payment recorded once per charge id however often Telegram
replays the update) and a YooMoney link (confirmed later by its HTTP notification)."""

from __future__ import annotations

import logging

from aiogram import F, Router
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LabeledPrice,
    Message,
    PreCheckoutQuery,
)

from channels.telegram.handlers.common import answer, send
from channels.telegram.payments import (
    STARS_CURRENCY,
    parse_stars_payload,
    stars_payload,
    yoomoney_label,
    yoomoney_link,
)
from channels.telegram.runtime import BotRuntime

log = logging.getLogger(__name__)
PURPOSE = "AI secretary: Basic plan"
THANKS = "Thank you! Your payment is received; we'll be in touch shortly."


async def offer(message: Message, runtime: BotRuntime) -> None:
    """The payment choices, as inline buttons."""
    if not runtime.record.funnel:
        await answer(message, runtime, "This bot takes no payments.")
        return
    config = runtime.deps.config
    rows = [[InlineKeyboardButton(text=f"⭐ {config.stars_amount} Telegram Stars",
                                  callback_data="pay:stars")]]
    if config.yoomoney_wallet:
        link = yoomoney_link(config.yoomoney_wallet, config.yoomoney_amount,
                             yoomoney_label(runtime.record.id, message.chat.id), PURPOSE)
        rows.append([InlineKeyboardButton(
            text=f"💳 YooMoney, {config.yoomoney_amount:.0f} RUB", url=link)])
    await send(runtime, lambda: message.answer(
        f"{PURPOSE}. How would you like to pay?",
        reply_markup=InlineKeyboardMarkup(inline_keyboard=rows)))


async def stars_invoice(query: CallbackQuery, runtime: BotRuntime) -> None:
    await query.answer()
    message = query.message
    if not runtime.record.funnel or message is None:
        return
    chat_id = message.chat.id
    amount = runtime.deps.config.stars_amount
    await send(runtime, lambda: runtime.bot.send_invoice(
        chat_id, title="Basic plan", description=PURPOSE,
        payload=stars_payload(runtime.record.id, chat_id), currency=STARS_CURRENCY,
        prices=[LabeledPrice(label="Basic plan", amount=amount)]))


async def pre_checkout(query: PreCheckoutQuery, runtime: BotRuntime) -> None:
    """Telegram asks before charging: only our own, unaltered invoices go through."""
    target = parse_stars_payload(query.invoice_payload)
    ok = (target is not None and target[0] == runtime.record.id
          and query.currency == STARS_CURRENCY
          and query.total_amount == runtime.deps.config.stars_amount)
    if ok:
        await query.answer(ok=True)
    else:
        await query.answer(ok=False, error_message="This invoice is no longer valid; "
                                                   "press 💳 Payment for a new one.")


async def paid(message: Message, runtime: BotRuntime) -> None:
    payment = message.successful_payment
    assert payment is not None  # the filter saw it
    new = await runtime.deps.store.record_payment(
        provider="stars", charge_id=payment.telegram_payment_charge_id,
        bot_id=runtime.record.id, chat_id=message.chat.id,
        amount=str(payment.total_amount), currency=payment.currency,
        payload=payment.invoice_payload)
    if not new:
        log.info("bot %s: payment %s replayed; already recorded", runtime.record.id,
                 payment.telegram_payment_charge_id)
        return
    await answer(message, runtime, THANKS)


def build_router() -> Router:
    """A fresh router (each dispatcher gets its own: routers attach to one parent)."""
    router = Router(name="payments")
    router.callback_query.register(stars_invoice, F.data == "pay:stars")
    router.pre_checkout_query.register(pre_checkout)
    router.message.register(paid, F.successful_payment)
    return router
