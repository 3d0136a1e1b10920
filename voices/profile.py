"""Voice profiles: who speaks and how. A profile lives in `voices/<name>/profile.yaml` beside the
WAV samples a cloning engine learns the voice from; this module loads and validates it.

profile.yaml keys: name, language (ru|en: the voice's main language, used when the text itself
does not tell), engines (order to try, e.g. [xtts, piper, festival]), preset (intonation, see
presets.py), speed (1.0 = normal), piper (language -> Piper .onnx model; relative paths are
resolved against the profile folder; languages left out use the engine settings' models).

Samples are every *.wav in the folder. Unreadable, silent or too short files are skipped with a
warning and listed in `rejected_samples`; the profile only fails to load when it could never
speak (e.g. its only engine clones and there are no usable samples)."""

from __future__ import annotations

import logging
import wave
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from voices.base import TtsError
from voices.presets import DEFAULT_PRESET, MAX_SPEED, MIN_SPEED, PRESETS

log = logging.getLogger(__name__)

KNOWN_ENGINES: tuple[str, ...] = ("xtts", "piper", "festival")
CLONING_ENGINES: frozenset[str] = frozenset({"xtts"})
LANGUAGES: tuple[str, ...] = ("ru", "en")
PROFILE_FILE = "profile.yaml"
DEFAULT_VOICES_DIR = Path(__file__).resolve().parent  # voices/<name>/ sit beside the code

MIN_SAMPLE_SECONDS = 1.0  # shorter is useless for cloning: skipped
GOOD_SAMPLE_SECONDS = (6.0, 20.0)  # outside this range: kept, with a note
RECOMMENDED_SAMPLES = 3
_SILENCE_RMS = 30.0  # int16 RMS below this (about -60 dBFS) is silence


class ProfileError(TtsError):
    """A voice profile is missing or invalid; the message names the file and the fix."""


@dataclass(frozen=True, slots=True)
class SampleProblem:
    path: Path
    reason: str


@dataclass(frozen=True, slots=True)
class SampleInfo:
    path: Path
    sample_rate: int
    channels: int
    seconds: float


@dataclass(frozen=True)
class VoiceProfile:
    """A voice as the engines see it. Construct directly (tests, settings) or `load_profile`."""

    name: str
    language: str = "ru"
    engines: tuple[str, ...] = ("xtts", "piper", "festival")
    preset: str = DEFAULT_PRESET
    speed: float = 1.0
    piper_models: Mapping[str, Path] = field(default_factory=dict, hash=False)
    samples: tuple[Path, ...] = ()
    rejected_samples: tuple[SampleProblem, ...] = ()
    notes: tuple[str, ...] = ()
    folder: Path | None = None

    def __post_init__(self) -> None:
        where = f"voice {self.name!r}" + (f" ({self.folder / PROFILE_FILE})" if self.folder
                                         else "")
        if not self.name or not isinstance(self.name, str):
            raise ProfileError(f"{where}: name must be a non-empty string")
        if self.language not in LANGUAGES:
            raise ProfileError(f"{where}: language {self.language!r} is not one of "
                               f"{', '.join(LANGUAGES)}")
        if not self.engines:
            raise ProfileError(f"{where}: engines is empty; list at least one of "
                               f"{', '.join(KNOWN_ENGINES)}")
        unknown = [e for e in self.engines if e not in KNOWN_ENGINES]
        if unknown:
            raise ProfileError(f"{where}: unknown engine(s) {', '.join(map(repr, unknown))}; "
                               f"known engines are {', '.join(KNOWN_ENGINES)}")
        if len(set(self.engines)) != len(self.engines):
            raise ProfileError(f"{where}: engines lists an engine twice: {list(self.engines)}")
        if self.preset not in PRESETS:
            raise ProfileError(f"{where}: unknown preset {self.preset!r}; choose one of "
                               f"{', '.join(sorted(PRESETS))}")
        if (not isinstance(self.speed, int | float) or isinstance(self.speed, bool)
                or not MIN_SPEED <= self.speed <= MAX_SPEED):
            raise ProfileError(f"{where}: speed must be a number from {MIN_SPEED} to "
                               f"{MAX_SPEED}, got {self.speed!r}")
        bad_langs = [lang for lang in self.piper_models if lang not in LANGUAGES]
        if bad_langs:
            raise ProfileError(f"{where}: piper models given for unknown language(s) "
                               f"{bad_langs}; use {', '.join(LANGUAGES)}")
        if not self.samples and all(e in CLONING_ENGINES for e in self.engines):
            raise ProfileError(
                f"{where}: engines {list(self.engines)} clone a voice from samples, but there "
                f"are no usable WAV samples{self._rejected_hint()}. Add {RECOMMENDED_SAMPLES}+ "
                "clean 6-20 s WAV recordings of one speaker to the voice folder, or add a "
                "non-cloning engine (piper, festival) to the order")

    def _rejected_hint(self) -> str:
        if not self.rejected_samples:
            return ""
        return " (skipped: " + "; ".join(f"{p.path.name}: {p.reason}"
                                         for p in self.rejected_samples) + ")"

    @property
    def clone_ready(self) -> bool:
        return bool(self.samples)

    def piper_model(self, language: str) -> Path | None:
        return self.piper_models.get(language)


