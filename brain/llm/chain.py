"""An ordered fallback chain of chat models, itself a `ChatModel`.

A step that fails or stays silent past its first-token timeout before yielding anything is
skipped for the next one (the caller heard nothing yet, so nothing is lost). Once a step has
produced output the chain is committed to it: a later failure or running past its total budget
raises to the caller, who decides what to say; replaying the turn on another model would make
the caller hear a second, different beginning."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from brain.llm.base import ChatMessage, ChatModel, LlmDelta, LlmError, LlmTimeout, ToolSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChainStep:
    """One model in the chain and how long it gets.

    first_token_timeout_s: from the request to its first delta; past it, the next step runs.
    total_timeout_s: time spent waiting on this model for the whole reply (the first token
    included). Time the consumer spends with a delta in hand (speaking it) does not count, so a
    slow listener never turns into a provider timeout."""

    model: ChatModel
    first_token_timeout_s: float = 4.0
    total_timeout_s: float = 20.0


class LlmChain(ChatModel):
    """Tries each step in order until one starts answering.

    `last_served_by` names the model that served the most recent stream that produced output
    (or finished empty); None until then. Streams on one chain may run concurrently; this then
    tells which served the one that started last."""

    def __init__(self, steps: Sequence[ChainStep]) -> None:
        if not steps:
            raise ValueError("an LlmChain needs at least one step")
        self.steps = tuple(steps)
        self.name = "chain(" + ", ".join(step.model.name for step in self.steps) + ")"
        self.last_served_by: str | None = None

    async def stream(
        self,
        messages: Sequence[ChatMessage],
        *,
        tools: Sequence[ToolSpec] = (),
        stop: Sequence[str] = (),
        max_tokens: int = 200,
        temperature: float = 0.3,
    ) -> AsyncIterator[LlmDelta]:
        failures: list[tuple[str, LlmError]] = []
        for position, step in enumerate(self.steps):
            name = step.model.name
            inner = step.model.stream(
                messages, tools=tools, stop=stop, max_tokens=max_tokens, temperature=temperature
            )
            budget = step.total_timeout_s
            failure: LlmError | None = None
            try:
                try:
                    first_wait = min(step.first_token_timeout_s, step.total_timeout_s)
                    first, waited = await _next(inner, first_wait)
                except StopAsyncIteration:
                    self.last_served_by = name  # an empty reply is still a reply
                    return
                except TimeoutError:
                    failure = LlmTimeout(f"{name}: no output within {first_wait:g} s")
                except LlmError as exc:
                    failure = exc
                except Exception as exc:  # a ChatModel that broke its contract still falls back
                    failure = LlmError(f"{name}: {type(exc).__name__}: {exc}")
                if failure is not None:
                    failures.append((name, failure))
                    if position + 1 < len(self.steps):
                        log.warning("LLM failed before output, trying %s: %s",
                                    self.steps[position + 1].model.name, _short(name, failure))
                    continue

                self.last_served_by = name
                budget -= waited
                yield first
                while True:
                    try:
                        delta, waited = await _next(inner, budget)
                    except StopAsyncIteration:
                        return
                    except TimeoutError:
                        raise LlmTimeout(
                            f"{name}: reply not finished within {step.total_timeout_s:g} s"
                        ) from None
                    except LlmError:
                        raise
                    except Exception as exc:
                        raise LlmError(f"{name}: {type(exc).__name__}: {exc}") from exc
                    budget -= waited
                    yield delta
            finally:
                # Runs on fallback, completion, aclose() by the consumer and task cancellation
                # alike: the provider's HTTP stream must not outlive our interest in it.
                await _close(inner)
        raise _all_failed(failures)


async def _next(stream: AsyncIterator[LlmDelta], timeout_s: float) -> tuple[LlmDelta, float]:
    """The next delta and the seconds spent waiting for it; TimeoutError past `timeout_s`."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with asyncio.timeout(max(0.0, timeout_s)):
        delta = await anext(stream)
    return delta, loop.time() - started


async def _close(stream: AsyncIterator[LlmDelta]) -> None:
    aclose = getattr(stream, "aclose", None)
    if aclose is None:
        return
    try:
        await aclose()
    except Exception as exc:  # closing is cleanup; the turn's own outcome matters more
        log.debug("closing an LLM stream failed: %s", exc)


def _short(name: str, error: Exception, limit: int = 300) -> str:
    """One line naming the step, however the error's own message starts."""
    text = " ".join(str(error).split())
    if not text.startswith(name):
        text = f"{name}: {text}"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _all_failed(failures: list[tuple[str, LlmError]]) -> LlmError:
    summary = "; ".join(_short(name, error) for name, error in failures)
    message = f"every LLM in the chain failed: {summary}"
    if all(isinstance(error, LlmTimeout) for _, error in failures):
        return LlmTimeout(message)
    return LlmError(message)
