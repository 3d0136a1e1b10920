"""G.711 and L16 codecs and their lookup by format name / payload type."""

import struct
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from media.codecs import (
    ALawCodec,
    Codec,
    L16Codec,
    ULawCodec,
    UnknownPayloadType,
    codec_for_format,
    codec_for_payload_type,
)

pcm_samples = st.lists(st.integers(-32768, 32767), min_size=1, max_size=400)


def as_pcm(samples):
    return np.asarray(samples, dtype=np.int16).tobytes()


@pytest.mark.parametrize("codec", [ULawCodec(), ALawCodec()], ids=["ulaw", "alaw"])
@given(samples=pcm_samples)
def test_g711_round_trip_within_quantisation(codec, samples):
    payload = codec.encode(as_pcm(samples))
    assert len(payload) == len(samples) == codec.payload_bytes(len(samples))
    decoded = np.frombuffer(codec.decode(payload), dtype=np.int16).astype(np.int64)
    x = np.asarray(samples, dtype=np.int64)
    # G.711 keeps 4 mantissa bits per segment: error is at most 1/32 of the magnitude
    assert np.all(np.abs(decoded - x) <= np.abs(x) / 32 + 8)
    # and decoding is a fixed point of the code
    assert codec.encode(codec.decode(payload)) == payload


def test_g711_whole_range_error_bound():
    x = np.arange(-32768, 32768, dtype=np.int16)
    for codec in (ULawCodec(), ALawCodec()):
        y = np.frombuffer(codec.decode(codec.encode(x.tobytes())), dtype=np.int16)
        err = np.abs(y.astype(np.int64) - x.astype(np.int64))
        assert err.max() <= 1024, codec


def test_ulaw_silence_byte():
    assert ULawCodec().encode(bytes(320)) == b"\xff" * 160


@given(samples=pcm_samples)
def test_l16_is_big_endian_on_the_wire(samples):
    codec = L16Codec()
    pcm = as_pcm(samples)
    wire = codec.encode(pcm)
    assert wire == struct.pack(f">{len(samples)}h", *samples)
    assert codec.decode(wire) == pcm
    assert len(wire) == codec.payload_bytes(len(samples))


def test_pcm_convention_is_little_endian_native():
    assert sys.byteorder == "little"
    assert L16Codec().decode(b"\x01\x02") == b"\x02\x01"


def test_l16_payload_types():
    assert L16Codec().payload_type == 10
    assert L16Codec(11).payload_type == 11
    with pytest.raises(ValueError):
        L16Codec(96)


def test_codec_attributes():
    for codec, pt, bps in ((ULawCodec(), 0, 1), (ALawCodec(), 8, 1), (L16Codec(), 10, 2)):
        assert isinstance(codec, Codec)
        assert (codec.payload_type, codec.sample_rate, codec.bytes_per_sample) == (pt, 8000, bps)
        assert codec.payload_type in codec.accepted_payload_types
        assert codec.payload_bytes(160) == 160 * bps


@pytest.mark.parametrize(("name", "cls", "pt"), [
    ("ulaw", ULawCodec, 0), ("alaw", ALawCodec, 8), ("slin", L16Codec, 10),
    (" ULAW ", ULawCodec, 0),
])
def test_codec_for_format(name, cls, pt):
    codec = codec_for_format(name)
    assert type(codec) is cls
    assert codec.payload_type == pt


def test_slin16_explains_dynamic_payload_drop():
    with pytest.raises(ValueError, match="dynamic payload type"):
        codec_for_format("slin16")


def test_unknown_format():
    with pytest.raises(ValueError, match="unsupported format"):
        codec_for_format("opus")


@pytest.mark.parametrize(("pt", "cls"), [(0, ULawCodec), (8, ALawCodec), (10, L16Codec),
                                         (11, L16Codec)])
def test_codec_for_payload_type(pt, cls):
    codec = codec_for_payload_type(pt)
    assert type(codec) is cls
    assert codec.payload_type == pt


@pytest.mark.parametrize("pt", [3, 9, 13, 96, 101, 118])
def test_unknown_payload_type(pt):
    with pytest.raises(UnknownPayloadType):
        codec_for_payload_type(pt)
    assert issubclass(UnknownPayloadType, ValueError)
