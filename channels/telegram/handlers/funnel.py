"""The sales funnel in the chat (bots with `funnel` on): the segmentation quiz and the FAQ
as inline menus, the requirements interview (its answers in the FSM storage until the
document is sent), and the news subscription."""

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
)

from channels.telegram.funnel import (
    FAQ,
    QUIZ,
    REQUIREMENTS,
    SEGMENT_TEXT,
    faq_section,
    parse_quiz_callback,
    quiz_callback,
    quiz_segment,
    requirements_document,
)
from channels.telegram.handlers.common import answer, send
from channels.telegram.runtime import BotRuntime

NO_FUNNEL = "This bot has no such menu."
MAX_ANSWER = 1000


class Interview(StatesGroup):
    answering = State()


async def run_action(action: str, message: Message, runtime: BotRuntime,
                     state: FSMContext) -> None:
    if not runtime.record.funnel:
        await answer(message, runtime, NO_FUNNEL)
    elif action == "quiz":
        await _send_question(message, runtime, 0, 0)
    elif action == "faq":
        await send(runtime, lambda: message.answer("FAQ: choose a section.",
                                                   reply_markup=_faq_sections()))
    elif action == "requirements":
        await state.set_state(Interview.answering)
        await state.set_data({"step": 0, "answers": {}})
        await answer(message, runtime, "Let's write down your requirements "
                     "(/cancel to stop).\n\n" + REQUIREMENTS[0][1])
    elif action == "news":
        await runtime.deps.store.set_subscribed(runtime.record.id, message.chat.id, True)
        await answer(message, runtime, "You're subscribed to our news. /unsubscribe stops it.")


async def command(message: Message, runtime: BotRuntime, state: FSMContext) -> None:
    name = (message.text or "").split()[0].lstrip("/").split("@")[0]
    await run_action("news" if name == "subscribe" else name, message, runtime, state)


async def unsubscribe(message: Message, runtime: BotRuntime) -> None:
    await runtime.deps.store.set_subscribed(runtime.record.id, message.chat.id, False)
    await answer(message, runtime, "You won't get our news any more.")


async def cancel(message: Message, runtime: BotRuntime, state: FSMContext) -> None:
    await state.clear()
    await answer(message, runtime, "Stopped; nothing was saved.")


async def interview_answer(message: Message, runtime: BotRuntime, state: FSMContext) -> None:
    data = await state.get_data()
    step = int(data.get("step", 0))
    answers = dict(data.get("answers", {}))
    answers[REQUIREMENTS[step][0]] = (message.text or "")[:MAX_ANSWER]
    step += 1
    if step < len(REQUIREMENTS):
        await state.set_data({"step": step, "answers": answers})
        await answer(message, runtime, REQUIREMENTS[step][1])
        return
    await state.clear()
    record, store = runtime.record, runtime.deps.store
    segment = await store.segment(record.id, message.chat.id)
    document, status = requirements_document(answers, segment)
    await store.save_lead(record.id, message.chat.id, status, document)
    await send(runtime, lambda: message.answer_document(
        BufferedInputFile(document.encode(), filename="requirements.md"),
        caption=f"Your requirements. Status: {status}."))


# ---- the quiz ------------------------------------------------------------------------

def _question_keyboard(index: int, score: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[
        [InlineKeyboardButton(text=label, callback_data=quiz_callback(index, score + points))]
        for label, points in QUIZ[index].options])


def _question_text(index: int) -> str:
    return f"Question {index + 1} of {len(QUIZ)}: {QUIZ[index].text}"


async def _send_question(message: Message, runtime: BotRuntime, index: int,
                         score: int) -> None:
    await send(runtime, lambda: message.answer(_question_text(index),
                                               reply_markup=_question_keyboard(index, score)))


async def quiz_answer(query: CallbackQuery, runtime: BotRuntime) -> None:
    step = parse_quiz_callback(query.data or "")
    message = query.message
    if step is None or not runtime.record.funnel or not isinstance(message, Message):
        await query.answer()
        return
    answered, score = step
    await query.answer()
    following = answered + 1
    if following < len(QUIZ):
        await send(runtime, lambda: message.edit_text(
            _question_text(following), reply_markup=_question_keyboard(following, score)))
        return
    segment = quiz_segment(score)
    await runtime.deps.store.set_segment(runtime.record.id, message.chat.id, segment)
    await send(runtime, lambda: message.edit_text(SEGMENT_TEXT[segment]))


# ---- the FAQ -------------------------------------------------------------------------

def _faq_sections() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[
        [InlineKeyboardButton(text=s.title, callback_data=f"faq:{s.key}")] for s in FAQ])


async def faq_menu(query: CallbackQuery, runtime: BotRuntime) -> None:
    message = query.message
    await query.answer()
    if not runtime.record.funnel or not isinstance(message, Message):
        return
    parts = (query.data or "").split(":")
    section = faq_section(parts[1]) if len(parts) > 1 else None
    if section is None:
        await send(runtime, lambda: message.edit_text("FAQ: choose a section.",
                                                      reply_markup=_faq_sections()))
        return
    back = [InlineKeyboardButton(text="⬅️ Back", callback_data="faq")]
    if len(parts) == 2:
        rows = [[InlineKeyboardButton(text=q, callback_data=f"faq:{section.key}:{i}")]
                for i, (q, _) in enumerate(section.entries)]
        await send(runtime, lambda: message.edit_text(
            section.title, reply_markup=InlineKeyboardMarkup(inline_keyboard=[*rows, back])))
        return
    index = int(parts[2]) if parts[2].isdigit() else -1
    if not 0 <= index < len(section.entries):
        return
    question, reply = section.entries[index]
    back = [InlineKeyboardButton(text="⬅️ Back", callback_data=f"faq:{section.key}")]
    await send(runtime, lambda: message.edit_text(
        f"{question}\n\n{reply}", reply_markup=InlineKeyboardMarkup(inline_keyboard=[back])))


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
