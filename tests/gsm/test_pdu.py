"""SMS PDUs: published vectors, Cyrillic UCS2, the GSM extension table, concatenation both
ways, and malformed input."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from channels.gsm.pdu import (
    Concat,
    PduError,
    Reassembly,
    decode_deliver,
    encode_submit,
    gsm7_septets,
    pack_septets,
    septets_to_text,
    unpack_septets,
)

# The widely published SMS-DELIVER and SMS-SUBMIT of "hellohello" (dreamfabric.com's PDU
# guide, also in 3GPP-derived tutorials): the packing E8329BFD4697D9EC37 is the reference.
DELIVER_HELLO = "07917283010010F5040BC87238880900F10000993092516195800AE8329BFD4697D9EC37"
SUBMIT_HELLO = "0011000B916407281553F80000AA0AE8329BFD4697D9EC37"
# "Привет" from +79161234567 in UCS2, written out by hand from 23.040 §9.2.2.1.
DELIVER_PRIVET = ("07919761989901F0" "04" "0B919761214365F7" "00" "08" "52117201054421" "0C"
                  "041F04400438043204350442")


def test_published_deliver_vector() -> None:
    pdu = decode_deliver(DELIVER_HELLO)
    assert pdu.text == "hellohello"
    assert pdu.sender == "27838890001"
    assert pdu.smsc == "+27381000015"
    # 99-03-29 15:16:59 at +2 hours (8 quarter hours)
    assert (pdu.timestamp.month, pdu.timestamp.day) == (3, 29)
    assert (pdu.timestamp.hour, pdu.timestamp.minute, pdu.timestamp.second) == (13, 16, 59)
    assert pdu.concat is None


def test_published_submit_vector() -> None:
    [part] = encode_submit("+46708251358", "hellohello")
    assert part.hex == SUBMIT_HELLO
    assert part.tpdu_length == len(SUBMIT_HELLO) // 2 - 1


def test_cyrillic_ucs2_deliver() -> None:
    pdu = decode_deliver(DELIVER_PRIVET)
    assert pdu.text == "Привет"
    assert pdu.sender == "+79161234567"
    assert pdu.timestamp == datetime(2025, 11, 27, 7, 50, 44, tzinfo=UTC)


def test_cyrillic_submit_is_ucs2() -> None:
    [part] = encode_submit("+79161234567", "Привет")
    assert part.hex == "0011000B919761214365F70008AA0C041F04400438043204350442"


def test_gsm7_alphabet_and_extension_table() -> None:
    text = "Price: 5€ [a|b] {x} ~^\\ @£$¥ Δ"
    septets = gsm7_septets(text)
    assert septets is not None
    assert septets.count(0x1B) == 9  # each extension character is escape + code
    assert septets_to_text(unpack_septets(pack_septets(septets), len(septets))) == text
    assert gsm7_septets("Привет") is None


def test_long_gsm_text_splits_at_153_and_reassembles() -> None:
    text = "".join(f"{i:03d} " for i in range(100))  # 400 characters
    parts = encode_submit("+441234567890", text, reference=0x42)
    assert len(parts) == 3
    delivered = [decode_deliver(deliver_from_submit(p.hex)) for p in parts]
    assert [d.concat for d in delivered] == [Concat(0x42, 3, i) for i in (1, 2, 3)]
    assert [len(d.text) for d in delivered] == [153, 153, 94]
    store = Reassembly()
    assert store.add(delivered[2]) is None and store.add(delivered[0]) is None
    message = store.add(delivered[1])
    assert message is not None and message.text == text and message.parts == 3
    assert store.waiting == 0


def test_long_cyrillic_splits_at_67_without_cutting_a_character() -> None:
    text = "Ваша запись подтверждена. " * 6 + "😀"  # 157 characters, an emoji at the end
    parts = encode_submit("+79161234567", text)
    texts = [decode_deliver(deliver_from_submit(p.hex)).text for p in parts]
    assert len(parts) == 3
    assert all(len(t.encode("utf-16-be")) // 2 <= 67 for t in texts)
    assert "".join(texts) == text


def test_extension_characters_are_not_split_across_parts() -> None:
    text = "a" * 152 + "€" + "b" * 10  # the euro sign (2 septets) would straddle 153
    texts = [decode_deliver(deliver_from_submit(p.hex)).text
             for p in encode_submit("+100", text)]
    assert texts == ["a" * 152, "€" + "b" * 10]


def test_16_bit_reference_header() -> None:
    # UDH: 06 08 04 1234 02 01 (16-bit reference 0x1234, part 1 of 2), UCS2 "Да"
    pdu = ("00" "44" "0B919761214365F7" "00" "08" "52117201054421" "0B"
           "060804123402010414" "0430")
    decoded = decode_deliver(pdu)
    assert decoded.concat == Concat(0x1234, 2, 1)
    assert decoded.text == "Да"


def test_reassembly_timeout_hands_out_incomplete() -> None:
    now = [0.0]
    store = Reassembly(timeout_s=10, clock=lambda: now[0])
    first = decode_deliver(deliver_from_submit(
        encode_submit("+100", "x" * 200, reference=9)[0].hex))
    assert store.add(first) is None
    assert store.expire() == []
    now[0] = 11
    [late] = store.expire()
    assert not late.complete and late.parts == 2
    assert late.text == "x" * 153 + "…"


@pytest.mark.parametrize(("pdu", "message"), [
    ("zz", "not hexadecimal"),
    ("", "ends before its SMS centre length"),
    ("0001000B91", "not an SMS-DELIVER"),
    ("00040B919761214365F7000852117201", "ends before its timestamp"),
    ("00040B919761214365F70008521172010544210C0414", "user data length says 12"),
    ("00040B919761214365F70008521172010544210304140430", "odd number of octets"),
    ("00040B919761214365F700005211720105442150E8329BFD46", "fewer than the 80 septets"),
    ("00040B919761214365F7000852AA7201054421020414", "is not decimal"),
    ("00440B919761214365F7000852117201054421040900030201", "longer than the user data"),
    ("00440B919761214365F7000852117201054421060500030A0203", "part 3 of 2"),
])
def test_malformed_pdus_raise_pdu_error(pdu: str, message: str) -> None:
    with pytest.raises(PduError, match=message):
        decode_deliver(pdu)


def test_bad_numbers_and_texts() -> None:
    with pytest.raises(PduError, match="not a phone number"):
        encode_submit("call me", "hi")
    with pytest.raises(PduError, match="needs some text"):
        encode_submit("+100", "")


def deliver_from_submit(submit_hex: str) -> str:
    """The SMS-DELIVER a network makes of a SUBMIT: header rewritten, user data as is."""
    data = bytes.fromhex(submit_hex)
    tpdu = data[1 + data[0]:]
    digits = tpdu[2]
    pos = 4 + (digits + 1) // 2
    dcs = tpdu[pos + 1]
    user = tpdu[pos + 3:]  # after PID, DCS and a one-octet validity period
    return ("00" + bytes([tpdu[0] & 0x40]).hex() + "0B919761214365F7" + "00"
            + f"{dcs:02X}" + "52117201054421" + user.hex().upper())
