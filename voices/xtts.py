"""XTTS v2 (coqui-tts): few-shot voice cloning from the WAV samples in `voices/<name>/`, with
streaming inference. GPU first; CPU works but is far slower than real time.

- The model (config.json, model.pth, vocab.json in `model_dir`; a provisioning download) loads
  once. coqui and torch are imported lazily, so this module imports anywhere; without them or
  without the weights the engine reports itself unavailable with the reason.
- Speaker latents (gpt_cond_latent, speaker_embedding) are computed once per set of samples
  and cached on disk as .npz, keyed by the SHA-256 of the samples' bytes, the model's identity
  and the conditioning settings (`LatentCache`): editing, adding or removing a sample or
  changing the model recomputes them; anything else reuses them.
- Intonation presets (presets.py) map to temperature, speed, repetition penalty, top_k/top_p.
- Output is 24 kHz; `inference_stream` yields about every 20 GPT tokens (~0.4 s of audio)."""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import json
import logging
import os
import tempfile
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from voices.base import (
    AudioChunk,
    EngineUnavailable,
    TtsEngine,
    TtsError,
    float_to_pcm16,
    iterate_in_thread,
)
from voices.presets import get_preset, xtts_kwargs
from voices.text import prepare

if TYPE_CHECKING:
    from voices.profile import VoiceProfile

log = logging.getLogger(__name__)

REQUIRED_FILES: tuple[str, ...] = ("model.pth", "config.json", "vocab.json")
XTTS_LANGUAGES = frozenset({"en", "es", "fr", "de", "it", "pt", "pl", "tr", "ru", "nl", "cs",
                            "ar", "zh-cn", "hu", "ko", "ja", "hi"})
OUTPUT_SAMPLE_RATE = 24000
LATENT_KEYS: tuple[str, ...] = ("gpt_cond_latent", "speaker_embedding")
# Conditioning settings coqui reads from config.json; they change the latents, so they are
# part of the cache key. Values are XttsConfig's defaults, used when config.json lacks them.
DEFAULT_COND_PARAMS: Mapping[str, Any] = {"gpt_cond_len": 12, "gpt_cond_chunk_len": 4,
                                          "max_ref_len": 10, "sound_norm_refs": False}

# XTTS's tokenizer truncates Russian above ~182 characters per sentence and English above 250.
_MAX_PIECE_CHARS = 180


def _to_numpy(value: Any) -> np.ndarray:
    """A torch tensor (any device, any float type) or array-like as float32 numpy."""
    if hasattr(value, "detach"):
        value = value.detach().float().cpu().numpy()
    return np.asarray(value, dtype=np.float32)


def missing_weights(model_dir: Path) -> list[str]:
    return [name for name in REQUIRED_FILES if not (model_dir / name).is_file()]


def model_identity(model_dir: Path) -> str:
    """A stable id for the weights without hashing gigabytes: config and vocab contents plus
    the checkpoint's size (a fine-tune or another release changes at least one of them)."""
    h = hashlib.sha256()
    for name in ("config.json", "vocab.json"):
        h.update(name.encode() + b"\0" + (model_dir / name).read_bytes() + b"\0")
    h.update(str((model_dir / "model.pth").stat().st_size).encode())
    return h.hexdigest()[:32]


