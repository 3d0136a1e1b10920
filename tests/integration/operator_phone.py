"""A staff phone for transfer tests: a baresip listening on a fixed port that answers every
call at once, plays a WAV (the "human" speaking) and records what it hears."""

from __future__ import annotations

import asyncio
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from secretary.caller.baresip import config_text, read_dump


@dataclass
class OperatorPhone:
    workdir: Path
    speak_wav: Path
    port: int
    user: str = "operator"
    local_ip: str = "127.0.0.1"  # another loopback address: a phone "out there"
    process: asyncio.subprocess.Process | None = field(default=None, init=False)

    async def __aenter__(self) -> OperatorPhone:
        if shutil.which("baresip") is None:
            raise RuntimeError("baresip is not installed (scripts/bootstrap.sh installs it)")
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "config").write_text(
            config_text(self.workdir, self.speak_wav, None, sip_port=self.port,
                        local_ip=self.local_ip))
        (self.workdir / "accounts").write_text(
            f"<sip:{self.user}@{self.local_ip}>;regint=0;answermode=auto;audio_codecs=PCMU\n")
        self.process = await asyncio.create_subprocess_exec(
            "baresip", "-4", "-f", str(self.workdir),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=(self.workdir / "baresip.log").open("wb"), stderr=asyncio.subprocess.STDOUT)
        await asyncio.sleep(1.0)  # let it bind its SIP port
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 10)
            except TimeoutError:
                self.process.kill()

    def answered(self) -> bool:
        return bool(list(self.workdir.glob("dump-*-dec.wav")))

    def heard(self) -> tuple[np.ndarray, int]:
        dumps = sorted(self.workdir.glob("dump-*-dec.wav"))
        if not dumps:
            log = (self.workdir / "baresip.log").read_text(errors="replace")[-3000:]
            raise AssertionError(f"the operator phone never answered; its log:\n{log}")
        return read_dump(dumps[-1])
