"""Voice profiles: the shipped voices, sample checks and clear errors for bad folders."""

from __future__ import annotations

import logging
import wave
from pathlib import Path

import numpy as np
import pytest

from voices.profile import (
    DEFAULT_VOICES_DIR,
    ProfileError,
    VoiceProfile,
    load_profile,
    load_profiles,
)


def write_wav(path: Path, seconds: float = 7.0, *, amplitude: float = 0.3, width: int = 2,
              rate: int = 22050) -> Path:
    n = int(seconds * rate)
    rng = np.random.default_rng(len(path.name))
    # speech-like enough for the checks: a tone with noise, not silence
    x = amplitude * (np.sin(2 * np.pi * 180 * np.arange(n) / rate) + 0.1 * rng.standard_normal(n))
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(width)
        w.setframerate(rate)
        if width == 2:
            w.writeframes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())
        else:
            w.writeframes(((np.clip(x, -1, 1) * 127) + 128).astype(np.uint8).tobytes())
    return path


def voice_folder(tmp_path: Path, yaml_text: str, name: str = "test") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "profile.yaml").write_text(yaml_text, encoding="utf-8")
    return folder


def test_shipped_voices_load() -> None:
    profiles = load_profiles(DEFAULT_VOICES_DIR)
    assert {"anna", "marina"} <= set(profiles)
    anna = profiles["anna"]
    assert anna.language == "ru"
    assert anna.engines == ("xtts", "piper", "festival")
    assert anna.preset == "warm"
    assert anna.folder == DEFAULT_VOICES_DIR / "anna"
    for profile in profiles.values():
        assert (profile.folder / "README.md").is_file()
        if not profile.samples:  # the repository ships none: XTTS waits for the user's
            assert any("no usable samples" in note for note in profile.notes)
            assert not profile.clone_ready


def test_samples_are_checked_and_bad_ones_skipped_with_a_warning(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = voice_folder(tmp_path, "language: en\nengines: [xtts, piper]\n")
    good = [write_wav(folder / f"good{i}.wav") for i in range(2)]
    short = write_wav(folder / "short.WAV", seconds=3.0)  # kept, with a note
    (folder / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    write_wav(folder / "silent.wav", amplitude=0.0)
    write_wav(folder / "tiny.wav", seconds=0.3)
    write_wav(folder / "eightbit.wav", width=1)
    (folder / "notes.txt").write_text("not a sample")
    with caplog.at_level(logging.WARNING, logger="voices.profile"):
        profile = load_profile(folder)
    assert profile.name == "test" and profile.language == "en"
    assert profile.samples == (*good, short)
    rejected = {p.path.name: p.reason for p in profile.rejected_samples}
    assert set(rejected) == {"broken.wav", "silent.wav", "tiny.wav", "eightbit.wav"}
    assert "not a readable PCM WAV" in rejected["broken.wav"]
    assert "silent" in rejected["silent.wav"]
    assert "0.30 s" in rejected["tiny.wav"]
    assert "16-bit" in rejected["eightbit.wav"]
    assert sum("skipped" in r.getMessage() for r in caplog.records) == 4
    assert any("short.WAV: 3.0 s long" in note for note in profile.notes)


def test_cloning_only_voice_without_samples_is_an_error(tmp_path: Path) -> None:
    folder = voice_folder(tmp_path, "engines: [xtts]\n")
    (folder / "broken.wav").write_bytes(b"not audio")
    with pytest.raises(ProfileError, match=r"no usable WAV samples \(skipped: broken.wav") as e:
        load_profile(folder)
    assert "3+ clean 6-20 s WAV" in str(e.value)


def test_voice_without_samples_but_with_a_fallback_loads(tmp_path: Path) -> None:
    profile = load_profile(voice_folder(tmp_path, "engines: [xtts, festival]\n"))
    assert profile.engines == ("xtts", "festival") and profile.samples == ()
    assert any("xtts is skipped" in note for note in profile.notes)


@pytest.mark.parametrize(("yaml_text", "message"), [
    ("engines: [xtts, espeak]\n", "unknown engine.*'espeak'.*xtts, piper, festival"),
    ("engines: []\n", "engines is empty"),
    ("engines: [piper, piper]\n", "engine twice"),
    ("language: de\n", "language 'de' is not one of ru, en"),
    ("preset: angry\n", "unknown preset 'angry'"),
    ("speed: 5\n", "speed must be a number from 0.5 to 2.0"),
    ("speed: fast\n", "speed must be a number"),
    ("engine: [piper]\n", "unknown setting.*engine"),
    ("piper: /models/x.onnx\n", "piper must map a language"),
    ("piper: {de: x.onnx}\n", "unknown language"),
    ("engines: [piper\n", "not valid YAML"),
    ("- just\n- a list\n", "must be a mapping"),
])
def test_bad_profiles_fail_with_clear_errors(tmp_path: Path, yaml_text: str,
                                             message: str) -> None:
    with pytest.raises(ProfileError, match=message):
        load_profile(voice_folder(tmp_path, yaml_text))


def test_missing_folder_or_file(tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="does not exist"):
        load_profile(tmp_path / "nobody")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ProfileError, match=r"has no profile\.yaml"):
        load_profile(tmp_path / "empty")


def test_piper_paths_resolve_against_the_folder(tmp_path: Path) -> None:
    folder = voice_folder(tmp_path, "engines: [piper]\npiper:\n  ru: models/irina.onnx\n"
                                    "  en: /abs/joe.onnx\n")
    profile = load_profile(folder)
    assert profile.piper_model("ru") == folder / "models" / "irina.onnx"
    assert profile.piper_model("en") == Path("/abs/joe.onnx")


def test_profile_in_code_is_validated_too() -> None:
    assert VoiceProfile("x", "en", ("piper",)).preset == "natural"
    with pytest.raises(ProfileError, match="unknown engine"):
        VoiceProfile("x", "en", ("rhvoice",))