class LatentCache:
    """Speaker latents on disk, one .npz per key. Without a directory it only keeps them in
    memory. Writes are atomic (temp file + rename) so a crash never leaves a torn cache file,
    and an unreadable file is treated as a miss and replaced."""

    def __init__(self, directory: str | Path | None) -> None:
        self.directory = Path(directory) if directory is not None else None
        self._memory: dict[str, dict[str, np.ndarray]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def key(samples: Sequence[Path], model_id: str,
            params: Mapping[str, Any] | None = None) -> str:
        """SHA-256 over the model id, the conditioning parameters and each sample's bytes in
        the order they are used (the GPT latent is computed from their concatenation, so order
        matters; file names and dates do not)."""
        if not samples:
            raise ValueError("no samples to key speaker latents on")
        h = hashlib.sha256()
        h.update(b"xtts-latents-v1\0" + model_id.encode() + b"\0")
        h.update(json.dumps(dict(params or {}), sort_keys=True, default=str).encode() + b"\0")
        for path in samples:
            h.update(hashlib.sha256(Path(path).read_bytes()).digest())
        return h.hexdigest()

    def path_for(self, key: str) -> Path | None:
        return self.directory / f"{key}.npz" if self.directory is not None else None

    def load(self, key: str) -> dict[str, np.ndarray] | None:
        with self._lock:
            if key in self._memory:
                return self._memory[key]
        path = self.path_for(key)
        if path is None or not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {name: np.array(data[name]) for name in LATENT_KEYS}
        except (OSError, ValueError, KeyError) as exc:
            log.warning("speaker latent cache %s unreadable (%s); recomputing", path, exc)
            return None
        with self._lock:
            self._memory[key] = arrays
        return arrays

    def store(self, key: str, arrays: Mapping[str, np.ndarray]) -> None:
        missing = [name for name in LATENT_KEYS if name not in arrays]
        if missing:
            raise ValueError(f"speaker latents lack {missing}")
        clean = {name: np.asarray(arrays[name], dtype=np.float32) for name in LATENT_KEYS}
        with self._lock:
            self._memory[key] = clean
        path = self.path_for(key)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{key[:12]}-", suffix=".npz")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **clean)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get_or_compute(self, samples: Sequence[Path], model_id: str,
                       compute: Callable[[list[Path]], Mapping[str, np.ndarray]],
                       params: Mapping[str, Any] | None = None) -> dict[str, np.ndarray]:
        key = self.key(samples, model_id, params)
        cached = self.load(key)
        if cached is not None:
            return cached
        log.info("computing speaker latents from %d sample(s) (key %s)", len(samples), key[:12])
        arrays = compute(list(samples))
        self.store(key, arrays)
        return self.load(key) or dict(arrays)


