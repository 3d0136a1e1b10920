"""One conversation with one caller, whatever the channel: what to say next.

Every caller utterance goes, in order, to: a running dialogue (message taking), a
clear intent (leave a message, transfer, hours, goodbye, repeat, thanks), the FAQ
when it answers with confidence, and only then the LLM, grounded in the closest
FAQ facts and streamed clause by clause. A capable LLM may call the secretary's
tools instead of answering; a weak, failing or junk-producing LLM falls back to a
stock phrase that offers a message or a transfer, so nobody meets silence.

The channel consumes `respond()`'s events as they come, then reports with
`finish_reply()` what the caller actually got (barge-in cuts replies short), which
is what the history and the database keep.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from brain.clauses import ClauseSplitter, split_clauses
from brain.flows.message import MessageFlow, Prompt
from brain.knowledge.faq import FaqIndex
from brain.llm import ChatMessage, ChatModel, LlmError, ToolCall
from brain.nlu.extract import extract_phone_number
from brain.nlu.intents import Intent, detect_intent, is_affirmative
from brain.persona import Persona, TransferTarget
from brain.replies import EndCall, ReplyEvent, Say, Source, Transfer
from brain.store import Store, normalize_number
from brain.tools import (
    LookupFaq,
    NoArguments,
    TakeMessage,
    ToolArgumentsError,
    TransferCall,
    parse_tool_call,
    tool_specs,
)

log = logging.getLogger(__name__)

# Intents that win over everything else; the rest (hello, thanks, yes, no) only count
# when the caller said little more.
STRONG_INTENTS = frozenset({Intent.LEAVE_MESSAGE, Intent.TRANSFER, Intent.HOURS,
                            Intent.GOODBYE, Intent.REPEAT})
SHORT_UTTERANCE_WORDS = 4
SENTENCE_END = re.compile(r"[.!?…]['\")»]*$")
HAS_LETTERS = re.compile(r"[^\W\d_]{2,}")


@dataclass(frozen=True)
class BrainOptions:
    llm_tools: bool = False  # offer tool calls (capable models; SmolLM2 only gets confused)
    llm_languages: tuple[str, ...] = ("en",)  # languages the LLM may answer in
    llm_max_tokens: int = 80
    llm_max_sentences: int = 2
    llm_temperature: float = 0.3
    faq_min_confidence: float = 0.5
    faq_facts: int = 2  # closest FAQ answers given to the LLM as grounding...
    faq_fact_min_confidence: float = 0.2  # ...when they are about the question at all
    intent_min_confidence: float = 0.6
    history_messages: int = 8


@dataclass
class ReplyStats:
    """How the last reply was made; times are `loop.time()` seconds."""

    source: Source | None = None
    model: str | None = None
    llm_first_token_at: float | None = None
    first_say_at: float | None = None


@dataclass
class _Reply:
    said: list[str] = field(default_factory=list)
    language: str = "en"


class Brain:
    """What all conversations of one persona share: persona, FAQ index, LLM, store."""

    def __init__(self, persona: Persona, store: Store, llm: ChatModel | None,
                 options: BrainOptions | None = None,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.persona = persona
        self.store = store
        self.llm = llm
        self.options = options or BrainOptions()
        self.faq = FaqIndex(persona.faq)
        self.now = now

    def system_prompt(self, language: str, facts: list[str] | None = None,
                      caller_name: str | None = None) -> str:
        """The LLM's instructions. What varies per question (facts, caller) comes last, so
        the server's prompt cache keeps the rest between requests."""
        hours = self.persona.hours
        return self.persona.system_prompt(
            language, facts=facts or [], tools=self.options.llm_tools,
            hours=hours.describe(language) if hours else "",
            status=hours.status(self.now(), language) if hours else "",
            caller_name=caller_name or "")

    async def warm_up(self) -> None:
        """One tiny request per LLM language, so the first caller finds the system prompt
        already in the server's cache (a cold SmolLM2 prompt costs seconds on 2 cores)."""
        if self.llm is None:
            return
        for language in self.options.llm_languages:
            messages = [ChatMessage(role="system", content=self.system_prompt(language)),
                        ChatMessage(role="assistant", content=self.persona.greeting(language)),
                        ChatMessage(role="user", content="Hello")]
            try:
                async for _ in self.llm.stream(messages, max_tokens=1):
                    pass
            except LlmError as exc:
                log.warning("LLM warm-up failed: %s", exc)

    def stock_clauses(self) -> list[str]:
        """Every clause of every FAQ answer, as a reply speaks them: a channel can
        synthesise these once, before the first caller asks."""
        return [clause for entry in self.persona.faq for clause in split_clauses(entry.answer)]

    async def start(self, *, channel: str, external_id: str, caller: str,
                    recording_prefix: str | None = None) -> Conversation:
        call_id = await self.store.start_call(
            channel=channel, external_id=external_id, caller=caller,
            persona=self.persona.key, started_at=self.now(), recording_prefix=recording_prefix)
        return Conversation(self, call_id, caller)


