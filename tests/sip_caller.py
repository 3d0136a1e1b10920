"""The SIP test caller now lives in `secretary.caller.baresip` (the `secretary call` command
uses it too); this module keeps the tests' imports working."""

from __future__ import annotations

from secretary.caller.baresip import (
    MODULE_DIR,
    BaresipPhone,
    SipCaller,
    free_udp_port,
    read_dump,
    read_wav,
    write_wav,
)

__all__ = ["MODULE_DIR", "BaresipPhone", "SipCaller", "free_udp_port", "read_dump", "read_wav",
           "write_wav"]
