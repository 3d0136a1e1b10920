"""The GSM line (SIM7600G-H): everyone signed in sees the modem's state (port, signal,
registration, operator, the call in progress, the last error) and the SMS received and
sent; admins send an SMS and run a USSD code (a balance check) through the modem.

The modem runs in the secretary process, which lends it to the console
(`services.gsm`): our own driver, or AMI when chan_dongle/chan_quectel owns the modem. A
console without it still lists the stored SMS.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from aiohttp import web

from channels.gsm.errors import AtError
from channels.gsm.pdu import PduError
from web.query import form_text, read_form
from web.state import SERVICES, SMS
from web.templating import render

if TYPE_CHECKING:  # the driver needs pyserial; the page does not
    from channels.gsm.service import ConsoleGsm

NUMBER = re.compile(r"\+?[0-9]{3,20}")
USSD = re.compile(r"[0-9*#+]{1,40}")
MAX_SMS_CHARS = 1000  # a few concatenated parts; more is not what a console is for
NOT_HERE = ("No GSM modem runs in this process: it starts with the secretary when "
            "gsm.enabled is on.")


def _gsm(request: web.Request) -> ConsoleGsm | None:
    return request.app[SERVICES].gsm


async def _page(request: web.Request, *, status: int = 200, **context: Any
                ) -> web.StreamResponse:
    gsm = _gsm(request)
    values = {"number": "", "text": "", "code": "*100#", "error": None, "ussd": None,
              "sent": request.query.get("sent") == "1", **context}
    return await render("gsm.html", request, {
        "modem": gsm.status() if gsm is not None else None, "not_here": NOT_HERE,
        "messages": await request.app[SMS].recent(100), **values}, status=status)


async def gsm_page(request: web.Request) -> web.StreamResponse:
    return await _page(request)


async def send_sms(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    number = (form_text(form, "number") or "").strip().replace(" ", "")
    text = (form_text(form, "text") or "").strip()
    values = {"number": number, "text": text}
    if not NUMBER.fullmatch(number):
        return await _page(request, status=400, error="Enter a phone number, e.g. "
                           "+79161234567.", **values)
    if not text or len(text) > MAX_SMS_CHARS:
        return await _page(request, status=400, error=f"The text needs 1 to {MAX_SMS_CHARS} "
                           "characters.", **values)
    gsm = _gsm(request)
    if gsm is None:
        return await _page(request, status=503, error=NOT_HERE, **values)
    try:
        await gsm.send_sms(number, text)
    except (AtError, PduError, ValueError) as exc:
        return await _page(request, status=502, error=f"The SMS was not sent: {exc}",
                           **values)
    raise web.HTTPSeeOther(str(request.app.router["gsm"].url_for()) + "?sent=1")


async def run_ussd(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    code = (form_text(form, "code") or "").strip()
    if not USSD.fullmatch(code):
        return await _page(request, status=400, code=code,
                           error="A USSD code is digits, * and #, e.g. *100#.")
    gsm = _gsm(request)
    if gsm is None:
        return await _page(request, status=503, code=code, error=NOT_HERE)
    try:
        reply = await gsm.ussd(code)
    except (AtError, ValueError) as exc:
        return await _page(request, status=502, code=code, error=f"USSD failed: {exc}")
    return await _page(request, code=code, ussd=reply)


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/gsm", gsm_page, name="gsm")
    router.add_post("/gsm/sms", send_sms, name="gsm_sms")
    router.add_post("/gsm/ussd", run_ussd, name="gsm_ussd")
