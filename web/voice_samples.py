"""An uploaded voice sample, checked and saved: it must parse as a PCM WAV (the name and the
content type prove nothing), last 3-30 s and not be silent; it is stored as 16-bit mono
(converted when it was stereo or another bit depth) under a sanitized, unused name. A
rejected file leaves nothing behind."""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path, PurePosixPath
from urllib.parse import unquote

from web.wav import Pcm, WavError, read_wav, wav_bytes

MIN_SECONDS = 3.0  # shorter clones badly
MAX_SECONDS = 30.0  # longer adds nothing and costs time on every latent computation
SILENCE_RMS = 30.0  # int16 RMS below this (about -60 dBFS) is silence, as voices.profile says
UNSAFE = re.compile(r"[^a-z0-9_-]+")
MAX_STEM = 48


class SampleRejected(ValueError):
    """Why the file cannot be a voice sample, for the user."""


def check_sample(data: bytes) -> Pcm:
    try:
        pcm = read_wav(data)
    except WavError as exc:
        raise SampleRejected(f"Not a usable WAV file: {exc}.") from None
    if not MIN_SECONDS <= pcm.seconds <= MAX_SECONDS:
        raise SampleRejected(f"The recording is {pcm.seconds:.1f} s long; a sample must be "
                             f"{MIN_SECONDS:.0f}-{MAX_SECONDS:.0f} s.")
    if pcm.rms < SILENCE_RMS:
        raise SampleRejected("The recording is silent.")
    return pcm


def sample_stem(filename: str) -> str:
    """A safe file stem from whatever name the browser sent ("../../x y.WAV" → "x-y")."""
    # Some clients percent-encode the name (aiohttp does; browsers escape quotes): undo it
    # first, so an encoded "../" is cut off like a plain one.
    base = PurePosixPath(unquote(filename).replace("\\", "/")).name
    stem = base[: -len(PurePosixPath(base).suffix)] if PurePosixPath(base).suffix else base
    return UNSAFE.sub("-", stem.lower()).strip("-_")[:MAX_STEM] or "sample"


def save_sample(folder: Path, filename: str, pcm: Pcm) -> Path:
    """Write the sample as `<stem>.wav` (or `<stem>-2.wav`, ...) in `folder`: to a hidden
    temporary file first, then linked under its name, so a half-written file never looks like
    a sample and an existing one is never overwritten."""
    stem = sample_stem(filename)
    temporary = folder / f".upload-{secrets.token_hex(8)}.part"
    temporary.write_bytes(wav_bytes(pcm.pcm16, pcm.sample_rate))
    try:
        for n in range(1, 1000):
            target = folder / (f"{stem}.wav" if n == 1 else f"{stem}-{n}.wav")
            try:
                os.link(temporary, target)
            except FileExistsError:
                continue
            return target
        raise SampleRejected("Too many samples with this name; rename the file.")
    finally:
        temporary.unlink(missing_ok=True)
