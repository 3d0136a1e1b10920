"""The far end of a GSM call, as the call runner sees it (`ari_app.line_call.Line`):
hanging up goes through the modem. Putting the caller through to a human is not offered:
the SIM7600 carries one voice call, and a second leg would need call hold and a
network-side conference (AT+CHLD=3) that operators do not reliably allow; the secretary
keeps the caller and offers to take a message instead.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from channels.gsm.modem import Sim7600

if TYPE_CHECKING:
    from brain.persona import TransferTarget

log = logging.getLogger(__name__)


class GsmLine:
    def __init__(self, modem: Sim7600) -> None:
        self.modem = modem

    async def hang_up(self) -> None:
        await self.modem.hang_up()

    async def transfer(self, target: TransferTarget) -> bool:
        log.info("GSM call: cannot put the caller through to %s on a one-call modem; "
                 "the secretary will offer to take a message", target)
        return False
