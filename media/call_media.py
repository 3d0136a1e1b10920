"""Media pipeline of one call, independent of ARI and of the line: frames in (from a
`MediaLink`: RTP, a Twilio websocket, a modem's PCM port) -> jitter buffer -> decode ->
recorder + `on_audio` hook; playout -> recorder -> encode -> one paced frame out per tick
of the shared FrameClock."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from media.clock import FrameClock
from media.codecs import Codec
from media.framing import frame_samples, silence
from media.jitter import JitterBuffer
from media.link import BufferingLink, MediaLink
from media.playout import Playout
from media.recorder import CallRecorder
from media.resample import Resampler, SoxrStreamResampler
from media.rtp import RtpStream
from media.transport import RtpEndpoint, open_rtp_endpoint

log = logging.getLogger(__name__)


@dataclass(slots=True)
class CallMediaStats:
    ticks: int
    packets_in: int
    packets_out: int
    concealed_frames: int  # ticks with no packet to play (priming, loss, underrun): silence
    skipped_ticks: int  # ticks the clock could not serve in time; RTP timestamps jump over them
    hook_errors: int
    audio_frames_out: int
    silence_frames_out: int
    jitter: dict[str, int] = field(default_factory=dict)
    endpoint: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class CallMedia:
    """One call's media. Silence goes out from the first tick (Asterisk sends nothing until
    media flows). Audio to say goes in through `play`; received audio comes out through
    `on_audio(pcm16)` at the codec rate, one 20 ms frame per tick (silence for gaps)."""

    def __init__(self, codec: Codec, link: MediaLink, clock: FrameClock,
                 recorder: CallRecorder | None = None, jitter_depth: int = 3, *,
                 jitter_capacity: int = 50, playout_prebuffer_ms: int = 0,
                 resample_quality: str = "HQ",
                 on_audio: Callable[[bytes], Any] | None = None) -> None:
        self.codec = codec
        self.link = link
        self.clock = clock
        self.recorder = recorder
        self.on_audio = on_audio
        self.sample_rate = codec.sample_rate
        self._samples = frame_samples(codec.sample_rate)
        self._silence_in = silence(self._samples * 2)
        self.jitter = JitterBuffer(jitter_depth, jitter_capacity)
        self.playout = Playout(codec.sample_rate, prebuffer_ms=playout_prebuffer_ms)
        self._silence_out = self.playout.silence_frame
        self._silence_payload = codec.encode(self._silence_out)
        self._resample_quality = resample_quality
        self._resamplers: dict[int, Resampler] = {}
        self._last_tick: int | None = None
        self._started = False
        self._closed = False
        self.ticks = 0
        self.concealed_frames = 0
        self.skipped_ticks = 0
        self.hook_errors = 0
        # One-shot: called when the next audio frame goes out
        # (the reply's first RTP packet, for per-turn latency).
        self.on_next_audio_sent: Callable[[], Any] | None = None
        link.on_packet = self.jitter.push
        link.payload_types = codec.accepted_payload_types

    @classmethod
    async def open(cls, codec: Codec, clock: FrameClock, *, host: str = "0.0.0.0",
                   port: int = 0, remote: tuple[str, int] | None = None,
                   latch_remote: bool = False, rtp_stream: RtpStream | None = None,
                   **kwargs: Any) -> CallMedia:
        """Bind an RTP socket at host:port and build the pipeline on it (not started)."""
        endpoint = await open_rtp_endpoint(host, port, remote=remote,
                                           latch_remote=latch_remote)
        endpoint.stream = rtp_stream or RtpStream(codec.payload_type)
        return cls(codec, endpoint, clock, **kwargs)

    # -- control ------------------------------------------------------------------------

    @property
    def rtp_endpoint(self) -> RtpEndpoint:
        """The RTP socket of a call Asterisk carries (externalMedia's address pair)."""
        if not isinstance(self.link, RtpEndpoint):
            raise TypeError(f"this call's media is not RTP ({type(self.link).__name__})")
        return self.link

    @property
    def local_address(self) -> tuple[str, int]:
        return self.rtp_endpoint.local_address

    def set_remote(self, addr: tuple[str, int]) -> None:
        self.rtp_endpoint.set_remote(addr)

    def start(self) -> None:
        """Join the shared clock (starting it if needed); frames flow from the next tick."""
        if self._closed:
            raise RuntimeError("CallMedia is closed")
        if self._started:
            return
        self._started = True
        if not self.clock.running:
            self.clock.start()
        self.clock.register(self)

    async def close(self) -> None:
        """Stop ticking, close the recording and the socket. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self.clock.unregister(self)
        if self.recorder is not None:
            self.recorder.close()
        self.link.close()
        # break the reference cycles through hooks (e.g. an echo holding self.play) so the
        # call is freed at once rather than by the cyclic GC
        self.on_audio = None
        self.link.on_packet = None
        self._resamplers.clear()

    @property
    def closed(self) -> bool:
        return self._closed

    # -- outgoing audio -----------------------------------------------------------------

    def play(self, pcm16: bytes, sample_rate: int | None = None) -> None:
        """Queue audio to say. Chunks of one stream at a rate other than the codec's go
        through a streaming resampler that keeps its state between calls."""
        rate = self.sample_rate if sample_rate is None else sample_rate
        if rate != self.sample_rate:
            resampler = self._resamplers.get(rate)
            if resampler is None:
                resampler = self._resamplers[rate] = SoxrStreamResampler(
                    rate, self.sample_rate, self._resample_quality)
            pcm16 = resampler.process(pcm16)
        self.playout.enqueue(pcm16)

    def finish_play(self) -> None:
        """The current utterance is complete: push out what the resamplers and the
        crossfader still hold, instead of waiting for the next utterance or an underrun."""
        for resampler in self._resamplers.values():
            self.playout.enqueue(resampler.flush())
        self.playout.finish()

    def clear_playout(self) -> int:
        """Barge-in: drop everything queued at once; returns samples dropped."""
        for resampler in self._resamplers.values():
            resampler.reset()
        if isinstance(self.link, BufferingLink):  # audio sent but still queued over there
            self.link.clear_far_end()
        return self.playout.clear()

    @property
    def pending_ms(self) -> float:
        return self.playout.pending_ms

    # -- the tick -----------------------------------------------------------------------

    def on_tick(self, tick_index: int) -> None:
        last = self._last_tick
        self._last_tick = tick_index
        self.ticks += 1
        if last is not None and tick_index - last > 1:
            self._catch_up(tick_index - last - 1)
        self._input_frame()
        frame = self.playout.next_frame()
        if self.recorder is not None:
            self.recorder.write_output(frame)
        if frame is self._silence_out:
            payload = self._silence_payload
        else:
            payload = self.codec.encode(frame)
            notify, self.on_next_audio_sent = self.on_next_audio_sent, None
            if notify is not None:
                notify()
        self.link.send_frame(payload, self._samples)

    def _input_frame(self) -> None:
        packet = self.jitter.pop()
        if packet is None:
            pcm = self._silence_in
            self.concealed_frames += 1
        else:
            pcm = self.codec.decode(packet.payload)
        if self.recorder is not None:
            self.recorder.write_input(pcm)
        hook = self.on_audio
        if hook is not None:
            try:
                hook(pcm)
            except Exception:
                self.hook_errors += 1
                if self.hook_errors == 1 or self.hook_errors % 1000 == 0:
                    log.exception("on_audio hook failed (%d times)", self.hook_errors)

    def _catch_up(self, missed: int) -> None:
        """The clock skipped `missed` ticks (the loop stalled). Input: drain the frames
        that arrived meanwhile, so STT misses nothing. Output: never burst to catch up;
        advance the RTP timestamp so the receiver sees the gap."""
        self.skipped_ticks += missed
        drain = min(missed, self.jitter.capacity)
        recorder = self.recorder
        if recorder is not None and missed > drain:  # keep the recordings time-aligned
            recorder.write_input(silence((missed - drain) * self._samples * 2))
        for _ in range(drain):
            self._input_frame()
        self.link.skip(missed * self._samples)
        if recorder is not None:
            recorder.write_output(silence(missed * self._samples * 2))

    def stats(self) -> CallMediaStats:
        return CallMediaStats(
            ticks=self.ticks,
            packets_in=self.link.stats.delivered,
            packets_out=self.link.stats.sent,
            concealed_frames=self.concealed_frames,
            skipped_ticks=self.skipped_ticks,
            hook_errors=self.hook_errors,
            audio_frames_out=self.playout.audio_frames,
            silence_frames_out=self.playout.silence_frames,
            jitter=self.jitter.counters(),
            endpoint=self.link.stats.as_dict(),
        )
