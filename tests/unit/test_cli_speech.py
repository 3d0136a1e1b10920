"""`secretary say` and `secretary hear`: the quick checks a newcomer runs, end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from secretary.settings import PROJECT_ROOT


def secretary(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "secretary", *args], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=120)


def test_say_then_hear_gives_the_sentence_back(tmp_path: Path) -> None:
    wav = tmp_path / "out.wav"
    said = secretary("say", "Please call me back after lunch.", "--voice", "anna", "-o", str(wav))
    assert said.returncode == 0, said.stderr
    report = json.loads(said.stdout)
    assert report["engine"] == "piper" and report["seconds"] > 1.0
    heard = secretary("hear", str(wav), "--lang", "en")
    assert heard.returncode == 0, heard.stderr
    text = json.loads(heard.stdout)["text"].lower()
    for word in ("call", "back", "after", "lunch"):
        assert word in text, text


def test_russian_goes_to_a_russian_voice(tmp_path: Path) -> None:
    wav = tmp_path / "ru.wav"
    said = secretary("say", "Добрый день, чем могу помочь?", "-o", str(wav))
    assert said.returncode == 0, said.stderr
    assert json.loads(said.stdout)["engine"] == "festival"
    heard = json.loads(secretary("hear", str(wav)).stdout)
    assert heard["language"] == "ru"
    assert "помочь" in heard["text"].lower()


def test_bad_input_gets_a_clear_error(tmp_path: Path) -> None:
    empty = secretary("say", "  <b></b> 🙂 ", "-o", str(tmp_path / "x.wav"))
    assert empty.returncode == 1 and "error:" in empty.stderr
    assert not (tmp_path / "x.wav").exists()
    (tmp_path / "broken.wav").write_bytes(b"RIFF....not a wav")
    broken = secretary("hear", str(tmp_path / "broken.wav"))
    assert broken.returncode == 1 and "cannot read" in broken.stderr
    unknown = secretary("say", "hello", "--voice", "nobody", "-o", str(tmp_path / "y.wav"))
    assert unknown.returncode == 1 and "nobody" in unknown.stderr
