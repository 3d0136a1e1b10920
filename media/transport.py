"""UDP transport of one call's RTP: receive, filter and hand packets on; send from the
socket Asterisk was told about (external_host), because strict RTP drops other sources.
`RtpEndpoint` is the `media.link.MediaLink` of calls that Asterisk carries."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass
from typing import Any

from media.rtp import RtpError, RtpPacket, RtpStream

log = logging.getLogger(__name__)

_MAX_REMEMBERED_STRANGERS = 64  # spoofed floods must not grow memory


@dataclass(slots=True)
class EndpointStats:
    received: int = 0  # datagrams
    delivered: int = 0  # packets handed to on_packet
    strangers: int = 0  # from an address other than the remote
    malformed: int = 0
    unknown_payload: int = 0
    sent: int = 0
    unsent: int = 0  # send() while the remote was unknown or the socket closed
    send_errors: int = 0  # ICMP errors reported by the OS (far end gone)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def _normalise(addr: tuple[str, int]) -> tuple[str, int]:
    host, port = addr[0], int(addr[1])
    try:
        host = str(ipaddress.ip_address(host))
    except ValueError:
        raise ValueError(f"remote host must be an IP address, got {host!r}") from None
    if not 0 < port < 65536:
        raise ValueError(f"remote port {port} out of range")
    return host, port


class RtpEndpoint(asyncio.DatagramProtocol):
    """One call's RTP socket.

    Create it with `loop.create_datagram_endpoint(lambda: RtpEndpoint(...),
    local_addr=(host, port))` or `open_rtp_endpoint()`. Packets from `remote` with an
    accepted payload type go to `on_packet` (keep that cheap: queue into a jitter
    buffer). Everything else is counted and logged once, never raised.
    """

    def __init__(self, on_packet: Callable[[RtpPacket], Any] | None = None, *,
                 remote: tuple[str, int] | None = None, latch_remote: bool = False,
                 payload_types: Collection[int] | None = frozenset({0, 8, 10, 11})) -> None:
        self.on_packet = on_packet
        self.latch_remote = latch_remote
        self.payload_types = None if payload_types is None else frozenset(payload_types)
        self.stats = EndpointStats()
        self._transport: asyncio.DatagramTransport | None = None
        self._remote: tuple[str, int] | None = None
        self._local: tuple[str, int] | None = None
        self._strangers_seen: set[tuple[str, int]] = set()
        self._logged: set[str] = set()
        #: header state of what `send_frame` sends; set it before the first frame
        self.stream: RtpStream | None = None
        if remote is not None:
            self.set_remote(remote)

    # -- asyncio.DatagramProtocol -------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        sockname = transport.get_extra_info("sockname")
        self._local = (sockname[0], sockname[1])

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        stats = self.stats
        stats.received += 1
        remote = self._remote
        if remote is None:
            if self.latch_remote:
                self._remote = remote = (addr[0], addr[1])
                log.info("RTP %s: latched remote %s:%s", self._local, addr[0], addr[1])
        elif addr[1] != remote[1] or addr[0] != remote[0]:
            stats.strangers += 1
            self._note_stranger((addr[0], addr[1]))
            return
        try:
            packet = RtpPacket.parse(data)
        except RtpError as exc:
            stats.malformed += 1
            self._log_once("malformed", "RTP %s: dropping malformed packets from %s (first: %s)",
                           self._local, addr, exc)
            return
        accepted = self.payload_types
        if accepted is not None and packet.payload_type not in accepted:
            stats.unknown_payload += 1
            self._log_once(f"pt{packet.payload_type}",
                           "RTP %s: dropping packets with unexpected payload type %s",
                           self._local, packet.payload_type)
            return
        stats.delivered += 1
        if self.on_packet is not None:
            self.on_packet(packet)

    def error_received(self, exc: Exception) -> None:
        self.stats.send_errors += 1
        self._log_once("error", "RTP %s: socket error (far end gone?): %s", self._local, exc)

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None

    # -- our API ------------------------------------------------------------------------

    @property
    def local_address(self) -> tuple[str, int]:
        if self._local is None:
            raise RuntimeError("endpoint is not bound yet")
        return self._local

    @property
    def remote(self) -> tuple[str, int] | None:
        return self._remote

    def set_remote(self, addr: tuple[str, int]) -> None:
        """Where to send, and the only source accepted from now on (Asterisk's
        UNICASTRTP_LOCAL_ADDRESS/PORT). Must be an IP literal."""
        self._remote = _normalise(addr)

    @property
    def is_closed(self) -> bool:
        return self._transport is None

    def send(self, packet: RtpPacket) -> bool:
        return self.send_bytes(packet.to_bytes())

    def send_bytes(self, data: bytes) -> bool:
        remote = self._remote
        transport = self._transport
        if transport is None or remote is None:
            self.stats.unsent += 1
            return False
        transport.sendto(data, remote)
        self.stats.sent += 1
        return True

    def send_frame(self, payload: bytes, samples: int) -> None:
        if self.stream is None:
            raise RuntimeError("set RtpEndpoint.stream before sending frames")
        self.send_bytes(self.stream.next_datagram(payload, samples))

    def skip(self, samples: int) -> None:
        if self.stream is not None:
            self.stream.skip(samples)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def _note_stranger(self, addr: tuple[str, int]) -> None:
        seen = self._strangers_seen
        if addr in seen or len(seen) >= _MAX_REMEMBERED_STRANGERS:
            return
        seen.add(addr)
        log.warning("RTP %s: dropping packets from %s:%s (expected %s:%s)",
                    self._local, addr[0], addr[1], *(self._remote or ("?", "?")))

    def _log_once(self, key: str, msg: str, *args: object) -> None:
        if key in self._logged or len(self._logged) >= _MAX_REMEMBERED_STRANGERS:
            return
        self._logged.add(key)
        log.warning(msg, *args)


async def open_rtp_endpoint(host: str = "0.0.0.0", port: int = 0,
                            **kwargs: Any) -> RtpEndpoint:
    """Bind a UDP socket at host:port (0 = ephemeral) and return its RtpEndpoint."""
    loop = asyncio.get_running_loop()
    _, endpoint = await loop.create_datagram_endpoint(
        lambda: RtpEndpoint(**kwargs), local_addr=(host, port))
    return endpoint
