"""XTTS without coqui: the unavailable path, the speaker latent cache, the preset table, and the
streaming glue driven by a stand-in for coqui's model (same method names and arguments)."""

from __future__ import annotations

import dataclasses
import inspect
import shutil
import sys
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from voices.base import EngineUnavailable, collect_audio
from voices.presets import (
    PRESETS,
    Preset,
    effective_speed,
    get_preset,
    piper_length_scale,
    xtts_kwargs,
)
from voices.profile import VoiceProfile
from voices.xtts import REQUIRED_FILES, LatentCache, XttsEngine


def write_wav(path: Path, seconds: float = 2.0, freq: float = 220.0, rate: int = 22050) -> Path:
    t = np.arange(int(seconds * rate)) / rate
    pcm = (0.3 * 32767 * np.sin(2 * np.pi * freq * t)).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return path


@pytest.fixture
def samples(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "voice"
    folder.mkdir()
    return [write_wav(folder / f"{i}.wav", freq=200.0 + 50 * i) for i in range(3)]


def fake_weights(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in REQUIRED_FILES:
        (folder / name).write_text("{}")
    return folder


# --- unavailable ------------------------------------------------------------------------------

async def test_missing_weights_make_it_unavailable(tmp_path: Path) -> None:
    engine = XttsEngine(tmp_path / "xtts_v2", device="cpu")
    ok, why = engine.available()
    assert not ok
    assert all(name in why for name in REQUIRED_FILES) and "xtts_v2" in why
    with pytest.raises(EngineUnavailable, match="weights missing"):
        async for _ in engine.stream("Привет", VoiceProfile("a", "ru", ("xtts",),
                                                             samples=(tmp_path,))):
            pass


def test_missing_coqui_makes_it_unavailable(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import voices.xtts as xtts_module

    real_find_spec = xtts_module.importlib.util.find_spec
    monkeypatch.setattr(xtts_module.importlib.util, "find_spec",
                        lambda name: None if name == "TTS" else real_find_spec(name))
    engine = XttsEngine(fake_weights(tmp_path / "w"), device="cpu")
    ok, why = engine.available()
    assert not ok and "coqui-tts is not installed" in why


def test_coqui_that_fails_to_import_is_reported(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # FINDINGS §6: coqui-tts installs on CPU but its import fails (a CUDA torchaudio)
    import voices.xtts as xtts_module

    monkeypatch.setattr(xtts_module.importlib.util, "find_spec", lambda name: object())
    monkeypatch.setitem(sys.modules, "TTS", None)  # any import of them raises ImportError
    monkeypatch.setitem(sys.modules, "torch", None)
    engine = XttsEngine(fake_weights(tmp_path / "w"), device="cpu")
    assert engine.available() == (True, "")  # looks installed until it is imported
    with pytest.raises(EngineUnavailable, match="does not import"):
        engine._load()
    ok, why = engine.available()
    assert not ok and "does not import" in why  # remembered: not retried on every phrase


# --- latent cache -----------------------------------------------------------------------------

def test_cache_key_is_stable_and_tracks_sample_bytes(samples: list[Path], tmp_path: Path) -> None:
    key = LatentCache.key(samples, "model-a")
    assert key == LatentCache.key(list(samples), "model-a")
    assert len(key) == 64

    renamed = tmp_path / "renamed"
    renamed.mkdir()
    copies = [Path(shutil.copy(s, renamed / f"other-{i}.wav")) for i, s in enumerate(samples)]
    assert LatentCache.key(copies, "model-a") == key  # names and dates do not matter

    assert LatentCache.key(samples, "model-b") != key
    assert LatentCache.key(samples, "model-a", {"gpt_cond_len": 6}) != key
    assert LatentCache.key(samples[:2], "model-a") != key
    assert LatentCache.key(list(reversed(samples)), "model-a") != key  # order is used

    write_wav(samples[1], freq=333.0)  # the user re-recorded one sample
    assert LatentCache.key(samples, "model-a") != key
    with pytest.raises(ValueError):
        LatentCache.key([], "model-a")


def test_latents_are_computed_once_and_reused_from_disk(samples: list[Path],
                                                        tmp_path: Path) -> None:
    computed: list[list[Path]] = []

    def compute(paths: list[Path]) -> dict[str, np.ndarray]:
        computed.append(paths)
        seed = len(computed)
        return {"gpt_cond_latent": np.full((1, 32, 1024), seed, np.float32),
                "speaker_embedding": np.full((1, 512, 1), seed, np.float32)}

    cache_dir = tmp_path / "latents"
    first = LatentCache(cache_dir).get_or_compute(samples, "m", compute)
    assert len(computed) == 1 and len(list(cache_dir.glob("*.npz"))) == 1
    # a new process (new cache object) reads the file instead of recomputing
    again = LatentCache(cache_dir).get_or_compute(samples, "m", compute)
    assert len(computed) == 1
    for name in ("gpt_cond_latent", "speaker_embedding"):
        np.testing.assert_array_equal(first[name], again[name])
        assert again[name].shape == first[name].shape

    write_wav(samples[0], freq=500.0)
    LatentCache(cache_dir).get_or_compute(samples, "m", compute)
    assert len(computed) == 2

    # a torn or corrupt file is a miss, recomputed and replaced
    (path,) = [p for p in cache_dir.glob("*.npz") if p.stem == LatentCache.key(samples, "m")]
    path.write_bytes(b"not an npz")
    LatentCache(cache_dir).get_or_compute(samples, "m", compute)
    assert len(computed) == 3
    assert not list(cache_dir.glob(".*"))  # no temp files left behind


# --- presets ----------------------------------------------------------------------------------

def test_presets_table_is_complete_and_sane() -> None:
    assert set(PRESETS) == {"warm", "calm", "energetic", "natural", "neutral"}
    for name, preset in PRESETS.items():
        assert preset.name == name
        assert 0.1 <= preset.temperature <= 1.0
        assert 0.5 <= preset.speed <= 1.5
        assert preset.repetition_penalty >= 1.0
        assert preset.top_k >= 1 and 0 < preset.top_p <= 1
        assert 0 < preset.noise_scale < 1.5 and 0 < preset.noise_w_scale < 1.5
    assert PRESETS["calm"].speed < PRESETS["natural"].speed < PRESETS["energetic"].speed
    assert PRESETS["neutral"].temperature < PRESETS["energetic"].temperature
    assert get_preset(None) == PRESETS["natural"] and get_preset("WARM") == PRESETS["warm"]
    with pytest.raises(ValueError, match="unknown intonation preset 'angry'"):
        get_preset("angry")


def test_preset_mappings_per_engine() -> None:
    calm = get_preset("calm")
    assert effective_speed(calm, 1.0) == pytest.approx(calm.speed)
    assert effective_speed(calm, 10.0) == 2.0 and effective_speed(calm, 0.01) == 0.5
    assert piper_length_scale(2.0) == pytest.approx(0.5)
    assert piper_length_scale(0.8, model_length_scale=1.1) == pytest.approx(1.375)
    kwargs = xtts_kwargs(get_preset("energetic"), 1.0)
    assert kwargs["speed"] == pytest.approx(1.1) and kwargs["temperature"] == 0.85
    # every key is an argument of coqui's Xtts.inference_stream (see FakeXtts below)
    assert set(kwargs) <= set(inspect.signature(FakeXtts.inference_stream).parameters)
    assert {f.name for f in dataclasses.fields(Preset)} >= {"temperature", "top_k", "top_p"}


# --- streaming glue with a stand-in model ----------------------------------------------------

class FakeXtts:
    """Mirrors coqui's Xtts methods the engine calls (signatures from coqui-tts 0.2x)."""

    def __init__(self) -> None:
        self.latent_calls: list[dict[str, Any]] = []
        self.stream_calls: list[dict[str, Any]] = []

    def get_conditioning_latents(self, audio_path, max_ref_length=30, gpt_cond_len=6,
                                 gpt_cond_chunk_len=6, librosa_trim_db=None,
                                 sound_norm_refs=False, load_sr=22050):
        assert isinstance(audio_path, list) and all(isinstance(p, str) for p in audio_path)
        self.latent_calls.append({"audio_path": audio_path, "gpt_cond_len": gpt_cond_len})
        return np.ones((1, 32, 1024), np.float32), np.ones((1, 512, 1), np.float32)

    def inference_stream(self, text, language, gpt_cond_latent, speaker_embedding,
                         stream_chunk_size=20, overlap_wav_len=1024, temperature=0.75,
                         length_penalty=1.0, repetition_penalty=10.0, top_k=50, top_p=0.85,
                         do_sample=True, speed=1.0, enable_text_splitting=False,
                         **hf_generate_kwargs):
        assert gpt_cond_latent.shape == (1, 32, 1024)
        self.stream_calls.append({"text": text, "language": language, "speed": speed,
                                  "temperature": temperature, "top_k": top_k})
        for _ in range(2):  # two chunks of 0.25 s at 24 kHz per piece
            yield np.full(6000, 0.25, np.float32)


class StandInXtts(XttsEngine):
    def available(self) -> tuple[bool, str]:
        return True, ""

    def _load(self) -> FakeXtts:
        if self._model is None:
            self._model = FakeXtts()
            self._model_id = "fake-model"
        return self._model


async def test_streams_pieces_with_preset_and_cached_latents(samples: list[Path],
                                                             tmp_path: Path) -> None:
    engine = StandInXtts(tmp_path / "w", device="cpu", cache_dir=tmp_path / "latents")
    voice = VoiceProfile("anna", "ru", ("xtts",), preset="calm", speed=1.0,
                         samples=tuple(samples))
    chunks = [c async for c in engine.stream("Здравствуйте, чем могу помочь? Всего доброго.",
                                             voice)]
    model = engine._model
    assert [c["text"] for c in model.stream_calls] == ["Здравствуйте,", "чем могу помочь?",
                                                       "Всего доброго."]
    assert {c["language"] for c in model.stream_calls} == {"ru"}
    assert model.stream_calls[0]["speed"] == pytest.approx(PRESETS["calm"].speed)
    assert model.stream_calls[0]["temperature"] == PRESETS["calm"].temperature
    assert len(chunks) == 6 and {c.sample_rate for c in chunks} == {24000}
    assert np.frombuffer(chunks[0].pcm16, np.int16)[0] == int(0.25 * 32767)

    english = await collect_audio(engine.stream("Hello there.", voice))
    assert english.duration == pytest.approx(0.5)
    assert model.stream_calls[-1]["language"] == "en"
    assert len(model.latent_calls) == 1  # latents computed once for both phrases
    assert model.latent_calls[0]["audio_path"] == [str(s) for s in samples]
