"""A modem's serial port read on the event loop: what the AT channel and the PCM voice link
share. Bytes are read as they arrive (`loop.add_reader` on the non-blocking port, so no
thread per port) and handed to `_received`; the port going away (USB re-enumeration, a
closed pty) is noticed on read or write, shuts the port and is reported once through
`on_lost`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable

import serial

from channels.gsm.errors import PortGone

log = logging.getLogger(__name__)


class SerialPort:
    """Subclasses say what the port is for (`role`, in messages) and what to do with bytes
    (`_received`); `open()` raises `PortGone` when the device is not there."""

    role = "modem port"
    read_size = 4096

    def __init__(self, port: str, baudrate: int = 115200, *,
                 on_lost: Callable[[str], None] | None = None) -> None:
        self.port = port
        self.baudrate = baudrate
        self.on_lost = on_lost
        self._serial: serial.Serial | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = True

    def _open_port(self, write_timeout: float | None) -> serial.Serial:
        try:
            port = serial.Serial(self.port, self.baudrate, timeout=0,
                                 write_timeout=write_timeout)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise PortGone(f"cannot open the {self.role} {self.port}: {exc}") from None
        self._serial = port
        self._loop = asyncio.get_running_loop()
        self._closed = False
        self._loop.add_reader(port.fileno(), self._on_readable)
        return port

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Close the port (safe twice); not reported as lost."""
        if not self._closed:
            self._closing(f"the {self.role} was closed")
            self._shut()

    def _shut(self) -> bool:
        """Stop reading and close the device; False when it already was."""
        if self._closed:
            return False
        self._closed = True
        if self._serial is not None:
            if self._loop is not None:
                with contextlib.suppress(Exception):
                    self._loop.remove_reader(self._serial.fileno())
            with contextlib.suppress(Exception):
                self._serial.close()
        return True

    def _closing(self, reason: str) -> None:
        """Called once when the port shuts, before it is reported lost (fail what waits)."""

    def _lost(self, reason: str) -> None:
        if self._closed:
            return
        self._closing(reason)
        self._shut()
        log.warning("%s %s lost: %s", self.role, self.port, reason)
        if self.on_lost is not None:
            self.on_lost(reason)

    def _received(self, data: bytes) -> None:
        raise NotImplementedError

    def _on_readable(self) -> None:
        if self._closed or self._serial is None:
            return
        try:
            data = os.read(self._serial.fileno(), self.read_size)
        except BlockingIOError:
            return
        except OSError as exc:
            self._lost(f"read failed: {exc}")
            return
        if not data:  # end of file: the device is gone (USB unplugged, the pty closed)
            self._lost("the port closed")
            return
        self._received(data)
