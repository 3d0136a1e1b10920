"""Builds the brain from the settings: the store, the persona, the LLM fallback chain
(starting and supervising the embedded llama-server) and the conversation options.

The one place where settings turn into brain objects, as `speech.py` is for engines.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from brain.conversation import Brain, BrainOptions
from brain.llm import (
    ChainStep,
    ChatModel,
    LiteLlmModel,
    LlamaServer,
    LlamaServerConfig,
    LlmChain,
    preload_litellm,
    smollm2_model_path,
)
from brain.persona import PersonaError, load_persona
from brain.privacy import mask_numbers
from brain.store import Store
from secretary.settings import Settings

log = logging.getLogger(__name__)

SUPERVISE_EVERY_S = 3.0


async def open_store(settings: Settings, resources: contextlib.AsyncExitStack) -> Store:
    redact = mask_numbers if settings.privacy.mask_numbers else None
    store = await Store.open(settings.database_url, redact=redact)
    resources.push_async_callback(store.close)
    return store


async def build_llm(settings: Settings,
                    resources: contextlib.AsyncExitStack) -> ChatModel | None:
    """The chain: the embedded llama-server (if enabled and it starts), then the
    configured providers. None when there is no LLM at all (the brain still works)."""
    llm = settings.llm
    steps: list[ChainStep] = []
    if llm.embedded:
        server = await _start_embedded(settings, resources)
        if server is not None:
            steps.append(ChainStep(
                LiteLlmModel("openai/smollm2", api_base=server.base_url, api_key="none",
                             name="llama-server/smollm2"),
                first_token_timeout_s=llm.embedded_first_token_timeout_s,
                total_timeout_s=15.0))
    for step in llm.chain:
        key = step.api_key.get_secret_value() if step.api_key else None
        steps.append(ChainStep(LiteLlmModel(step.model, api_base=step.api_base, api_key=key),
                               first_token_timeout_s=step.first_token_timeout_s,
                               total_timeout_s=step.total_timeout_s))
    if not steps:
        log.warning("no LLM: answers come from the FAQ and the secretary's dialogues only")
        return None
    await preload_litellm()  # ~5 s of imports: now, not inside the first caller's reply
    return LlmChain(steps)


async def _start_embedded(settings: Settings,
                          resources: contextlib.AsyncExitStack) -> LlamaServer | None:
    llm = settings.llm
    try:
        model = llm.embedded_model_path or smollm2_model_path()
        server = LlamaServer(LlamaServerConfig(
            model_path=model, port=llm.embedded_port, threads=llm.embedded_threads,
            chroot_dir=settings.chroot_dir))
        await server.start()
    except Exception as exc:  # a missing binary or model must not take the phones down
        log.error("embedded LLM (llama-server) not started: %s", exc)
        return None
    resources.push_async_callback(server.stop)
    supervisor = asyncio.create_task(_supervise(server))
    resources.callback(supervisor.cancel)
    log.info("embedded LLM ready at %s", server.base_url)
    return server


async def _supervise(server: LlamaServer) -> None:
    """Bring llama-server back if it dies; calls meanwhile fall back down the chain."""
    while True:
        await asyncio.sleep(SUPERVISE_EVERY_S)
        try:
            await server.ensure_running()
        except Exception as exc:
            log.warning("llama-server restart failed: %s", exc)


async def build_brain(settings: Settings, resources: contextlib.AsyncExitStack) -> Brain:
    store = await open_store(settings, resources)
    stale = await store.end_open_calls(ended_at=datetime.now(UTC),
                                       reason="secretary stopped during the call")
    if stale:
        log.warning("closed %d call(s) left open by a previous run", stale)
    persona = load_persona(settings.personas_dir, settings.call.persona)
    llm = settings.llm
    options = BrainOptions(
        llm_tools=llm.tools, llm_languages=tuple(llm.languages), llm_max_tokens=llm.max_tokens,
        llm_max_sentences=llm.max_sentences, llm_temperature=llm.temperature)
    brain = Brain(persona, store, await build_llm(settings, resources), options)
    await brain.warm_up()
    return brain


def persona_brains(settings: Settings, brain: Brain) -> dict[str, Brain]:
    """A brain for every persona under personas_dir, sharing the phone brain's store, LLM
    chain and options (the console's "Test this persona" and /v1/chat/completions); the
    phone's own persona is `brain` itself. A persona that does not load is left out."""
    brains = {brain.persona.key: brain}
    for folder in sorted(settings.personas_dir.iterdir()):
        if folder.name in brains or not (folder / "persona.yaml").is_file():
            continue
        try:
            persona = load_persona(settings.personas_dir, folder.name)
        except PersonaError as exc:
            log.warning("persona %s not offered to the console: %s", folder.name, exc)
            continue
        brains[persona.key] = Brain(persona, brain.store, brain.llm, brain.options)
    return brains
