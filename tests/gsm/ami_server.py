"""A stand-in for Asterisk's manager interface on 127.0.0.1: a real TCP server speaking the
AMI protocol (banner, Login, Action/Response, event lists, events) with what chan_dongle /
chan_quectel add to it (SendSMS, SendUSSD and its answer event, ShowDevices)."""

from __future__ import annotations

import asyncio

EOL = "\r\n"


def device_entry(driver_prefix: str, device: str) -> dict[str, str]:
    """A healthy device as chan_dongle's `DongleShowDevices` lists it (a subset of fields)."""
    return {"Event": f"{driver_prefix}DeviceEntry", "Device": device,
            "AudioSetting": "/dev/sim7600-pcm", "DataSetting": "/dev/sim7600-at",
            "State": "Free", "Voice": "Yes", "SMS": "Yes", "Manufacturer": "SIMCOM INCORPORATED",
            "Model": "SIMCOM_SIM7600G-H", "GSMRegistrationStatus": "Registered, home network",
            "RSSI": "20, -73 dBm", "Mode": "LTE", "Submode": "LTE",
            "ProviderName": "Sim Telecom", "SubscriberNumber": "+79990001122"}


class AmiServer:
    """Enough of Asterisk's manager: one user, the drivers' SMS/USSD/ShowDevices actions,
    events. `devices` is what ShowDevices lists; `ussd_answers` off leaves USSD unanswered;
    `drop()` cuts every client off (Asterisk restarting) while still listening."""

    def __init__(self, username: str = "gsm", secret: str = "s3cret",
                 device: str = "sim7600", port: int = 0) -> None:
        self.username, self.secret, self.device = username, secret, device
        self.actions: list[dict[str, str]] = []
        self.writers: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None
        self.port = port
        self.devices: dict[str, list[dict[str, str]]] = {
            prefix: [device_entry(prefix, device)] for prefix in ("Dongle", "Quectel")}
        self.ussd_answers = True

    async def __aenter__(self) -> AmiServer:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self.server is not None
        self.drop()
        self.server.close()
        await self.server.wait_closed()

    def drop(self) -> None:
        for writer in self.writers:
            writer.close()
        self.writers.clear()

    def event(self, **fields: str) -> None:
        for writer in self.writers:
            writer.write(message(fields))

    def sent(self, suffix: str) -> list[dict[str, str]]:
        """The actions received whose name ends with `suffix` (e.g. "SendSMS")."""
        return [a for a in self.actions if a.get("Action", "").endswith(suffix)]

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.writers.append(writer)
        writer.write(b"Asterisk Call Manager/7.0.3\r\n")
        logged_in = False
        while True:
            try:
                raw = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            fields = dict(line.split(": ", 1) for line in raw.decode().strip().split(EOL)
                          if ": " in line)
            self.actions.append(fields)
            action, action_id = fields.get("Action", ""), fields.get("ActionID", "")
            reply = {"ActionID": action_id}
            if action == "Login":
                logged_in = (fields.get("Username"), fields.get("Secret")) \
                    == (self.username, self.secret)
                reply |= ({"Response": "Success", "Message": "Authentication accepted"}
                          if logged_in else
                          {"Response": "Error", "Message": "Authentication failed"})
            elif not logged_in:
                reply |= {"Response": "Error", "Message": "Permission denied"}
            elif action.endswith("ShowDevices") and action[:-11] in self.devices:
                self._list_devices(writer, action[:-11], action_id, fields.get("Device"))
                continue
            elif action.endswith(("SendSMS", "SendUSSD")):
                if fields.get("Device") != self.device:
                    reply |= {"Response": "Error", "Message": "Device not found"}
                else:
                    what = "SMS" if action.endswith("SMS") else "USSD"
                    reply |= {"Response": "Success",
                              "Message": f"[{self.device}] {what} queued for send",
                              "ID": "0x55d0c8a1b2c0"}
            else:
                reply |= {"Response": "Error", "Message": "Invalid/unknown command"}
            writer.write(message(reply))
            if action.endswith("SendUSSD") and reply["Response"] == "Success" \
                    and self.ussd_answers:
                prefix = action.removesuffix("SendUSSD")
                writer.write(message({"Event": f"{prefix}NewUSSD", "Privilege": "call,all",
                                      "Device": self.device, "LineCount": "2",
                                      "MessageLine0": "Баланс 123.45 р.",
                                      "MessageLine1": "Тариф: Простой"}))

    def _list_devices(self, writer: asyncio.StreamWriter, prefix: str, action_id: str,
                      only: str | None) -> None:
        # as chan_dongle's manager_show_devices: a list ack, one event per device, Complete
        entries = [e for e in self.devices[prefix] if not only or e["Device"] == only]
        writer.write(message({"Response": "Success", "ActionID": action_id,
                              "EventList": "start",
                              "Message": "Device status list will follow"}))
        for entry in entries:
            writer.write(message({"Event": entry["Event"], "ActionID": action_id,
                                  **{k: v for k, v in entry.items() if k != "Event"}}))
        writer.write(message({"Event": f"{prefix}ShowDevicesComplete", "ActionID": action_id,
                              "EventList": "Complete", "ListItems": str(len(entries))}))


def message(fields: dict[str, str]) -> bytes:
    return (EOL.join(f"{k}: {v}" for k, v in fields.items()) + EOL + EOL).encode()
