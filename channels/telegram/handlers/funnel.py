"""The sales funnel in the chat (bots with `funnel` on): the segmentation quiz and the FAQ
as inline menus, the requirements interview (its answers in the FSM storage until the
document is sent), and the news subscription. Every text comes from the manager's
`FunnelContent`, in the user's Telegram language (see `_texts`)."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    User,
)

from channels.telegram.funnel import Language, quiz_callback, requirements_document
from channels.telegram.handlers.common import answer, send
from channels.telegram.runtime import BotRuntime

MAX_ANSWER = 1000


class Interview(StatesGroup):
    answering = State()


def _texts(runtime: BotRuntime, user: User | None) -> Language:
    """The funnel's texts in the language the user's Telegram app is set to."""
    return runtime.deps.funnel.language(user.language_code if user else None)


async def run_action(action: str, message: Message, runtime: BotRuntime,
                     state: FSMContext) -> None:
    texts = _texts(runtime, message.from_user)
    if not runtime.record.funnel:
        await answer(message, runtime, texts.ui.no_funnel)
    elif action == "quiz":
        await send(runtime, lambda: message.answer(
            texts.question_text(0), reply_markup=_question_keyboard(texts, 0, 0)))
    elif action == "faq":
        await send(runtime, lambda: message.answer(texts.ui.faq_prompt,
                                                   reply_markup=_faq_sections(texts)))
    elif action == "requirements":
        await state.set_state(Interview.answering)
        await state.set_data({"step": 0, "answers": {}})
        await answer(message, runtime, f"{texts.ui.requirements_intro}\n\n"
                     f"{texts.requirements[0].question}")
    elif action == "news":
        await runtime.deps.store.set_subscribed(runtime.record.id, message.chat.id, True)
        await answer(message, runtime, texts.ui.subscribed)


async def command(message: Message, runtime: BotRuntime, state: FSMContext) -> None:
    name = (message.text or "").split()[0].lstrip("/").split("@")[0]
    await run_action("news" if name == "subscribe" else name, message, runtime, state)


async def unsubscribe(message: Message, runtime: BotRuntime) -> None:
    await runtime.deps.store.set_subscribed(runtime.record.id, message.chat.id, False)
    await answer(message, runtime, _texts(runtime, message.from_user).ui.unsubscribed)


async def cancel(message: Message, runtime: BotRuntime, state: FSMContext) -> None:
    await state.clear()
    await answer(message, runtime, _texts(runtime, message.from_user).ui.stopped)


async def interview_answer(message: Message, runtime: BotRuntime, state: FSMContext) -> None:
    texts = _texts(runtime, message.from_user)
    requirements = texts.requirements  # the same keys in every language
    data = await state.get_data()
    step = int(data.get("step", 0))
    answers = dict(data.get("answers", {}))
    answers[requirements[step].key] = (message.text or "")[:MAX_ANSWER]
    step += 1
    if step < len(requirements):
        await state.set_data({"step": step, "answers": answers})
        await answer(message, runtime, requirements[step].question)
        return
    await state.clear()
    record, store = runtime.record, runtime.deps.store
    segment = await store.segment(record.id, message.chat.id)
    document, status = requirements_document(answers, segment, texts)
    await store.save_lead(record.id, message.chat.id, status, document)
    await send(runtime, lambda: message.answer_document(
        BufferedInputFile(document.encode(), filename=texts.ui.document_filename),
        caption=texts.ui.document_caption.format(status=texts.statuses[status])))


# ---- the quiz ------------------------------------------------------------------------

def _question_keyboard(texts: Language, index: int, score: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[
        [InlineKeyboardButton(text=option.label,
                              callback_data=quiz_callback(index, score + option.points))]
        for option in texts.quiz[index].options])


async def quiz_answer(query: CallbackQuery, runtime: BotRuntime) -> None:
    funnel = runtime.deps.funnel
    step = funnel.parse_quiz_callback(query.data or "")
    message = query.message
    await query.answer()
    if step is None or not runtime.record.funnel or not isinstance(message, Message):
        return
    texts = _texts(runtime, query.from_user)
    answered, score = step
    following = answered + 1
    if following < funnel.quiz_length:
        await send(runtime, lambda: message.edit_text(
            texts.question_text(following),
            reply_markup=_question_keyboard(texts, following, score)))
        return
    segment = funnel.segment(score)
    await runtime.deps.store.set_segment(runtime.record.id, message.chat.id, segment)
    await send(runtime, lambda: message.edit_text(texts.segments[segment]))


# ---- the FAQ -------------------------------------------------------------------------

def _faq_sections(texts: Language) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[
        [InlineKeyboardButton(text=s.title, callback_data=f"faq:{s.key}")]
        for s in texts.faq])


def _back(texts: Language, data: str) -> list[InlineKeyboardButton]:
    return [InlineKeyboardButton(text=texts.ui.back, callback_data=data)]


async def faq_menu(query: CallbackQuery, runtime: BotRuntime) -> None:
    message = query.message
    await query.answer()
    if not runtime.record.funnel or not isinstance(message, Message):
        return
    texts = _texts(runtime, query.from_user)
    parts = (query.data or "").split(":")
    section = texts.faq_section(parts[1]) if len(parts) > 1 else None
    if section is None:
        await send(runtime, lambda: message.edit_text(texts.ui.faq_prompt,
                                                      reply_markup=_faq_sections(texts)))
        return
    if len(parts) == 2:
        rows = [[InlineKeyboardButton(text=e.question, callback_data=f"faq:{section.key}:{i}")]
                for i, e in enumerate(section.entries)]
        await send(runtime, lambda: message.edit_text(section.title, reply_markup=(
            InlineKeyboardMarkup(inline_keyboard=[*rows, _back(texts, "faq")]))))
        return
    index = int(parts[2]) if parts[2].isdigit() else -1
    if not 0 <= index < len(section.entries):
        return
    entry = section.entries[index]
    back = _back(texts, f"faq:{section.key}")
    await send(runtime, lambda: message.edit_text(
        f"{entry.question}\n\n{entry.answer}",
        reply_markup=InlineKeyboardMarkup(inline_keyboard=[back])))


def build_router() -> Router:
    """A fresh router (each dispatcher gets its own: routers attach to one parent)."""
    router = Router(name="funnel")
    router.message.register(command, Command("quiz", "faq", "requirements", "subscribe"))
    router.message.register(unsubscribe, Command("unsubscribe"))
    router.message.register(cancel, Interview.answering, Command("cancel"))
    router.message.register(interview_answer, Interview.answering, F.text & ~F.text.startswith("/"))
    router.callback_query.register(quiz_answer, F.data.startswith("quiz:"))
    router.callback_query.register(faq_menu, F.data.startswith("faq"))
    return router
