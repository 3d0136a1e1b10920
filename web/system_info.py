"""What the system page reports: Asterisk's state asked over ARI, the engines the settings
configure (never a secret), package versions, the database kind and the call log's disk
use. Each probe is bounded and turns failure into a value the page can show."""

from __future__ import annotations

import asyncio
import os
import platform
import shutil
from base64 import b64encode
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp

from web.state import AriAccess

if TYPE_CHECKING:
    from secretary.settings import Settings

ARI_TIMEOUT_S = 2.0  # the page waits this long at most for Asterisk
PACKAGES = ("ai-secretary", "aiohttp", "faster-whisper", "piper-tts", "litellm", "peewee",
            "vosk", "coqui-tts")
EMBEDDED_LLM = "embedded llama-server (SmolLM2-135M)"


@dataclass(frozen=True)
class AsteriskStatus:
    reachable: bool
    problem: str = ""  # why not, when unreachable
    version: str = ""
    system_name: str = ""
    startup_time: str = ""
    last_reload_time: str = ""
    build: str = ""
    channels: int | None = None


@dataclass(frozen=True)
class DiskUse:
    files: int
    bytes: int
    free_bytes: int | None  # on the file system holding the folder; None if it is missing


def llm_chain(settings: Settings) -> tuple[str, ...]:
    """The models a reply tries, in order, by name (with the server for local ones)."""
    steps = [EMBEDDED_LLM] if settings.llm.embedded else []
    for step in settings.llm.chain:
        steps.append(f"{step.model} at {step.api_base}" if step.api_base else step.model)
    return tuple(steps)


def engine_rows(settings: Settings) -> tuple[tuple[str, str, str], ...]:
    """The engine settings as (section, setting, value) rows; keys and passwords left out."""
    stt, tts, llm = settings.stt, settings.tts, settings.llm
    stt_model = (str(stt.whisper_model_dir or stt.whisper_model) if stt.engine == "whisper"
                 else str(stt.vosk_model_dir or "not set"))
    voices = sorted(p.parent.name for p in tts.voices_dir.glob("*/profile.yaml")) \
        if tts.voices_dir.is_dir() else []
    rows = [
        ("Speech recognition", "engine", stt.engine),
        ("Speech recognition", "model", stt_model),
        ("Speech recognition", "language", stt.language or "detect (ru, en)"),
        ("Speech recognition", "device / compute", f"{stt.device} / {stt.compute_type}"),
        ("Speech recognition", "voice activity", f"{stt.vad} (aggressiveness "
                                                 f"{stt.vad_aggressiveness})"),
        ("Speech synthesis", "voice profiles", ", ".join(voices) or "none"),
        ("Speech synthesis", "XTTS model", str(tts.xtts_model_dir or "not provisioned")),
        ("Speech synthesis", "Piper models",
         ", ".join(f"{lang}: {path.name}" for lang, path in sorted(tts.piper_models.items()))
         or "the packaged default"),
        ("Language model", "chain", " → ".join(llm_chain(settings)) or "none"),
        ("Language model", "tools", "on" if llm.tools else "off"),
        ("Language model", "max tokens / temperature", f"{llm.max_tokens} / "
                                                       f"{llm.temperature}"),
        ("Calls", "persona / mode", f"{settings.call.persona} / {settings.call.mode}"),
        ("Calls", "media format", settings.media.format),
    ]
    return tuple(rows)


async def asterisk_status(ari: AriAccess, timeout_s: float = ARI_TIMEOUT_S
                          ) -> AsteriskStatus:
    """Asterisk's version and uptime (`GET /asterisk/info`) and live channel count
    (`GET /channels`), or why they could not be had."""
    credentials = f"{ari.username}:{ari.password}".encode()
    headers = {"Authorization": "Basic " + b64encode(credentials).decode()}
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    base = ari.url.rstrip("/")
    try:
        async with aiohttp.ClientSession(headers=headers, timeout=timeout) as session:
            info = await _get_json(session, f"{base}/asterisk/info")
            channels = await _get_json(session, f"{base}/channels")
    except TimeoutError:
        return AsteriskStatus(reachable=False, problem=f"no answer within {timeout_s:g} s")
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        return AsteriskStatus(reachable=False, problem=_problem(exc))
    info = info if isinstance(info, dict) else {}
    system, status, build = (_section(info, key) for key in ("system", "status", "build"))
    return AsteriskStatus(
        reachable=True,
        version=str(system.get("version", "")),
        system_name=str(_section(info, "config").get("name", "")),
        startup_time=str(status.get("startup_time", "")),
        last_reload_time=str(status.get("last_reload_time", "")),
        build=" ".join(str(build[k]) for k in ("os", "kernel", "machine") if build.get(k)),
        channels=len(channels) if isinstance(channels, list) else None,
    )


async def _get_json(session: aiohttp.ClientSession, url: str) -> Any:
    async with session.get(url) as response:
        if response.status != 200:
            raise aiohttp.ClientResponseError(response.request_info, (), status=response.status,
                                              message=response.reason or "")
        return await response.json(content_type=None)


def _section(info: dict[str, Any], key: str) -> dict[str, Any]:
    value = info.get(key)
    return value if isinstance(value, dict) else {}


def _problem(exc: Exception) -> str:
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"ARI answered {exc.status} {exc.message}".strip()
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect to {exc.host}:{exc.port}"
    return type(exc).__name__ if not str(exc) else f"{type(exc).__name__}: {exc}"


def package_versions() -> tuple[tuple[str, str], ...]:
    found = []
    for name in PACKAGES:
        try:
            found.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            found.append((name, "not installed"))
    return tuple(found)


def runtime() -> str:
    return f"Python {platform.python_version()} ({platform.python_implementation()}) " \
           f"on {platform.system()} {platform.machine()}"


def disk_use(folder: Path) -> DiskUse:
    """Files and bytes under `folder` (links not followed), and the free space beside it.
    Blocking: run it in a thread."""
    files = size = 0
    for root, _dirs, names in os.walk(folder):
        for name in names:
            try:
                size += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue  # removed while we counted
            files += 1
    try:
        free: int | None = shutil.disk_usage(folder).free
    except OSError:
        free = None
    return DiskUse(files=files, bytes=size, free_bytes=free)


async def calls_log_use(folder: Path) -> DiskUse:
    return await asyncio.to_thread(disk_use, folder)


def human_bytes(count: int | None) -> str:
    if count is None:
        return "–"
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{count} B"
