"""What goes wrong talking to a modem, importable without pyserial (the console shows
these errors whether or not this process drives a modem)."""

from __future__ import annotations


class AtError(Exception):
    """An AT command did not succeed; the message says what and why."""


class AtCommandError(AtError):
    """The modem answered ERROR, +CME ERROR or +CMS ERROR (or NO CARRIER to ATA/ATD)."""

    def __init__(self, command: str, final: str) -> None:
        super().__init__(f"{command}: {final}")
        self.command = command
        self.final = final


class AtTimeout(AtError):
    """The modem did not finish answering in time."""


class PortGone(AtError):
    """The serial port could not be opened, or it went away."""
