"""Audio payload codecs for RTP: G.711 µ-law/A-law and big-endian L16, and their lookup
by Asterisk format name or RTP payload type. PCM on our side is always pcm16:
signed 16-bit native little-endian mono."""

from __future__ import annotations

import sys
import warnings

with warnings.catch_warnings():
    # audioop is deprecated in 3.11/3.12 and comes from the audioop-lts package on 3.13+.
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

_SWAP_FOR_WIRE = sys.byteorder == "little"


class UnknownPayloadType(ValueError):
    """An RTP payload type that no codec here decodes."""


class Codec:
    """One payload format: pcm16 <-> RTP payload bytes, stateless (safe to share)."""

    name: str = ""
    payload_type: int = -1
    sample_rate: int = 8000
    bytes_per_sample: int = 1
    #: payload types this codec decodes (senders may use an alias, e.g. L16 as 10 or 11)
    accepted_payload_types: frozenset[int] = frozenset()

    def encode(self, pcm16: bytes) -> bytes:
        raise NotImplementedError

    def decode(self, payload: bytes) -> bytes:
        raise NotImplementedError

    def payload_bytes(self, samples: int) -> int:
        return samples * self.bytes_per_sample

    def payload_samples(self, payload_len: int) -> int:
        return payload_len // self.bytes_per_sample

    def __repr__(self) -> str:
        return f"{type(self).__name__}(pt={self.payload_type}, rate={self.sample_rate})"


class ULawCodec(Codec):
    name = "ulaw"
    payload_type = 0
    accepted_payload_types = frozenset({0})

    def encode(self, pcm16: bytes) -> bytes:
        return audioop.lin2ulaw(pcm16, 2)

    def decode(self, payload: bytes) -> bytes:
        return audioop.ulaw2lin(payload, 2)


class ALawCodec(Codec):
    name = "alaw"
    payload_type = 8
    accepted_payload_types = frozenset({8})

    def encode(self, pcm16: bytes) -> bytes:
        return audioop.lin2alaw(pcm16, 2)

    def decode(self, payload: bytes) -> bytes:
        return audioop.alaw2lin(payload, 2)


class L16Codec(Codec):
    """Linear 16-bit PCM, big-endian on the wire (RFC 3551 §4.5.11).

    Asterisk's externalMedia format `slin` sends it as PT 10 at 8 kHz mono (not the
    RFC's 44.1 kHz stereo meaning of PT 10); PT 11 is accepted as the same thing.
    """

    name = "slin"
    bytes_per_sample = 2
    accepted_payload_types = frozenset({10, 11})

    def __init__(self, payload_type: int = 10) -> None:
        if payload_type not in self.accepted_payload_types:
            raise ValueError(f"L16 payload type must be 10 or 11, not {payload_type}")
        self.payload_type = payload_type

    def encode(self, pcm16: bytes) -> bytes:
        return audioop.byteswap(pcm16, 2) if _SWAP_FOR_WIRE else bytes(pcm16)

    def decode(self, payload: bytes) -> bytes:
        if len(payload) % 2:
            payload = payload[:-1]  # a torn sample cannot be decoded; keep the rest aligned
        return audioop.byteswap(payload, 2) if _SWAP_FOR_WIRE else bytes(payload)


class Pcm16Codec(Codec):
    """Signed 16-bit little-endian mono PCM as is, at 8 kHz: a GSM modem's voice port
    (SIM7600 after AT+CPCMREG=1). Identity both ways; never on an RTP wire, so its payload
    type is only a label the link and the jitter buffer agree on (not in `_BY_FORMAT`)."""

    name = "pcm16le"
    payload_type = 96
    bytes_per_sample = 2
    accepted_payload_types = frozenset({96})

    def encode(self, pcm16: bytes) -> bytes:
        return bytes(pcm16) if _SWAP_FOR_WIRE else audioop.byteswap(pcm16, 2)

    def decode(self, payload: bytes) -> bytes:
        if len(payload) % 2:
            payload = payload[:-1]  # a torn sample cannot be decoded; keep the rest aligned
        return bytes(payload) if _SWAP_FOR_WIRE else audioop.byteswap(payload, 2)


_BY_FORMAT: dict[str, type[Codec]] = {"ulaw": ULawCodec, "alaw": ALawCodec, "slin": L16Codec}


def codec_for_format(name: str) -> Codec:
    """Codec for an Asterisk externalMedia format name ("ulaw", "alaw", "slin")."""
    key = name.strip().lower()
    if key in _BY_FORMAT:
        return _BY_FORMAT[key]()
    if key.startswith("slin"):
        raise ValueError(
            f"format {name!r} is not usable with externalMedia: Asterisk sends it with a "
            "dynamic payload type (96-127, e.g. PT 118 for slin16) and silently drops "
            "dynamic payload types on the way back to the caller (asterisk/documentation#142). "
            "Use 'slin' (8 kHz, PT 10) or G.711 and resample on our side."
        )
    raise ValueError(f"unsupported format {name!r}; supported: {', '.join(_BY_FORMAT)}")


def codec_for_payload_type(pt: int) -> Codec:
    """Codec for a static RTP payload type (0 µ-law, 8 A-law, 10/11 L16 at 8 kHz)."""
    if pt == 0:
        return ULawCodec()
    if pt == 8:
        return ALawCodec()
    if pt in L16Codec.accepted_payload_types:
        return L16Codec(pt)
    raise UnknownPayloadType(f"no codec for RTP payload type {pt}")