class Conversation:
    def __init__(self, brain: Brain, call_id: int, caller: str) -> None:
        self.brain = brain
        self.persona = brain.persona
        self.store = brain.store
        self.call_id = call_id
        self.caller = caller
        self.caller_name: str | None = None
        self.language = self.persona.language
        self.stats = ReplyStats()
        self.history: list[ChatMessage] = []
        self.last_said = ""
        self.outcome: str | None = None
        self._flow: MessageFlow | None = None
        self._offered_message = False
        self._reply: _Reply | None = None

    # ---- the channel's side ----------------------------------------------------------

    async def greet(self) -> AsyncIterator[ReplyEvent]:
        contact = await self.store.contact_for(self.caller) if self.caller else None
        if contact is not None:
            self.caller_name = contact.name
            if contact.language in self.persona.languages:
                self.language = contact.language
        self._begin()
        yield self._say(self.persona.greeting(self.language, self.caller_name))

    async def respond(self, text: str, language: str | None = None) -> AsyncIterator[ReplyEvent]:
        """React to one caller utterance. Consume to the end (or stop on barge-in), then
        call `finish_reply`."""
        self.language = self.persona.language_for(language or self.language)
        await self.store.add_turn(self.call_id, role="caller", text=text,
                                  started_at=self.brain.now(), language=self.language)
        self.history.append(ChatMessage(role="user", content=text))
        self._begin()
        async for event in self._route(text):
            yield event

    async def request_transfer(self) -> AsyncIterator[ReplyEvent]:
        """The caller asked for a human without words (pressed 0)."""
        self._begin()
        await self._note("caller pressed 0 for the operator")
        async for event in self._transfer(None):
            yield event

    async def transfer_failed(self, target: TransferTarget) -> AsyncIterator[ReplyEvent]:
        """Nobody picked up: offer to take a message instead."""
        self._begin()
        self._offered_message = True
        await self._note(f"transfer to {target.name} not answered")
        yield self._say(self._phrase("transfer_failed", target=target.spoken()))

    async def silence(self, prompts_so_far: int, max_prompts: int) -> AsyncIterator[ReplyEvent]:
        """The caller has been silent: ask if they are there, or give up politely."""
        self._begin()
        if prompts_so_far < max_prompts:
            yield self._say(self._phrase("still_there"), stock=True)
            return
        await self._save_partial_message()
        yield self._say(self._phrase("silence_goodbye"), stock=True)
        yield EndCall("caller silent")

    async def finish_reply(self, heard: str | None = None,
                           timings: dict[str, float] | None = None) -> int | None:
        """Record the reply just given. `heard`: the part the caller heard before
        interrupting (None: all of it). Returns the turn's row id."""
        reply, self._reply = self._reply, None
        if reply is None or not reply.said:
            return None
        text = " ".join(reply.said)
        kept = text if heard is None else heard
        self.last_said = kept or self.last_said
        if kept:
            self.history.append(ChatMessage(role="assistant", content=kept))
        return await self.store.add_turn(
            self.call_id, role="secretary", text=text, started_at=self.brain.now(),
            language=reply.language, timings=timings,
            interrupted=heard is not None, heard_text=heard,
        )

    async def close(self, reason: str) -> None:
        await self._save_partial_message()
        await self.store.end_call(self.call_id, ended_at=self.brain.now(), reason=reason,
                                  outcome=self.outcome)

    # ---- routing ---------------------------------------------------------------------

    async def _route(self, text: str) -> AsyncIterator[ReplyEvent]:
        options = self.brain.options
        match = detect_intent(text, self.language)
        intent = match.intent if match.confidence >= options.intent_min_confidence else None

        if self._flow is not None:
            if intent is Intent.GOODBYE:
                async for event in self._goodbye():
                    yield event
                return
            yield await self._flow_step(self._flow.handle(text, self.language))
            return

        if self._offered_message:
            self._offered_message = False
            answer = is_affirmative(text)
            if answer is True and intent in (None, Intent.AFFIRM):
                yield await self._start_message(text)
                return
            if answer is False and intent in (None, Intent.DENY):
                yield self._say(self._phrase("anything_else"), stock=True)
                return

        if intent in STRONG_INTENTS:
            async for event in self._on_intent(intent, text):
                yield event
            return

        hit = self.brain.faq.best(text, language=self.language,
                                  min_confidence=options.faq_min_confidence)
        if hit is not None:
            self.stats.source = Source.FAQ
            for say in self._say_all(hit.entry.answer, stock=True):
                yield say
            return

        if intent is not None and len(text.split()) <= SHORT_UTTERANCE_WORDS:
            # "Hi", "thanks", "yes": small talk only when that is all there is ("Hi, where
            # are you?" is a question, answered above or by the LLM).
            async for event in self._on_intent(intent, text):
                yield event
            return

        async for event in self._ask_llm(text):
            yield event

    async def _on_intent(self, intent: Intent, text: str) -> AsyncIterator[ReplyEvent]:
        if intent is Intent.LEAVE_MESSAGE:
            yield await self._start_message(text)
        elif intent is Intent.TRANSFER:
            async for event in self._transfer(None):
                yield event
        elif intent is Intent.HOURS:
            yield self._say(self._hours_text(), stock=True)
        elif intent is Intent.GOODBYE:
            async for event in self._goodbye():
                yield event
        elif intent is Intent.REPEAT:
            yield self._say(self.last_said or self._phrase("nothing_to_repeat"))
        elif intent is Intent.THANKS:
            yield self._say(self._phrase("welcome"), stock=True)
        elif intent in (Intent.GREETING, Intent.AFFIRM, Intent.DENY):
            yield self._say(self._phrase("hello" if intent is Intent.GREETING
                                         else "anything_else"))
        else:
            async for event in self._ask_llm(text):
                yield event

    # ---- duties ----------------------------------------------------------------------

    async def _start_message(self, text: str, prefill: TakeMessage | None = None) -> Say:
        caller_number = normalize_number(self.caller) if self.caller else None
        if caller_number and not caller_number.lstrip("+").isdigit():
            caller_number = None  # a SIP user name, not a number to call back
        flow = self._flow = MessageFlow(caller_number=caller_number)
        flow.draft.name = self.caller_name
        if prefill is not None:
            flow.draft.name = prefill.caller_name or flow.draft.name
            if prefill.callback_number:
                flow.draft.number = extract_phone_number(prefill.callback_number, self.language)
            flow.draft.reason = prefill.reason
        return await self._flow_step(flow.start(text, self.language))

    async def _flow_step(self, prompt: Prompt) -> Say:
        flow = self._flow
        assert flow is not None
        self.stats.source = self.stats.source or Source.FLOW
        if flow.done:
            self._flow = None
            await self._save_message(flow)
        return self._say(self._phrase(prompt.key, **prompt.context), stock=not prompt.context)

    async def _save_message(self, flow: MessageFlow) -> None:
        draft = flow.draft
        await self.store.save_message(
            call_id=self.call_id, name=draft.name or "", callback_number=draft.number or "",
            reason=draft.reason or "", language=self.language, created_at=self.brain.now())
        self.outcome = "message"
        number = draft.number or ""
        if draft.name and number == flow.caller_number and number:
            await self.store.remember_contact(number, draft.name, self.language)
        log.info("call %s: message taken from %s (%s)", self.call_id, draft.name, number)

    async def _save_partial_message(self) -> None:
        flow, self._flow = self._flow, None
        if flow is not None and flow.draft.worth_saving:
            await self._save_message(flow)

    async def _transfer(self, wanted: str | None) -> AsyncIterator[ReplyEvent]:
        targets = self.persona.transfer_targets
        target = next((t for t in targets if wanted and t.name.lower() == wanted.lower()),
                      targets[0] if targets else None)
        if target is None:
            self._offered_message = True
            yield self._say(self._phrase("no_transfer_target"), stock=True)
            return
        hours = self.persona.hours
        if hours is not None and not hours.is_open(self.brain.now()):
            self._offered_message = True
            yield self._say(self._phrase("closed_transfer",
                                         status=hours.status(self.brain.now(), self.language)))
            return
        self.outcome = "transfer"
        yield self._say(self._phrase("transferring", target=target.spoken()))
        yield Transfer(target)

    async def _goodbye(self) -> AsyncIterator[ReplyEvent]:
        await self._save_partial_message()
        yield self._say(self._phrase("goodbye"), stock=True)
        yield EndCall("caller said goodbye")

    def _hours_text(self) -> str:
        hours = self.persona.hours
        if hours is None:
            return self._phrase("not_sure_no_transfer")
        now = self.brain.now()
        return f"{hours.describe(self.language)} {hours.status(now, self.language)}"

    # ---- the LLM ---------------------------------------------------------------------

    async def _ask_llm(self, text: str) -> AsyncIterator[ReplyEvent]:
        brain, options = self.brain, self.brain.options
        if brain.llm is None or self.language not in options.llm_languages:
            yield self._not_sure()
            return
        self.stats.source = Source.LLM
        self.stats.model = brain.llm.name
        facts = [hit.entry.answer for hit in brain.faq.search(
            text, language=self.language, limit=options.faq_facts)
            if hit.confidence >= options.faq_fact_min_confidence]
        system = brain.system_prompt(self.language, facts, self.caller_name)
        messages = [ChatMessage(role="system", content=system),
                    *self.history[-options.history_messages:]]
        tools = tool_specs([t.name for t in self.persona.transfer_targets]) \
            if options.llm_tools else ()
        splitter = ClauseSplitter()
        sentences = 0
        seen: set[str] = set()
        tool_calls: list[ToolCall] = []
        loop = asyncio.get_running_loop()
        try:
            async for delta in brain.llm.stream(messages, tools=tools,
                                                max_tokens=options.llm_max_tokens,
                                                temperature=options.llm_temperature):
                if self.stats.llm_first_token_at is None:
                    self.stats.llm_first_token_at = loop.time()
                tool_calls.extend(delta.tool_calls)
                for clause in splitter.feed(delta.text):
                    if not self._usable(clause, seen):
                        continue
                    yield self._say(clause)
                    sentences += bool(SENTENCE_END.search(clause))
                if sentences >= options.llm_max_sentences or tool_calls:
                    break
            else:
                for clause in splitter.flush():
                    if self._usable(clause, seen):
                        yield self._say(clause)
        except LlmError as exc:
            log.warning("call %s: LLM failed: %s", self.call_id, exc)
        if tool_calls:
            async for event in self._run_tool(tool_calls[0], text):
                yield event
            return
        if not seen:  # nothing usable came (failure, junk, empty): never leave silence
            yield self._not_sure()

    def _usable(self, clause: str, seen: set[str]) -> bool:
        key = " ".join(clause.lower().split())
        if not HAS_LETTERS.search(clause) or key in seen:
            return False  # junk, or the model repeating itself
        seen.add(key)
        return True

    async def _run_tool(self, call: ToolCall, text: str) -> AsyncIterator[ReplyEvent]:
        self.stats.source = Source.LLM_TOOL
        try:
            arguments = parse_tool_call(call)
        except ToolArgumentsError as exc:
            log.warning("call %s: refused a tool call: %s", self.call_id, exc)
            yield self._not_sure()
            return
        log.info("call %s: LLM called %s(%s)", self.call_id, call.name, call.arguments)
        if isinstance(arguments, TakeMessage):
            yield await self._start_message(text, prefill=arguments)
        elif isinstance(arguments, TransferCall):
            async for event in self._transfer(arguments.target):
                yield event
        elif isinstance(arguments, LookupFaq):
            hit = self.brain.faq.best(arguments.query, language=self.language,
                                      min_confidence=self.brain.options.faq_min_confidence / 2)
            for say in self._say_all(hit.entry.answer, stock=True) if hit else [self._not_sure()]:
                yield say
        elif isinstance(arguments, NoArguments) and call.name == "end_call":
            async for event in self._goodbye():
                yield event
        else:  # business_hours
            yield self._say(self._hours_text(), stock=True)

    # ---- helpers ---------------------------------------------------------------------

    def _not_sure(self) -> Say:
        self.stats.source = Source.FALLBACK
        self._offered_message = True
        targets = self.persona.transfer_targets
        if targets:
            return self._say(self._phrase("not_sure", target=targets[0].spoken()), stock=True)
        return self._say(self._phrase("not_sure_no_transfer"), stock=True)

    def _begin(self) -> None:
        self.stats = ReplyStats(source=None)
        self._reply = _Reply(language=self.language)

    def _say(self, text: str, *, stock: bool = False) -> Say:
        if self.stats.first_say_at is None:
            self.stats.first_say_at = asyncio.get_running_loop().time()
        if self.stats.source is None:
            self.stats.source = Source.FLOW  # nothing more specific said otherwise
        if self._reply is None:
            self._reply = _Reply(language=self.language)
        self._reply.said.append(text)
        return Say(text, self.language, stock)

    def _say_all(self, text: str, *, stock: bool = False) -> list[Say]:
        """A long text as clauses, so speech starts after the first one is synthesised."""
        return [self._say(clause, stock=stock) for clause in split_clauses(text)]

    def _phrase(self, key: str, **context: str) -> str:
        context.setdefault("caller_name", self.caller_name or "")
        return self.persona.phrase(key, self.language, **context)

    async def _note(self, text: str) -> None:
        await self.store.add_turn(self.call_id, role="system", text=text,
                                  started_at=self.brain.now())
