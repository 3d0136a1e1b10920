"""Payments without a payment provider token: Telegram Stars invoices (currency XTR) and
YooMoney quickpay links, with the check of YooMoney's HTTP notifications.

YooMoney signs a notification with sha1 over
`notification_type&operation_id&amount&currency&datetime&sender&codepro&secret&label`
(its "HTTP notifications" spec); we recompute it and compare in constant time. The
label we put on a link says which bot and chat paid, so the notification can be
attributed without any state kept between the link and the payment.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

STARS_CURRENCY = "XTR"
QUICKPAY_URL = "https://yoomoney.ru/quickpay/confirm"
SIGNED_FIELDS = ("notification_type", "operation_id", "amount", "currency", "datetime",
                 "sender", "codepro")
_LABEL = re.compile(r"tg:(\d{1,12}):(-?\d{1,20})")
_STARS_PAYLOAD = re.compile(r"stars:(\d{1,12}):(-?\d{1,20})")


def stars_payload(bot_id: int, chat_id: int) -> str:
    return f"stars:{bot_id}:{chat_id}"


def parse_stars_payload(payload: str) -> tuple[int, int] | None:
    match = _STARS_PAYLOAD.fullmatch(payload)
    return None if match is None else (int(match.group(1)), int(match.group(2)))


def yoomoney_label(bot_id: int, chat_id: int) -> str:
    return f"tg:{bot_id}:{chat_id}"


def parse_yoomoney_label(label: str) -> tuple[int, int] | None:
    match = _LABEL.fullmatch(label)
    return None if match is None else (int(match.group(1)), int(match.group(2)))


def yoomoney_link(wallet: str, amount: float, label: str, purpose: str) -> str:
    """A quickpay link: the payer picks a card on YooMoney's page and pays `amount` RUB."""
    return QUICKPAY_URL + "?" + urlencode({
        "receiver": wallet, "quickpay-form": "button", "paymentType": "AC",
        "sum": f"{amount:.2f}", "label": label, "targets": purpose})


@dataclass(frozen=True)
class YooMoneyNotification:
    operation_id: str
    amount: str
    currency: str
    label: str
    codepro: bool
    unaccepted: bool


def yoomoney_signature(fields: Mapping[str, str], secret: str) -> str:
    parts = [fields.get(name, "") for name in SIGNED_FIELDS]
    parts += [secret, fields.get("label", "")]
    return hashlib.sha1("&".join(parts).encode("utf-8")).hexdigest()


def verify_yoomoney(fields: Mapping[str, str], secret: str) -> YooMoneyNotification | None:
    """The notification when its sha1_hash is right (and an operation id is there); None
    for a forgery or a malformed form. An empty secret verifies nothing."""
    given = fields.get("sha1_hash", "")
    if not secret or not given or not fields.get("operation_id"):
        return None
    expected = yoomoney_signature(fields, secret)
    if not hmac.compare_digest(expected.encode(), given.lower().encode("utf-8", "replace")):
        return None
    return YooMoneyNotification(
        operation_id=fields["operation_id"], amount=fields.get("amount", ""),
        currency=fields.get("currency", ""), label=fields.get("label", ""),
        codepro=fields.get("codepro", "false") == "true",
        unaccepted=fields.get("unaccepted", "false") == "true")
