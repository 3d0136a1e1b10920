"""Intonation presets: one small table of how a named delivery (warm, calm, energetic, natural,
neutral) maps onto each engine's knobs.

XTTS takes the sampling settings of its GPT (temperature, top_k, top_p, repetition and length
penalty) and a speed. Piper (VITS) takes a length scale (from the speed) and its two noise
scales, which play the role temperature plays for XTTS: more noise, livelier prosody.
Festival's unit-selection voice ignores all of these (it replays recorded units)."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_PRESET = "natural"


@dataclass(frozen=True, slots=True)
class Preset:
    name: str
    temperature: float  # XTTS GPT sampling temperature: higher, more varied intonation
    speed: float  # multiplies the voice profile's speed; > 1 is faster
    repetition_penalty: float  # XTTS: keeps the GPT from stalling on "uhhh" or long silences
    top_k: int
    top_p: float
    length_penalty: float = 1.0
    noise_scale: float = 0.667  # Piper: generator noise (expressiveness)
    noise_w_scale: float = 0.8  # Piper: phoneme duration noise (rhythm variation)


# natural is XTTS v2's own release settings; the others move away from it moderately, since
# large temperatures make XTTS mumble or hallucinate words.
PRESETS: dict[str, Preset] = {
    "natural": Preset("natural", temperature=0.75, speed=1.0, repetition_penalty=5.0,
                      top_k=50, top_p=0.85, noise_scale=0.667, noise_w_scale=0.8),
    "neutral": Preset("neutral", temperature=0.6, speed=1.0, repetition_penalty=6.0,
                      top_k=40, top_p=0.8, noise_scale=0.5, noise_w_scale=0.6),
    "warm": Preset("warm", temperature=0.8, speed=0.95, repetition_penalty=4.5,
                   top_k=60, top_p=0.88, noise_scale=0.7, noise_w_scale=0.85),
    "calm": Preset("calm", temperature=0.65, speed=0.88, repetition_penalty=5.0,
                   top_k=40, top_p=0.8, noise_scale=0.55, noise_w_scale=0.7),
    "energetic": Preset("energetic", temperature=0.85, speed=1.1, repetition_penalty=4.0,
                        top_k=70, top_p=0.9, noise_scale=0.75, noise_w_scale=0.9),
}

MIN_SPEED = 0.5
MAX_SPEED = 2.0


def get_preset(name: str | None) -> Preset:
    """The preset called `name` (case-insensitive); the default one for None/""."""
    key = (name or DEFAULT_PRESET).strip().lower()
    try:
        return PRESETS[key]
    except KeyError:
        raise ValueError(f"unknown intonation preset {name!r}; choose one of "
                         f"{', '.join(sorted(PRESETS))}") from None


def effective_speed(preset: Preset, profile_speed: float = 1.0) -> float:
    """Profile speed times the preset's, clamped to what every engine renders intelligibly."""
    return min(MAX_SPEED, max(MIN_SPEED, preset.speed * profile_speed))


def piper_length_scale(speed: float, model_length_scale: float = 1.0) -> float:
    """Piper's length_scale for a speed: the model's own scale divided by the speed."""
    if speed <= 0:
        raise ValueError(f"speed must be positive, got {speed}")
    return model_length_scale / speed


def xtts_kwargs(preset: Preset, profile_speed: float = 1.0) -> dict[str, float | int]:
    """Keyword arguments for coqui's `Xtts.inference_stream` for this preset."""
    return {
        "temperature": preset.temperature,
        "speed": effective_speed(preset, profile_speed),
        "repetition_penalty": preset.repetition_penalty,
        "length_penalty": preset.length_penalty,
        "top_k": preset.top_k,
        "top_p": preset.top_p,
    }
