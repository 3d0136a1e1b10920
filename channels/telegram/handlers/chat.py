"""Talking to the persona: /start (greeting and menu), menu buttons, and any other text
through the brain; anything else (photos, stickers, files) gets a clear "text or voice,
please". Mounted last: the funnel and payment handlers see their updates first."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import KeyboardButton, Message, ReplyKeyboardMarkup

from channels.telegram.handlers import funnel, payments
from channels.telegram.handlers.common import NOT_READY, answer, ask_brain, guess_language
from channels.telegram.menu import MenuButton, visible_buttons
from channels.telegram.runtime import BotRuntime

UNSUPPORTED = ("I can read text and voice messages only. / "
               "Я понимаю только текстовые и голосовые сообщения.")


def menu_keyboard(buttons: tuple[MenuButton, ...]) -> ReplyKeyboardMarkup | None:
    if not buttons:
        return None
    rows = [[KeyboardButton(text=b.label) for b in buttons[i:i + 2]]
            for i in range(0, len(buttons), 2)]
    return ReplyKeyboardMarkup(keyboard=rows, resize_keyboard=True)


def _buttons(runtime: BotRuntime) -> tuple[MenuButton, ...]:
    return visible_buttons(runtime.record.buttons(), runtime.record.funnel)


async def start(message: Message, runtime: BotRuntime, state: FSMContext) -> None:
    await state.clear()
    try:
        persona = runtime.deps.services.brain_for(runtime.record.persona).persona
    except Exception:
        await answer(message, runtime, NOT_READY)
        return
    user = message.from_user
    language = persona.language_for(user.language_code if user else None)
    await answer(message, runtime, persona.greeting(language), menu_keyboard(_buttons(runtime)))


async def text(message: Message, runtime: BotRuntime, state: FSMContext) -> None:
    said = message.text or ""
    button = next((b for b in _buttons(runtime) if b.label == said.strip()), None)
    if button is None:
        await ask_brain(message, runtime, said)
    elif button.action is None:
        await ask_brain(message, runtime, button.text, guess_language(button.text))
    elif button.action == "pay":
        await payments.offer(message, runtime)
    else:
        await funnel.run_action(button.action, message, runtime, state)


async def unsupported(message: Message, runtime: BotRuntime) -> None:
    await answer(message, runtime, UNSUPPORTED)


def build_router() -> Router:
    """A fresh router (each dispatcher gets its own: routers attach to one parent)."""
    router = Router(name="chat")
    router.message.register(start, CommandStart())
    router.message.register(text, F.text)
    router.message.register(unsupported)
    return router
