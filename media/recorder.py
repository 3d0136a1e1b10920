"""Call recording: WAV files that stay valid after every write, even if the process is
killed mid-call (sizes in the header are rewritten after each write; the page cache
outlives a killed process, so no fsync is needed on the 20 ms path)."""

from __future__ import annotations

import logging
import os
import struct
from datetime import datetime
from pathlib import Path

log = logging.getLogger(__name__)

_HEADER_BYTES = 44
_MAX_DATA = 0xFFFFFFFF - 36  # the RIFF size field is 32 bits


def _wav_header(sample_rate: int, channels: int, data_bytes: int) -> bytearray:
    block_align = channels * 2
    return bytearray(struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF", 36 + data_bytes, b"WAVE",
        b"fmt ", 16, 1, channels, sample_rate, sample_rate * block_align, block_align, 16,
        b"data", data_bytes,
    ))


class WavWriter:
    """16-bit PCM WAV written incrementally: data first, then the two size fields, so the
    header never claims more audio than the file holds."""

    def __init__(self, path: str | os.PathLike[str], sample_rate: int, channels: int = 1,
                 *, exclusive: bool = False) -> None:
        self.path = Path(path)
        self.sample_rate = sample_rate
        self.channels = channels
        self._block = 2 * channels
        flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | (os.O_EXCL if exclusive else os.O_TRUNC)
        self._fd: int | None = os.open(self.path, flags, 0o644)
        self._header = _wav_header(sample_rate, channels, 0)
        self._sizes = memoryview(self._header)[4:]  # bytes 4..44: both size fields in one pwrite
        self._data_bytes = 0
        self._full = False
        self._write_all(self._header)

    @property
    def frames_written(self) -> int:
        return self._data_bytes // self._block

    @property
    def closed(self) -> bool:
        return self._fd is None

    def write(self, pcm16: bytes) -> None:
        if self._fd is None:
            raise ValueError(f"{self.path} is closed")
        n = len(pcm16)
        if not n:
            return
        if n % self._block:
            raise ValueError(f"{n} bytes is not a whole number of {self._block}-byte frames")
        if self._data_bytes + n > _MAX_DATA:
            if not self._full:
                self._full = True
                log.warning("%s reached the 4 GiB WAV limit; further audio is not recorded",
                            self.path)
            return
        self._write_all(pcm16)
        self._data_bytes += n
        struct.pack_into("<I", self._header, 4, 36 + self._data_bytes)
        struct.pack_into("<I", self._header, 40, self._data_bytes)
        os.pwrite(self._fd, self._sizes, 4)

    def _write_all(self, data: bytes | bytearray) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view):]

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)

    def __enter__(self) -> WavWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class CallRecorder:
    """The two WAVs of one call: what the caller said (input) and what we sent (output).

    Both get one frame per clock tick, so they stay time-aligned. A write error (disk
    full) is logged once and stops recording instead of breaking the call.
    """

    def __init__(self, directory: str | os.PathLike[str], started_at: datetime,
                 sample_rate: int = 8000) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        stem = f"call_{started_at:%Y%m%d_%H%M%S_%f}"
        for attempt in range(1, 1000):
            name = stem if attempt == 1 else f"{stem}-{attempt}"
            try:
                self._input = WavWriter(directory / f"{name}_input.wav", sample_rate,
                                        exclusive=True)
            except FileExistsError:
                continue  # two calls started in the same microsecond
            self._output = WavWriter(directory / f"{name}_output.wav", sample_rate)
            break
        else:
            raise FileExistsError(f"no free recording name for {stem} in {directory}")
        self.sample_rate = sample_rate
        self.failed = False

    @property
    def input_path(self) -> Path:
        return self._input.path

    @property
    def prefix(self) -> Path:
        """`<dir>/call_<ts>`: other files of this call (the transcript) share it."""
        return self._input.path.with_name(self._input.path.name.removesuffix("_input.wav"))

    @property
    def output_path(self) -> Path:
        return self._output.path

    def write_input(self, pcm16: bytes) -> None:
        self._write(self._input, pcm16)

    def write_output(self, pcm16: bytes) -> None:
        self._write(self._output, pcm16)

    def _write(self, writer: WavWriter, pcm16: bytes) -> None:
        if self.failed or writer.closed:
            return
        try:
            writer.write(pcm16)
        except OSError:
            self.failed = True
            log.exception("recording %s failed; the call goes on unrecorded", writer.path)

    def close(self) -> None:
        self._input.close()
        self._output.close()