def inspect_sample(path: Path) -> SampleInfo:
    """Read a WAV fully and check it can be cloned from; raises ValueError with the reason."""
    try:
        with wave.open(str(path), "rb") as w:
            rate, channels, width, frames = (w.getframerate(), w.getnchannels(),
                                             w.getsampwidth(), w.getnframes())
            data = w.readframes(frames)
    except (wave.Error, EOFError, OSError) as exc:
        raise ValueError(f"not a readable PCM WAV file ({exc})") from exc
    if rate <= 0 or channels <= 0:
        raise ValueError("WAV header has no sample rate or channels")
    if width != 2:
        raise ValueError(f"{8 * width}-bit samples; save it as 16-bit PCM")
    frames = len(data) // (width * channels)  # trust the data over a header that may lie
    seconds = frames / rate
    if seconds < MIN_SAMPLE_SECONDS:
        raise ValueError(f"only {seconds:.2f} s of audio (need at least {MIN_SAMPLE_SECONDS} s)")
    pcm = np.frombuffer(data[: frames * width * channels], dtype="<i2").astype(np.float32)
    if float(np.sqrt(np.mean(np.square(pcm)))) < _SILENCE_RMS:
        raise ValueError("the recording is silent")
    return SampleInfo(path, rate, channels, seconds)


def scan_samples(folder: Path) -> tuple[list[SampleInfo], list[SampleProblem]]:
    """Usable samples and rejected ones among the folder's *.wav files, in name order."""
    usable: list[SampleInfo] = []
    rejected: list[SampleProblem] = []
    paths = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".wav")
    for path in paths:
        try:
            usable.append(inspect_sample(path))
        except ValueError as exc:
            log.warning("voice sample %s skipped: %s", path, exc)
            rejected.append(SampleProblem(path, str(exc)))
    return usable, rejected


def _sample_notes(samples: list[SampleInfo]) -> list[str]:
    notes = []
    low, high = GOOD_SAMPLE_SECONDS
    for s in samples:
        if not low <= s.seconds <= high:
            notes.append(f"{s.path.name}: {s.seconds:.1f} s long; {low:.0f}-{high:.0f} s "
                         "clones best")
        if s.sample_rate < 16000:
            notes.append(f"{s.path.name}: {s.sample_rate} Hz; 16 kHz or more clones best")
    if samples and len(samples) < RECOMMENDED_SAMPLES:
        notes.append(f"{len(samples)} sample(s); {RECOMMENDED_SAMPLES}+ clone more reliably")
    return notes


_ALLOWED_KEYS = frozenset({"name", "language", "engines", "preset", "speed", "piper"})


def _piper_models(raw: Any, folder: Path, where: str) -> dict[str, Path]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ProfileError(f"{where}: piper must map a language to a model path, e.g. "
                           "{ru: /models/ru_RU-irina-medium.onnx}")
    models = {}
    for lang, value in raw.items():
        if value in (None, ""):
            continue  # left blank on purpose: the settings' model for that language is used
        if not isinstance(value, str):
            raise ProfileError(f"{where}: piper.{lang} must be a path, got {value!r}")
        path = Path(value).expanduser()
        models[str(lang)] = path if path.is_absolute() else folder / path
    return models


def load_profile(folder: str | Path) -> VoiceProfile:
    """Load and validate `folder/profile.yaml` and the folder's samples."""
    folder = Path(folder)
    path = folder / PROFILE_FILE
    if not folder.is_dir():
        raise ProfileError(f"voice folder {folder} does not exist")
    if not path.is_file():
        raise ProfileError(f"{folder} has no {PROFILE_FILE}; every voice needs one "
                           "(see voices/anna/profile.yaml)")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ProfileError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ProfileError(f"{path} must be a mapping of settings, not {type(raw).__name__}")
    extra = sorted(set(raw) - _ALLOWED_KEYS)
    if extra:
        raise ProfileError(f"{path}: unknown setting(s) {', '.join(extra)}; allowed: "
                           f"{', '.join(sorted(_ALLOWED_KEYS))}")
    engines = raw.get("engines", list(KNOWN_ENGINES))
    if isinstance(engines, str):
        engines = [engines]
    if not isinstance(engines, list) or not all(isinstance(e, str) for e in engines):
        raise ProfileError(f"{path}: engines must be a list of names, e.g. [xtts, piper]")
    usable, rejected = scan_samples(folder)
    notes = _sample_notes(usable)
    name = raw.get("name", folder.name)
    samples = tuple(s.path for s in usable)
    if not samples and any(e in CLONING_ENGINES for e in engines):
        notes.append(f"no usable samples: {', '.join(e for e in engines if e in CLONING_ENGINES)}"
                     " is skipped until 3+ clean WAVs of one speaker are added")
    profile = VoiceProfile(
        name=str(name),
        language=str(raw.get("language", "ru")),
        engines=tuple(e.strip().lower() for e in engines),
        preset=str(raw.get("preset") or DEFAULT_PRESET).strip().lower(),
        speed=raw.get("speed", 1.0),
        piper_models=_piper_models(raw.get("piper"), folder, str(path)),
        samples=samples,
        rejected_samples=tuple(rejected),
        notes=tuple(notes),
        folder=folder,
    )
    for note in notes:
        log.info("voice %s: %s", profile.name, note)
    return profile


def load_profiles(root: str | Path = DEFAULT_VOICES_DIR) -> dict[str, VoiceProfile]:
    """Every voice under `root` (each subfolder with a profile.yaml), by name."""
    profiles = {}
    for folder in sorted(Path(root).iterdir()):
        if folder.is_dir() and (folder / PROFILE_FILE).is_file():
            profile = load_profile(folder)
            profiles[profile.name] = profile
    return profiles
