"""The test caller: a real SIP phone (baresip) that talks to the running secretary and
measures what a caller hears. Used by `secretary call`, the integration tests and
bench/call_latency.py.

- `baresip`: the phone itself (dial, say a WAV, hang up, read its recordings live);
- `script`: a scripted conversation and its per-turn report;
- `analysis`: sound, replies, latency and barge-in on the recordings (pure numpy).
"""

from __future__ import annotations

from secretary.caller.analysis import Detector, Segment
from secretary.caller.baresip import (
    BaresipError,
    BaresipPhone,
    CallFailed,
    GrowingWav,
    SipCaller,
    read_dump,
    read_wav,
    write_wav,
)
from secretary.caller.script import (
    CALLER_VOICE,
    CallerSpeech,
    CallPlan,
    CallReport,
    Line,
    Turn,
    default_target,
    find_call_record,
    guess_language,
    place_call,
)

__all__ = [
    "CALLER_VOICE",
    "BaresipError",
    "BaresipPhone",
    "CallFailed",
    "CallPlan",
    "CallReport",
    "CallerSpeech",
    "Detector",
    "GrowingWav",
    "Line",
    "Segment",
    "SipCaller",
    "Turn",
    "default_target",
    "find_call_record",
    "guess_language",
    "place_call",
    "read_dump",
    "read_wav",
    "write_wav",
]
