"""SMS in PDU form (3GPP TS 23.040 / 23.038): SMS-SUBMIT to send, SMS-DELIVER received.

Texts go in the GSM 7-bit default alphabet (with its extension table) when every character
fits, else in UCS2 (Cyrillic, emoji). Long texts are split into concatenated parts behind a
user data header (153 GSM characters or 67 UCS2 units a part); received parts are put back
together by `Reassembly`, keyed by sender and reference, and given up after a timeout.
Anything malformed raises `PduError` with what was wrong.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

# GSM 03.38 default alphabet, by septet value; 0x1B is the escape to the extension table.
GSM7_BASIC = ("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
              "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM7_EXTENSION = {0x0A: "\f", 0x14: "^", 0x28: "{", 0x29: "}", 0x2F: "\\", 0x3C: "[",
                  0x3D: "~", 0x3E: "]", 0x40: "|", 0x65: "€"}
ESC = 0x1B
_BASIC_INDEX = {ch: i for i, ch in enumerate(GSM7_BASIC) if i != ESC}
_EXT_INDEX = {ch: code for code, ch in GSM7_EXTENSION.items()}

SINGLE_GSM7, PART_GSM7 = 160, 153  # septets: one message; a part behind an 8-bit-ref UDH
SINGLE_UCS2, PART_UCS2 = 70, 67  # UTF-16 units
MAX_PARTS = 255
DCS_GSM7, DCS_8BIT, DCS_UCS2 = 0x00, 0x04, 0x08
VALIDITY_4_DAYS = 0xAA  # relative validity period: (0xAA - 166) days


class PduError(ValueError):
    """A PDU that cannot be read (or a text that cannot be sent); the message says why."""


# ---- GSM 7-bit ------------------------------------------------------------------------

def gsm7_septets(text: str) -> list[int] | None:
    """The text as GSM 7-bit septets (extension characters take two); None if some
    character is outside the alphabet."""
    out: list[int] = []
    for ch in text:
        code = _BASIC_INDEX.get(ch)
        if code is not None:
            out.append(code)
            continue
        ext = _EXT_INDEX.get(ch)
        if ext is None:
            return None
        out += [ESC, ext]
    return out


def septets_to_text(septets: list[int]) -> str:
    out: list[str] = []
    escaped = False
    for code in septets:
        if escaped:
            # an unknown extension code shows as the basic character (23.038 §6.2.1.1)
            out.append(GSM7_EXTENSION.get(code, GSM7_BASIC[code] if code != ESC else " "))
            escaped = False
        elif code == ESC:
            escaped = True
        else:
            out.append(GSM7_BASIC[code])
    return "".join(out)


def pack_septets(septets: list[int], fill_bits: int = 0) -> bytes:
    """Pack septets little-endian into octets, after `fill_bits` zero bits (to align
    the text after a user data header on a septet boundary)."""
    value = 0
    bits = fill_bits
    out = bytearray()
    for septet in septets:
        value |= (septet & 0x7F) << bits
        bits += 7
        while bits >= 8:
            out.append(value & 0xFF)
            value >>= 8
            bits -= 8
    if bits:
        out.append(value & 0xFF)
    return bytes(out)


def unpack_septets(data: bytes, count: int, fill_bits: int = 0) -> list[int]:
    if (count * 7 + fill_bits + 7) // 8 > len(data):
        raise PduError(f"user data holds fewer than the {count} septets its length says")
    value = int.from_bytes(data, "little") >> fill_bits
    return [(value >> (7 * i)) & 0x7F for i in range(count)]


# ---- addresses, timestamps --------------------------------------------------------------

def encode_number(number: str) -> tuple[int, bytes]:
    """(type of address, semi-octets) of a phone number: international with a leading +."""
    digits = number.strip().replace(" ", "").replace("-", "")
    toa = 0x91 if digits.startswith("+") else 0x81
    digits = digits.lstrip("+")
    if not digits or not all(ch.isdigit() or ch in "*#" for ch in digits):
        raise PduError(f"not a phone number: {number!r}")
    return toa, _swap_semi_octets(digits)


def _swap_semi_octets(digits: str) -> bytes:
    table = {"*": "A", "#": "B"}
    padded = "".join(table.get(ch, ch) for ch in digits) + ("F" if len(digits) % 2 else "")
    return bytes.fromhex("".join(padded[i + 1] + padded[i] for i in range(0, len(padded), 2)))


def _read_semi_octets(data: bytes, digits: int) -> str:
    text = "".join(f"{b & 0x0F:X}{b >> 4:X}" for b in data)[:digits]
    if text.endswith("F"):  # the filler of an odd count (SMS centre lengths are in octets)
        text = text[:-1]
    table = {"A": "*", "B": "#", "C": "a", "D": "b", "E": "c"}
    if "F" in text:
        raise PduError("an address has a filler digit in the middle")
    return "".join(table.get(ch, ch) for ch in text)


def _decode_address(number_digits: int, toa: int, data: bytes) -> str:
    if toa & 0x70 == 0x50:  # alphanumeric sender ("MTS", "Bank"): GSM 7-bit packed
        return septets_to_text(unpack_septets(data, number_digits * 4 // 7))
    digits = _read_semi_octets(data, number_digits)
    return f"+{digits}" if toa & 0x70 == 0x10 else digits


def _bcd(octet: int) -> int:
    low, high = octet & 0x0F, octet >> 4
    if low > 9 or high > 9:
        raise PduError(f"timestamp octet {octet:02X} is not decimal")
    return low * 10 + high


def _decode_timestamp(data: bytes) -> datetime:
    year, month, day, hour, minute, second = (_bcd(b) for b in data[:6])
    tz_octet = data[6]
    quarters = _bcd(tz_octet & 0xF7)
    sign = -1 if tz_octet & 0x08 else 1
    try:
        local = datetime(2000 + year, month, day, hour, minute, second,
                         tzinfo=timezone(timedelta(minutes=sign * 15 * quarters)))
    except ValueError as exc:
        raise PduError(f"the service centre timestamp is not a date: {exc}") from None
    return local.astimezone(UTC)


# ---- SMS-SUBMIT ---------------------------------------------------------------------------

@dataclass(frozen=True)
class SubmitPdu:
    hex: str  # what AT+CMGS sends after the prompt (with the "00": the SIM's SMS centre)
    tpdu_length: int  # what AT+CMGS=<length> counts: octets without the SMS centre part


def _split(units: list[list[int]], limit: int) -> list[list[int]]:
    """Split encoded characters (each one or more units) into parts of at most `limit`
    units, never cutting a character (an escape pair, a surrogate pair) in two."""
    parts: list[list[int]] = [[]]
    for char in units:
        if len(parts[-1]) + len(char) > limit:
            parts.append([])
        parts[-1] += char
    return parts


def _char_units(text: str) -> tuple[int, list[list[int]]]:
    """(data coding scheme, per-character units): septets if all fit GSM 7-bit, else UTF-16."""
    septets = [gsm7_septets(ch) for ch in text]
    if all(s is not None for s in septets):
        return DCS_GSM7, [s for s in septets if s is not None]
    units = []
    for ch in text:
        raw = ch.encode("utf-16-be")
        units.append([int.from_bytes(raw[i:i + 2], "big") for i in range(0, len(raw), 2)])
    return DCS_UCS2, units


def encode_submit(number: str, text: str, *, reference: int = 0,
                  validity: int = VALIDITY_4_DAYS) -> list[SubmitPdu]:
    """One SMS-SUBMIT per part of `text` to `number` (concatenated with reference
    `reference` & 0xFF when it needs more than one)."""
    if not text:
        raise PduError("an SMS needs some text")
    toa, address = encode_number(number)
    digits = len(number.strip().replace(" ", "").replace("-", "").lstrip("+"))
    dcs, chars = _char_units(text)
    single, part = (SINGLE_GSM7, PART_GSM7) if dcs == DCS_GSM7 else (SINGLE_UCS2, PART_UCS2)
    total_units = sum(len(c) for c in chars)
    parts = [[u for c in chars for u in c]] if total_units <= single else _split(chars, part)
    if len(parts) > MAX_PARTS:
        raise PduError(f"the text needs {len(parts)} parts; at most {MAX_PARTS} can be sent")
    out = []
    for seq, units in enumerate(parts, start=1):
        udh = b"" if len(parts) == 1 else bytes([5, 0x00, 3, reference & 0xFF, len(parts), seq])
        if dcs == DCS_GSM7:
            fill = (7 - len(udh) * 8 % 7) % 7 if udh else 0
            header_septets = (len(udh) * 8 + fill) // 7
            user_data = udh + pack_septets(units, fill)
            udl = header_septets + len(units)
        else:
            user_data = udh + b"".join(u.to_bytes(2, "big") for u in units)
            udl = len(user_data)
        first = 0x01 | 0x10 | (0x40 if udh else 0)  # SUBMIT, relative validity, UDHI
        tpdu = bytes([first, 0x00, digits, toa]) + address \
            + bytes([0x00, dcs, validity & 0xFF, udl]) + user_data
        out.append(SubmitPdu(hex="00" + tpdu.hex().upper(), tpdu_length=len(tpdu)))
    return out


# ---- SMS-DELIVER ----------------------------------------------------------------------

@dataclass(frozen=True)
class Concat:
    reference: int
    total: int
    sequence: int


@dataclass(frozen=True)
class DeliverPdu:
    sender: str
    text: str
    timestamp: datetime
    smsc: str
    concat: Concat | None = None


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, count: int, what: str) -> bytes:
        if count < 0 or self.pos + count > len(self.data):
            raise PduError(f"the PDU ends before its {what}")
        chunk = self.data[self.pos:self.pos + count]
        self.pos += count
        return chunk

    def octet(self, what: str) -> int:
        return self.take(1, what)[0]

    def rest(self) -> bytes:
        return self.data[self.pos:]


def _alphabet(dcs: int) -> int:
    group = dcs >> 4
    if group <= 0x3 or 0x4 <= group <= 0x7:  # general data coding (compressed: refused)
        if dcs & 0x20:
            raise PduError("compressed SMS text is not supported")
        return dcs & 0x0C
    if group in (0xC, 0xD):  # message waiting indication, GSM 7-bit
        return DCS_GSM7
    if group == 0xE:  # message waiting indication, UCS2
        return DCS_UCS2
    if group == 0xF:  # data coding / message class
        return DCS_8BIT if dcs & 0x04 else DCS_GSM7
    raise PduError(f"reserved data coding scheme {dcs:02X}")


def _parse_udh(udh: bytes) -> Concat | None:
    pos = 0
    found = None
    while pos + 2 <= len(udh):
        iei, length = udh[pos], udh[pos + 1]
        value = udh[pos + 2:pos + 2 + length]
        if len(value) != length:
            raise PduError("the user data header is cut short")
        if iei == 0x00 and length == 3:
            found = Concat(value[0], value[1], value[2])
        elif iei == 0x08 and length == 4:
            found = Concat(int.from_bytes(value[:2], "big"), value[2], value[3])
        pos += 2 + length
    if found is not None and not 1 <= found.sequence <= found.total:
        raise PduError(f"part {found.sequence} of {found.total} cannot be")
    return found


def decode_deliver(pdu_hex: str) -> DeliverPdu:
    """Read an SMS-DELIVER as AT+CMGR/AT+CMGL give it (with the SMS centre part)."""
    try:
        data = bytes.fromhex(pdu_hex.strip())
    except ValueError:
        raise PduError("the PDU is not hexadecimal") from None
    r = _Reader(data)
    smsc_len = r.octet("SMS centre length")
    smsc = ""
    if smsc_len:
        smsc_toa = r.octet("SMS centre type")
        smsc_raw = r.take(smsc_len - 1, "SMS centre")
        smsc = _decode_address((smsc_len - 1) * 2, smsc_toa, smsc_raw)
    first = r.octet("first octet")
    if first & 0x03 != 0x00:
        raise PduError(f"not an SMS-DELIVER (message type {first & 0x03})")
    digits = r.octet("sender length")
    toa = r.octet("sender type")
    sender = _decode_address(digits, toa, r.take((digits + 1) // 2, "sender"))
    r.octet("protocol identifier")
    alphabet = _alphabet(r.octet("data coding scheme"))
    timestamp = _decode_timestamp(r.take(7, "timestamp"))
    udl = r.octet("user data length")
    user_data = r.rest()
    concat = None
    header_len = 0
    if first & 0x40:  # a user data header comes first
        if not user_data:
            raise PduError("the user data header is missing")
        header_len = user_data[0] + 1
        if header_len > len(user_data):
            raise PduError("the user data header is longer than the user data")
        concat = _parse_udh(user_data[1:header_len])
    if alphabet == DCS_GSM7:
        fill = (7 - header_len * 8 % 7) % 7 if header_len else 0
        header_septets = (header_len * 8 + fill) // 7
        if udl < header_septets:
            raise PduError("the user data length is shorter than its header")
        septets = unpack_septets(user_data[header_len:], udl - header_septets, fill)
        text = septets_to_text(septets)
    else:
        if udl > len(user_data):
            raise PduError(f"the user data length says {udl} octets; {len(user_data)} came")
        body = user_data[header_len:udl]
        if alphabet == DCS_UCS2:
            if len(body) % 2:
                raise PduError("UCS2 text has an odd number of octets")
            text = body.decode("utf-16-be", errors="replace")
        else:
            text = body.decode("latin-1")  # 8-bit data: shown as is
    return DeliverPdu(sender=sender, text=text, timestamp=timestamp, smsc=smsc,
                      concat=concat)


# ---- reassembly -----------------------------------------------------------------------

@dataclass(frozen=True)
class SmsMessage:
    """A whole received text (one PDU, or all parts of a concatenated one)."""

    sender: str
    text: str
    timestamp: datetime
    parts: int = 1
    complete: bool = True  # False: parts went missing; the text has what came


@dataclass
class _Partial:
    total: int
    first_seen: float
    timestamp: datetime
    parts: dict[int, str] = field(default_factory=dict)


class Reassembly:
    """Concatenated parts, held by (sender, reference) until all have come; `expire()`
    hands out what waited longer than `timeout_s` (marked incomplete)."""

    def __init__(self, timeout_s: float = 3600.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.timeout_s = timeout_s
        self.clock = clock
        self._partial: dict[tuple[str, int, int], _Partial] = {}

    def add(self, pdu: DeliverPdu) -> SmsMessage | None:
        """The whole message once this part completes it; None while parts are missing."""
        concat = pdu.concat
        if concat is None or concat.total == 1:
            return SmsMessage(pdu.sender, pdu.text, pdu.timestamp)
        key = (pdu.sender, concat.reference, concat.total)
        partial = self._partial.setdefault(
            key, _Partial(concat.total, self.clock(), pdu.timestamp))
        partial.parts[concat.sequence] = pdu.text
        partial.timestamp = min(partial.timestamp, pdu.timestamp)
        if len(partial.parts) < partial.total:
            return None
        del self._partial[key]
        return SmsMessage(pdu.sender, _joined(partial), partial.timestamp, partial.total)

    def expire(self) -> list[SmsMessage]:
        now = self.clock()
        late = [k for k, p in self._partial.items() if now - p.first_seen >= self.timeout_s]
        out = []
        for key in late:
            partial = self._partial.pop(key)
            out.append(SmsMessage(key[0], _joined(partial), partial.timestamp,
                                  partial.total, complete=False))
        return out

    @property
    def waiting(self) -> int:
        return len(self._partial)


def _joined(partial: _Partial) -> str:
    return "".join(partial.parts.get(i, "…") for i in range(1, partial.total + 1))


# ---- USSD and text mode -----------------------------------------------------------------

def ucs2_hex(text: str) -> str:
    return text.encode("utf-16-be").hex().upper()


def from_ucs2_hex(text: str) -> str:
    try:
        return bytes.fromhex(text).decode("utf-16-be")
    except ValueError:
        raise PduError(f"not UCS2 hex: {text[:40]!r}") from None


def is_ucs2_dcs(dcs: int) -> bool:
    """Whether a cell-broadcast/USSD data coding scheme (23.038 §5) means UCS2."""
    group = dcs >> 4
    if dcs == 0x11:  # UCS2 preceded by a language indicator
        return True
    if group in (0x4, 0x5, 0x6, 0x7, 0x9):
        return dcs & 0x0C == 0x08
    return False
