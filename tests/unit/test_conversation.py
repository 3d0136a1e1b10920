"""The brain's conversation engine with the real persona, store (SQLite) and NLU, and the
real litellm client talking to a local OpenAI-compatible stub where an LLM is involved."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from brain.conversation import Brain, BrainOptions, Conversation
from brain.llm import ChainStep, LiteLlmModel, LlmChain
from brain.llm.litellm_model import load_litellm
from brain.persona import load_persona
from brain.replies import EndCall, ReplyEvent, Say, Source, Transfer
from brain.store import Store
from secretary.settings import PROJECT_ROOT
from tests.openai_stub import OpenAIStub, StubReply, StubToolCall

PERSONAS = PROJECT_ROOT / "brain" / "personas"
MONDAY_MORNING = datetime(2026, 11, 23, 10, 30, tzinfo=UTC)  # London: open
SUNDAY = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)  # closed


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with await Store.open(f"sqlite:///{tmp_path / 'brain.db'}") as opened:
        yield opened


def make_brain(store: Store, llm=None, now: datetime = MONDAY_MORNING, **options) -> Brain:
    return Brain(load_persona(PERSONAS, "anna"), store, llm, BrainOptions(**options),
                 now=lambda: now)


async def events_of(stream: AsyncIterator[ReplyEvent]) -> list[ReplyEvent]:
    return [event async for event in stream]


async def say(conversation: Conversation, text: str, language: str = "en") -> str:
    events = await events_of(conversation.respond(text, language))
    await conversation.finish_reply()
    return " ".join(e.text for e in events if isinstance(e, Say))


@pytest.fixture(scope="module", autouse=True)
def litellm_imported() -> None:
    load_litellm()  # a production process preloads it at start; a test must not time out on it


def stub_llm(stub: OpenAIStub) -> LlmChain:
    model = LiteLlmModel("openai/stub", api_base=stub.base_url, api_key="x", name="stub")
    return LlmChain([ChainStep(model, first_token_timeout_s=5, total_timeout_s=10)])


async def test_faq_answer_without_any_llm(store: Store) -> None:
    conversation = await make_brain(store).start(channel="phone", external_id="c1",
                                                 caller="tester")
    reply = await say(conversation, "Hi, what is your address?")
    assert "Baker Street" in reply
    assert conversation.stats.source is Source.FAQ
    turns = await store.turns(conversation.call_id)
    assert [t.role for t in turns] == ["caller", "secretary"]
    assert "Baker Street" in turns[1].text


async def test_faq_answers_are_stock_clauses_the_phone_can_presynthesise(store: Store) -> None:
    brain = make_brain(store)
    conversation = await brain.start(channel="phone", external_id="c1", caller="tester")
    events = await events_of(conversation.respond("How much does a consultation cost?", "en"))
    said = [e for e in events if isinstance(e, Say)]
    assert len(said) == 2 and all(e.stock for e in said)  # "...50 pounds;" "children..."
    assert {e.text for e in said} <= set(brain.stock_clauses())


async def test_russian_question_gets_the_russian_faq_answer(store: Store) -> None:
    conversation = await make_brain(store).start(channel="phone", external_id="c1",
                                                 caller="tester")
    reply = await say(conversation, "Скажите, где вы находитесь?", "ru")
    assert "Бейкер" in reply


async def test_message_taking_dialogue_saves_the_message(store: Store) -> None:
    conversation = await make_brain(store).start(channel="phone", external_id="c1",
                                                 caller="tester")
    assert "name" in (await say(conversation, "I'd like to leave a message please")).lower()
    assert "number" in (await say(conversation, "My name is John Smith.")).lower()
    await say(conversation, "five five five, one two three four")
    read_back = await say(conversation, "It's about moving my appointment to Friday.")
    assert "John Smith" in read_back and "5" in read_back
    assert "passed your message on" in await say(conversation, "Yes, that's right.")
    messages = await store.messages()
    assert len(messages) == 1
    assert messages[0].name == "John Smith"
    assert messages[0].callback_number == "5551234"
    assert "appointment" in messages[0].reason
    await conversation.close("caller hung up")
    call = await store.get_call(conversation.call_id)
    assert call is not None and call.outcome == "message" and call.ended_at is not None


async def test_a_number_split_over_two_turns_is_read_as_one(store: Store) -> None:
    conversation = await make_brain(store).start(channel="phone", external_id="c1",
                                                 caller="tester")
    await say(conversation, "I'd like to leave a message please")
    await say(conversation, "My name is John Smith.")
    await say(conversation, "My number's 555.")  # a pause, and the turn ended there
    await say(conversation, "1, 2, 3, 4")
    read_back = await say(conversation, "It's about my appointment.")
    assert "5 5 5, 1 2 3 4" in read_back, read_back
    await say(conversation, "Yes, that's right.")
    assert (await store.messages())[0].callback_number == "5551234"


async def test_caller_id_is_offered_and_a_known_caller_is_greeted_by_name(store: Store) -> None:
    brain = make_brain(store)
    first = await brain.start(channel="phone", external_id="c1", caller="+447700900123")
    await events_of(first.greet())
    await say(first, "Can you take a message for the doctor?")
    offer = await say(first, "This is Mary Jones")
    assert "7 0 0, 9 0 0" in offer
    await say(first, "yes please")
    await say(first, "I need a new filling")
    await say(first, "correct")
    assert (await store.messages())[0].callback_number == "+447700900123"

    again = await brain.start(channel="phone", external_id="c2", caller="+44 7700 900123")
    greeting = [e async for e in again.greet()]
    assert "Mary Jones" in greeting[0].text


async def test_hours_and_goodbye_end_the_call(store: Store) -> None:
    conversation = await make_brain(store).start(channel="phone", external_id="c1",
                                                 caller="tester")
    hours = await say(conversation, "What are your opening hours?")
    assert "9" in hours and "open" in hours.lower()
    events = await events_of(conversation.respond("That's all, thank you. Goodbye!", "en"))
    assert isinstance(events[-1], EndCall)


async def test_transfer_asked_in_words_and_refused_when_closed(store: Store) -> None:
    open_now = await make_brain(store).start(channel="phone", external_id="c1", caller="t")
    events = await events_of(open_now.respond("Can I speak to a human please?", "en"))
    assert isinstance(events[-1], Transfer) and events[-1].target.endpoint == "PJSIP/operator"

    closed = await make_brain(store, now=SUNDAY).start(channel="phone", external_id="c2",
                                                       caller="t")
    events = await events_of(closed.respond("Put me through to the reception", "en"))
    assert not any(isinstance(e, Transfer) for e in events)
    assert "message" in " ".join(e.text for e in events if isinstance(e, Say)).lower()


async def test_llm_answers_off_faq_questions_in_clauses(store: Store) -> None:
    async with OpenAIStub() as stub:
        stub.script(StubReply(text="We are a friendly team, since 1990. Happy to help! "
                                   "And a third sentence nobody should hear."))
        conversation = await make_brain(store, stub_llm(stub)).start(
            channel="phone", external_id="c1", caller="tester")
        events = await events_of(conversation.respond("Tell me about the weather today", "en"))
        await conversation.finish_reply()
        said = [e.text for e in events if isinstance(e, Say)]
        assert not any(e.stock for e in events if isinstance(e, Say))  # made for this caller
        assert said[0].startswith("We are a friendly team")
        assert "third sentence" not in " ".join(said)  # stopped after two sentences
        assert conversation.stats.source is Source.LLM
        system = stub.exchanges[0].body["messages"][0]["content"]
        assert "Northwind Dental" in system


@pytest.mark.parametrize("reply", [StubReply(status=500), StubReply(text="!!! ??? ..."),
                                   StubReply(text="")])
async def test_failed_or_junk_llm_still_gets_a_spoken_reply(store: Store,
                                                            reply: StubReply) -> None:
    async with OpenAIStub() as stub:
        stub.script(reply, reply, reply)
        conversation = await make_brain(store, stub_llm(stub)).start(
            channel="phone", external_id="c1", caller="tester")
        text = await say(conversation, "Tell me about the weather today")
        assert "message" in text.lower()
        assert conversation.stats.source is Source.FALLBACK
        # the offer is live: "yes" starts taking the message
        assert "name" in (await say(conversation, "yes please")).lower()


async def test_capable_llm_drives_the_tools(store: Store) -> None:
    async with OpenAIStub() as stub:
        stub.script(StubReply(tool_calls=[StubToolCall("transfer_call", "{}")]),
                    StubReply(tool_calls=[StubToolCall("take_message",
                                                       '{"caller_name": "Ann Lee"}')]),
                    StubReply(tool_calls=[StubToolCall("transfer_call", '{"target": 42')]))
        brain = make_brain(store, stub_llm(stub), llm_tools=True)
        conversation = await brain.start(channel="phone", external_id="c1", caller="tester")
        events = await events_of(conversation.respond("I have something odd to discuss", "en"))
        await conversation.finish_reply()
        assert isinstance(events[-1], Transfer)
        assert conversation.stats.source is Source.LLM_TOOL
        assert any(t["function"]["name"] == "take_message"
                   for t in stub.exchanges[0].body["tools"])

        asked = await say(conversation, "Hmm, I have a question for the doctor")
        assert "Ann Lee" in asked and "number" in asked  # name prefilled by the tool call

        other = await brain.start(channel="phone", external_id="c2", caller="tester")
        refused = await say(other, "Something odd again")  # invalid JSON arguments
        assert "message" in refused.lower() and other.stats.source is Source.FALLBACK


async def test_barge_in_keeps_only_what_the_caller_heard(store: Store) -> None:
    conversation = await make_brain(store).start(channel="phone", external_id="c1",
                                                 caller="tester")
    await events_of(conversation.respond("What services do you offer?", "en"))
    turn_id = await conversation.finish_reply(heard="We offer a full range",
                                              timings={"first_rtp_ms": 640.0})
    turns = await store.turns(conversation.call_id)
    cut = next(t for t in turns if t.id == turn_id)
    assert cut.interrupted and cut.heard_text == "We offer a full range"
    assert "implants" in cut.text and cut.timings["first_rtp_ms"] == 640.0
    assert conversation.history[-1].content == "We offer a full range"
    repeat = await say(conversation, "Sorry, can you repeat that?")
    assert repeat == "We offer a full range"


async def test_silence_prompts_then_hangs_up(store: Store) -> None:
    conversation = await make_brain(store).start(channel="phone", external_id="c1",
                                                 caller="tester")
    first = await events_of(conversation.silence(0, 2))
    assert "still there" in first[0].text
    last = await events_of(conversation.silence(2, 2))
    assert isinstance(last[-1], EndCall)
