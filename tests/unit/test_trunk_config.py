"""SIP trunks (Twilio Elastic SIP Trunking): settings checks, rendered pjsip and dialplan, and
what a call session makes of the trunk's Stasis arguments."""

from __future__ import annotations

from typing import Any, cast

import pytest
from pydantic import ValidationError

from ari_app.call_session import CallSession, stasis_args
from asterisk.config import InstanceDirs, render_all
from secretary.settings import TWILIO_SIGNALLING_CIDRS, Settings

DIRS = InstanceDirs(
    etc="/srv/x/etc", modules="/usr/lib/mods", varlib="/var/lib/asterisk", db="/srv/x/db",
    data="/usr/share/asterisk", spool="/srv/x/spool", run="/srv/x/run", log="/srv/x/log",
    cache="/srv/x/cache",
)
TLS = {"transport": "tls", "tls_cert_file": "/etc/keys/cert.pem",
       "tls_key_file": "/etc/keys/key.pem"}


def render(**asterisk: Any) -> dict[str, str]:
    settings = Settings(asterisk=asterisk)
    return render_all(asterisk=settings.asterisk, ari=settings.ari,
                      ari_password=settings.ari.password.get_secret_value(), dirs=DIRS,
                      instance="t")


def section(text: str, name: str, kind: str) -> str:
    """The body of the `[name]` section whose `type = kind` (pjsip reuses names per type)."""
    for block in text.split("\n[")[1:]:
        head, _, body = block.partition("]\n")
        if head == name and f"type = {kind}\n" in body:
            return body
    raise AssertionError(f"no [{name}] of type {kind} in:\n{text}")