class XttsEngine(TtsEngine):
    name: ClassVar[str] = "xtts"

    def __init__(self, model_dir: str | Path, device: str = "cuda",
                 cache_dir: str | Path | None = None, *,
                 languages: frozenset[str] = XTTS_LANGUAGES, stream_chunk_size: int = 20,
                 max_chars: int = 1000) -> None:
        self.model_dir = Path(model_dir)
        self.device = device
        self.cache = LatentCache(cache_dir)
        self._languages = frozenset(languages)
        self.stream_chunk_size = stream_chunk_size
        self.max_chars = max_chars
        self._model: Any = None
        self._torch: Any = None
        self._model_id = ""
        self._cond_params: dict[str, Any] = dict(DEFAULT_COND_PARAMS)
        self._load_error = ""
        self._load_lock = threading.Lock()
        # One inference at a time per model: coqui's XTTS is not documented as re-entrant, and
        # a GPU gives more to one stream at a time than to two interleaved ones.
        self._infer_lock = threading.Lock()

    @property
    def languages(self) -> frozenset[str]:
        return self._languages

    def describe(self) -> str:
        return f"xtts ({self.model_dir}, {self.device})"

    def available(self) -> tuple[bool, str]:
        if self._load_error:
            return False, self._load_error
        missing = missing_weights(self.model_dir)
        if missing:
            return False, (f"XTTS weights missing in {self.model_dir}: {', '.join(missing)} "
                           "(provisioning downloads XTTS v2)")
        if importlib.util.find_spec("TTS") is None:
            return False, "coqui-tts is not installed (pip install coqui-tts)"
        if importlib.util.find_spec("torch") is None:
            return False, "torch is not installed (coqui-tts needs it)"
        return True, ""

    def suits(self, voice: VoiceProfile, language: str) -> tuple[bool, str]:
        ok, why = super().suits(voice, language)
        if not ok:
            return ok, why
        if not voice.samples:
            where = voice.folder or f"voices/{voice.name}"
            return False, (f"voice {voice.name!r} has no samples to clone from: add 3+ clean "
                           f"6-20 s WAVs of one speaker to {where}")
        return True, ""

    def _load(self) -> Any:
        with self._load_lock:
            if self._model is not None:
                return self._model
            ok, why = self.available()
            if not ok:
                raise EngineUnavailable(why)
            try:
                import torch
                from TTS.tts.configs.xtts_config import XttsConfig
                from TTS.tts.models.xtts import Xtts
            except Exception as exc:  # e.g. a CUDA torchaudio on a CPU torch: ImportError/OSError
                self._load_error = f"coqui-tts does not import: {type(exc).__name__}: {exc}"
                raise EngineUnavailable(self._load_error) from exc
            if self.device.startswith("cuda") and not torch.cuda.is_available():
                self._load_error = f"XTTS device {self.device!r} requested but CUDA is unavailable"
                raise EngineUnavailable(self._load_error)
            try:
                config = XttsConfig()
                config.load_json(str(self.model_dir / "config.json"))
                model = Xtts.init_from_config(config)
                model.load_checkpoint(config, checkpoint_dir=str(self.model_dir), eval=True,
                                      use_deepspeed=False)
                model.to(self.device)
            except Exception as exc:
                self._load_error = f"XTTS weights in {self.model_dir} failed to load: {exc}"
                raise EngineUnavailable(self._load_error) from exc
            self._cond_params = {name: getattr(config, name, default)
                                 for name, default in DEFAULT_COND_PARAMS.items()}
            self._model_id = model_identity(self.model_dir)
            self._torch = torch
            self._model = model
            log.info("loaded %s", self.describe())
            return model

    async def warm_up(self) -> None:
        await asyncio.to_thread(self._load)

    @property
    def output_sample_rate(self) -> int:
        if self._model is None:
            return OUTPUT_SAMPLE_RATE
        args = getattr(getattr(self._model, "config", None), "model_args", None)
        return int(getattr(args, "output_sample_rate", OUTPUT_SAMPLE_RATE))

    def _compute_latents(self, samples: list[Path]) -> dict[str, np.ndarray]:
        p = self._cond_params
        gpt_cond_latent, speaker_embedding = self._model.get_conditioning_latents(
            audio_path=[str(s) for s in samples], gpt_cond_len=p["gpt_cond_len"],
            gpt_cond_chunk_len=p["gpt_cond_chunk_len"], max_ref_length=p["max_ref_len"],
            sound_norm_refs=p["sound_norm_refs"])
        return {"gpt_cond_latent": _to_numpy(gpt_cond_latent),
                "speaker_embedding": _to_numpy(speaker_embedding)}

    def speaker_latents(self, voice: VoiceProfile) -> tuple[Any, Any]:
        """Blocking: (gpt_cond_latent, speaker_embedding) tensors for `voice`, from the cache
        when its samples are unchanged."""
        self._load()
        if not voice.samples:
            raise TtsError(f"voice {voice.name!r} has no samples to clone from")
        with self._infer_lock:
            arrays = self.cache.get_or_compute(voice.samples, self._model_id,
                                               self._compute_latents, self._cond_params)
        return self._as_tensor(arrays["gpt_cond_latent"]), self._as_tensor(
            arrays["speaker_embedding"])

    def _as_tensor(self, array: np.ndarray) -> Any:
        if self._torch is None:  # a stand-in model (tests) works on numpy arrays
            return array
        return self._torch.from_numpy(array).to(self.device)

    def _synthesize(self, pieces: Sequence[str], language: str,
                    voice: VoiceProfile) -> Iterator[AudioChunk]:
        model = self._load()
        gpt_cond_latent, speaker_embedding = self.speaker_latents(voice)
        settings = xtts_kwargs(get_preset(voice.preset), voice.speed)
        rate = self.output_sample_rate
        for piece in pieces:
            with self._infer_lock:
                for wav in model.inference_stream(
                        piece, language, gpt_cond_latent, speaker_embedding,
                        stream_chunk_size=self.stream_chunk_size,
                        enable_text_splitting=False, **settings):
                    audio = _to_numpy(wav)
                    if audio.size:
                        yield AudioChunk(float_to_pcm16(audio), rate, piece, self.name)

    async def stream(self, text: str, voice: VoiceProfile) -> AsyncIterator[AudioChunk]:
        prepared = prepare(text, max_chars=self.max_chars, default_language=voice.language,
                           max_piece_chars=_MAX_PIECE_CHARS)
        ok, why = self.available()
        if not ok:
            raise EngineUnavailable(why)
        ok, why = self.suits(voice, prepared.language)
        if not ok:
            raise TtsError(why)
        async for chunk in iterate_in_thread(
                lambda: self._synthesize(prepared.pieces, prepared.language, voice)):
            yield chunk

    def close(self) -> None:
        self._model = None
        if self._torch is not None and self.device.startswith("cuda"):
            self._torch.cuda.empty_cache()
