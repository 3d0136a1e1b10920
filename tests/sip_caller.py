"""A real SIP caller for tests and benchmarks: baresip, speaking a WAV and recording what it hears.

baresip (Debian's baresip-core) dials the secretary over UDP on loopback,
plays `speak_wav` as its microphone (module aufile) and writes what it hears
to `dump-*-dec.wav` through module sndfile (FINDINGS.md §2).
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import wave
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MODULE_DIR = Path("/usr/lib/baresip/modules")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_wav(path: Path, samples: np.ndarray, rate: int = 8000) -> Path:
    pcm = np.clip(samples, -32768, 32767).astype("<i2").tobytes()
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm)
    return path


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    with wave.open(str(path), "rb") as wav:
        assert wav.getsampwidth() == 2, f"{path}: expected 16-bit PCM"
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.float64)
        if wav.getnchannels() > 1:
            data = data.reshape(-1, wav.getnchannels()).mean(axis=1)
        return data, wav.getframerate()


@dataclass
class SipCaller:
    """One baresip process that dials `target`, speaks a WAV and records what it hears."""

    workdir: Path
    speak_wav: Path
    target: str  # e.g. sip:100@127.0.0.1:15060
    user: str = "tester"
    seconds: float = 10.0
    process: asyncio.subprocess.Process | None = field(default=None, init=False)

    def _write_config(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        sip_port = free_udp_port()
        (self.workdir / "config").write_text(
            "\n".join(
                [
                    "poll_method epoll",
                    f"sip_listen 127.0.0.1:{sip_port}",
                    "net_interface 127.0.0.1",
                    f"audio_source aufile,{self.speak_wav}",
                    "audio_player alsa,null",
                    "audio_alert alsa,null",
                    "audio_srate 8000",
                    "ausrc_srate 8000",
                    "auplay_srate 8000",
                    "rtp_ports 30000-39999",
                    f"module_path {MODULE_DIR}",
                    "module g711.so",
                    "module aufile.so",
                    "module alsa.so",
                    "module sndfile.so",
                    f"snd_path {self.workdir}",
                    "module_app account.so",
                    "module_app menu.so",
                    "",
                ]
            )
        )
        (self.workdir / "accounts").write_text(
            f"<sip:{self.user}@127.0.0.1>;regint=0;audio_codecs=PCMU\n"
        )

    async def start(self) -> None:
        if shutil.which("baresip") is None:
            raise RuntimeError("baresip is not installed (scripts/bootstrap.sh installs it)")
        self._write_config()
        self.process = await asyncio.create_subprocess_exec(
            "baresip", "-4", "-f", str(self.workdir), "-t", str(int(self.seconds)),
            "-e", f"/dial {self.target}",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=(self.workdir / "baresip.log").open("wb"),
            stderr=asyncio.subprocess.STDOUT,
        )

    async def wait(self) -> int:
        assert self.process is not None
        try:
            return await asyncio.wait_for(self.process.wait(), self.seconds + 15)
        except TimeoutError:
            self.process.kill()
            return await self.process.wait()

    async def hang_up_now(self) -> None:
        """End the call from the caller's side by stopping baresip."""
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()

    def heard(self) -> tuple[np.ndarray, int]:
        """What the caller heard (decoded audio) as float samples and rate."""
        return self._dump("dec")

    def sent(self) -> tuple[np.ndarray, int]:
        """What the caller sent, on the same clock as `heard()` (both dumps start together)."""
        return self._dump("enc")

    def _dump(self, kind: str) -> tuple[np.ndarray, int]:
        dumps = sorted(self.workdir.glob(f"dump-*-{kind}.wav"))
        if not dumps:
            log = (self.workdir / "baresip.log").read_text(errors="replace")[-3000:]
            raise AssertionError(f"baresip recorded nothing in {self.workdir}; its log:\n{log}")
        return read_wav(dumps[-1])
