"""Asterisk's configuration is rendered from the one settings source."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from asterisk.config import CONTEXT, InstanceDirs, render_all, write_config
from secretary.settings import Settings

DIRS = InstanceDirs(
    etc="/srv/x/etc", modules="/usr/lib/mods", varlib="/var/lib/asterisk", db="/srv/x/db",
    data="/usr/share/asterisk", spool="/srv/x/spool", run="/srv/x/run", log="/srv/x/log",
    cache="/srv/x/cache",
)


def render(settings: Settings) -> dict[str, str]:
    return render_all(asterisk=settings.asterisk, ari=settings.ari,
                      ari_password=settings.ari.password.get_secret_value(), dirs=DIRS,
                      instance=settings.asterisk.instance)


def test_every_file_is_rendered_with_the_settings_ports() -> None:
    settings = Settings(asterisk={"sip_port": 15061, "http_port": 18089, "rtp_start": 31000,
                                  "rtp_end": 31999, "extension": "200"},
                        ari={"username": "bob", "password": "s3cret", "app": "sec2"})
    files = render(settings)
    assert set(files) >= {"asterisk.conf", "modules.conf", "logger.conf", "http.conf", "ari.conf",
                          "rtp.conf", "pjsip.conf", "extensions.conf"}
    assert "bind = 127.0.0.1:15061" in files["pjsip.conf"]
    assert "bindport = 18089" in files["http.conf"]
    assert "bindaddr = 127.0.0.1" in files["http.conf"]
    assert "rtpstart = 31000" in files["rtp.conf"] and "rtpend = 31999" in files["rtp.conf"]
    assert "[bob]" in files["ari.conf"] and "password = s3cret" in files["ari.conf"]
    assert "exten => 200,1" in files["extensions.conf"]
    assert "Stasis(sec2," in files["extensions.conf"]
    assert f"[{CONTEXT}]" in files["extensions.conf"]
    assert "astetcdir => /srv/x/etc" in files["asterisk.conf"]
    assert "noload => res_resolver_unbound.so" in files["modules.conf"]


def test_trusted_networks_become_identify_matches() -> None:
    files = render(Settings(asterisk={"trusted_networks": ["127.0.0.0/8", "10.1.2.0/24"]}))
    assert "match = 127.0.0.0/8\nmatch = 10.1.2.0/24" in files["pjsip.conf"]


def test_environment_overrides_nested_settings(monkeypatch) -> None:
    monkeypatch.setenv("SECRETARY_ASTERISK__SIP_PORT", "5099")
    monkeypatch.setenv("SECRETARY_MEDIA__FORMAT", "slin")
    settings = Settings()
    assert settings.asterisk.sip_port == 5099
    assert settings.media.format == "slin"


def test_yaml_file_is_read(tmp_path: Path, monkeypatch) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("asterisk:\n  http_port: 18090\ncall:\n  persona: marina\n")
    monkeypatch.setenv("SECRETARY_CONFIG", str(config))
    settings = Settings()
    assert settings.asterisk.http_port == 18090
    assert settings.call.persona == "marina"


def test_write_config_replaces_stale_files_and_hides_secrets(tmp_path: Path) -> None:
    (tmp_path / "old.conf").write_text("x")
    write_config(tmp_path, {"ari.conf": "password = p\n"})
    assert not (tmp_path / "old.conf").exists()
    assert (tmp_path / "ari.conf").stat().st_mode & 0o077 == 0


def test_staff_phones_get_an_endpoint_to_transfer_to() -> None:
    settings = Settings(asterisk={"staff": [
        {"name": "operator", "password": "pw1"},
        {"name": "boss", "contact": "sip:boss@127.0.0.1:5071"},
    ]})
    pjsip = render(settings)["pjsip.conf"]
    assert "endpoint_identifier_order = username,ip" in pjsip
    assert "[operator]\ntype = endpoint" in pjsip and "auth = operator-auth" in pjsip
    assert "[operator-auth]" in pjsip and "password = pw1" in pjsip
    assert "contact = sip:boss@127.0.0.1:5071" in pjsip
    assert "[boss-auth]" not in pjsip


def test_ari_binds_apart_from_sip() -> None:
    # SIP open to trunks must leave ARI on loopback unless ARI's own address says otherwise.
    settings = Settings(asterisk={"bind_address": "0.0.0.0", "http_port": 18089,
                                  "staff": [{"name": "operator", "password": "s3cret-pw"}]})
    files = render(settings)
    assert "bind = 0.0.0.0:5060" in files["pjsip.conf"]
    assert "bindaddr = 127.0.0.1" in files["http.conf"]
    assert settings.ari_url == "http://127.0.0.1:18089/ari"

    # An ARI bound to every address is still reached on loopback by the local secretary.
    settings = Settings(asterisk={"http_bind_address": "0.0.0.0", "http_port": 18089})
    files = render(settings)
    assert "bind = 127.0.0.1:5060" in files["pjsip.conf"]
    assert "bindaddr = 0.0.0.0" in files["http.conf"]
    assert settings.ari_url == "http://127.0.0.1:18089/ari"
    assert "allowed_origins = http://127.0.0.1:18089" in files["ari.conf"]

    settings = Settings(asterisk={"http_bind_address": "10.0.0.5"})
    assert "bindaddr = 10.0.0.5" in render(settings)["http.conf"]
    assert settings.ari_url == "http://10.0.0.5:8088/ari"


def test_staff_phones_need_their_own_password_once_sip_is_reachable() -> None:
    Settings()  # loopback: the local default password is fine
    for staff in ([{"name": "operator"}],  # no password at all
                  [{"name": "operator", "password": "operator-local-only"}]):  # the default
        with pytest.raises(ValidationError, match="needs its own password"):
            Settings(asterisk={"bind_address": "0.0.0.0", "staff": staff})
    exposed = Settings(asterisk={"bind_address": "192.0.2.10",
                                 "staff": [{"name": "boss", "password": "long-and-own"}]})
    assert "bind = 192.0.2.10:5060" in render(exposed)["pjsip.conf"]