def trunk_errors(**trunk: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        Settings(asterisk={"trunks": [trunk]})
    return str(caught.value)


def test_a_twilio_trunk_by_address_with_credentials_behind_nat() -> None:
    files = render(trunks=[{
        "host": "example.pstn.twilio.com", "username": "acme", "password": "pw-1",
        "outbound_caller_id": "+15550001111", "dids": ["+1 (555) 000-1111", "+15550002222"],
        "external_media_address": "203.0.113.5", "external_signaling_address": "203.0.113.5",
        "local_net": ["10.0.0.0/8"]}])
    pjsip, dialplan = files["pjsip.conf"], files["extensions.conf"]

    endpoint = section(pjsip, "twilio", "endpoint")
    assert "transport = transport-udp\n" in endpoint  # no port of its own: the main one
    assert "context = secretary-trunk-twilio\n" in endpoint
    assert "disallow = all\nallow = ulaw,alaw\n" in endpoint
    assert "outbound_auth = twilio-auth\n" in endpoint
    assert "\nauth =" not in endpoint  # Twilio's calls are recognised by address only
    assert "from_user = +15550001111\n" in endpoint
    assert "media_encryption" not in endpoint
    identify = section(pjsip, "twilio", "identify")
    assert [line.split(" = ")[1] for line in identify.splitlines() if line.startswith("match")] \
        == list(TWILIO_SIGNALLING_CIDRS)
    assert "contact = sip:example.pstn.twilio.com:5060\n" in section(pjsip, "twilio", "aor")
    auth = section(pjsip, "twilio-auth", "auth")
    assert "username = acme\n" in auth and "password = pw-1\n" in auth

    # NAT goes on the transport the trunk uses; local callers stay un-NATed.
    transport = section(pjsip, "transport-udp", "transport")
    assert "external_media_address = 203.0.113.5\n" in transport
    assert "external_signaling_address = 203.0.113.5\n" in transport
    assert "local_net = 127.0.0.0/8\nlocal_net = 10.0.0.0/8\n" in transport

    # Only the trunk's numbers reach the app, normalised; others are refused and logged.
    assert "exten => +15550001111,1," in dialplan and "exten => +15550002222,1," in dialplan
    assert "Stasis(secretary,trunk,twilio,${EXTEN})" in dialplan
    assert "Log(NOTICE,trunk twilio: ${EXTEN} is not one of our numbers)\n same => n,Hangup(1)" \
        in dialplan
    outbound = dialplan.split("[secretary-outbound-twilio]")[1]
    assert "Set(CALLERID(num)=+15550001111)" in outbound
    assert "Dial(PJSIP/${EXTEN}@twilio)" in outbound


def test_a_trunk_without_dids_takes_any_number_and_without_host_cannot_dial_out() -> None:
    files = render(trunks=[{"name": "carrier", "provider": "acme", "identify_cidrs":
                            ["198.51.100.7"], "inbound_auth": True, "username": "u",
                            "password": "p"}])
    pjsip, dialplan = files["pjsip.conf"], files["extensions.conf"]
    endpoint = section(pjsip, "carrier", "endpoint")
    assert "auth = carrier-auth\n" in endpoint and "outbound_auth = carrier-auth\n" in endpoint
    assert "aors" not in endpoint and "from_user" not in endpoint
    assert "[carrier]\ntype = aor" not in pjsip
    assert "match = 198.51.100.7\n" in section(pjsip, "carrier", "identify")
    context = dialplan.split("[secretary-trunk-carrier]")[1].split("\n[")[0]
    assert "exten => _X.,1," in context and "exten => _+X.,1," in context
    assert "is not one of our numbers" not in context
    assert "[transport-udp]\ntype = transport\nprotocol = udp\nbind = 127.0.0.1:5060\n\n" in pjsip


def test_tls_and_srtp_get_a_transport_of_their_own() -> None:
    files = render(trunks=[{**TLS, "host": "example.pstn.twilio.com", "media_encryption":
                            "sdes", "external_media_address": "203.0.113.5",
                            "tls_ca_file": "/etc/ssl/certs/ca-certificates.crt"}])
    pjsip = files["pjsip.conf"]
    transport = section(pjsip, "transport-twilio", "transport")
    assert "protocol = tls\nbind = 127.0.0.1:5061\n" in transport
    assert "cert_file = /etc/keys/cert.pem\npriv_key_file = /etc/keys/key.pem\n" in transport
    assert "method = tlsv1_2\n" in transport
    assert "ca_list_file = /etc/ssl/certs/ca-certificates.crt\nverify_server = yes\n" \
        in transport
    assert "external_media_address = 203.0.113.5\n" in transport
    assert "external_media_address" not in section(pjsip, "transport-udp", "transport")
    endpoint = section(pjsip, "twilio", "endpoint")
    assert "transport = transport-twilio\n" in endpoint
    assert "media_encryption = sdes\nmedia_encryption_optimistic = no\n" in endpoint
    assert "contact = sip:example.pstn.twilio.com:5061;transport=tls\n" in \
        section(pjsip, "twilio", "aor")


def test_no_trunks_renders_nothing_of_them() -> None:
    files = render()
    assert "trunk" not in files["extensions.conf"].lower()
    assert "identify\nendpoint = local-callers" in files["pjsip.conf"]
    assert "external_" not in files["pjsip.conf"]


@pytest.mark.parametrize(("trunk", "message"), [
    ({"transport": "tls"}, "transport tls needs tls_cert_file and tls_key_file"),
    ({"media_encryption": "sdes"}, "media_encryption sdes needs transport tls"),
    ({"codecs": ["pcmu"]}, "codecs ['pcmu'] not among Asterisk's"),
    ({"codecs": []}, "codecs [] not among"),
    ({"identify_cidrs": []}, "identify_cidrs is empty"),
    ({"identify_cidrs": ["54.172.60.0/33"]}, "'54.172.60.0/33' is not an address or network"),
    ({"username": "u"}, "username and password go together"),
    ({"inbound_auth": True}, "inbound_auth needs username and password"),
    ({"dids": ["+1555-CALL-NOW"]}, "are not phone numbers"),
    ({"outbound_caller_id": "Acme"}, "are not phone numbers"),
    ({"name": "my trunk"}, "a name is a letter"),
])
def test_bad_trunk_settings_fail_at_load_with_a_clear_reason(trunk: dict, message: str) -> None:
    assert message in trunk_errors(**trunk)


def test_trunks_must_not_blur_with_local_callers_or_each_other() -> None:
    with pytest.raises(ValidationError, match=r"identify 127.0.0.2/32 overlaps "
                                              r"trusted_networks 127.0.0.0/8"):
        Settings(asterisk={"trunks": [{"identify_cidrs": ["127.0.0.2/32"]}]})
    # Narrowed trusted networks: the trunk owns its address (the integration tests' set-up).
    Settings(asterisk={"trusted_networks": ["127.0.0.1/32"],
                       "trunks": [{"identify_cidrs": ["127.0.0.2/32"]}]})
    with pytest.raises(ValidationError, match="overlaps trunk 'twilio'"):
        Settings(asterisk={"trunks": [{}, {"name": "other", "identify_cidrs":
                                           ["54.172.60.2"]}]})
    with pytest.raises(ValidationError, match=r"trunk names \['operator'\] are used twice"):
        Settings(asterisk={"trunks": [{"name": "operator"}]})
    with pytest.raises(ValidationError, match="udp port 5060 is taken by the main SIP"):
        Settings(asterisk={"trunks": [{"port": 5060}]})
    with pytest.raises(ValidationError, match="tls port 5061 is taken by trunk 'twilio'"):
        Settings(asterisk={"trunks": [TLS, {**TLS, "name": "b", "identify_cidrs": ["192.0.2.1"]}]})
    with pytest.raises(ValidationError, match="disagree on NAT addresses"):
        Settings(asterisk={"trunks": [
            {"external_media_address": "203.0.113.5"},
            {"name": "b", "identify_cidrs": ["192.0.2.1"],
             "external_media_address": "203.0.113.6"}]})


def test_trunks_come_from_the_environment_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRETARY_ASTERISK__TRUNKS",
                       '[{"host": "acme.pstn.twilio.com", "password": "pw", "username": "u"}]')
    trunk = Settings().asterisk.trunks[0]
    assert trunk.host == "acme.pstn.twilio.com"
    assert trunk.password is not None and trunk.password.get_secret_value() == "pw"
    assert "pw" not in repr(trunk)


def session_for(channel: dict[str, Any]) -> CallSession:
    # Nothing here talks to Asterisk: the session only reads the channel it was given.
    nothing = cast(Any, None)
    return CallSession(nothing, nothing, channel, nothing, nothing)


def test_a_session_knows_its_line_and_the_dialled_number() -> None:
    trunk_call = {"id": "c1", "caller": {"number": "+15557654321"},
                  "dialplan": {"app_name": "Stasis",
                               "app_data": "secretary,trunk,twilio,+15550001111"}}
    assert stasis_args(trunk_call) == ["trunk", "twilio", "+15550001111"]
    session = session_for(trunk_call)
    assert (session.line, session.dialled_number, session.caller_number) == \
        ("twilio", "+15550001111", "+15557654321")

    local = session_for({"id": "c2", "dialplan": {"app_name": "Stasis",
                                                  "app_data": "secretary,inbound,100"}})
    assert (local.line, local.dialled_number) == ("local", "100")

    # Before Stasis (or outside it) there is nothing to go on.
    bare = session_for({"id": "c3", "dialplan": {"app_name": "Dial", "app_data": "x,y"}})
    assert bare.args == [] and (bare.line, bare.dialled_number) == ("local", "")
