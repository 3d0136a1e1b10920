"""The GSM channel driver's Asterisk files are rendered only for the driver chosen."""

from __future__ import annotations

import pytest

from asterisk.config import render_all
from secretary.settings import Settings
from tests.unit.test_asterisk_config import DIRS


def render(settings: Settings) -> dict[str, str]:
    return render_all(asterisk=settings.asterisk, ari=settings.ari,
                      ari_password=settings.ari.password.get_secret_value(), dirs=DIRS,
                      instance=settings.asterisk.instance, gsm=settings.gsm)


def test_no_gsm_files_without_a_channel_driver() -> None:
    for gsm in ({}, {"enabled": True}):  # our own pyserial driver needs no Asterisk files
        files = render(Settings(gsm=gsm))
        assert not {"dongle.conf", "quectel.conf", "manager.conf"} & set(files)
        assert "gsm-incoming" not in files["extensions.conf"]
    legacy = render_all(asterisk=Settings().asterisk, ari=Settings().ari, ari_password="x",
                        dirs=DIRS, instance="default")  # callers that pass no gsm
    assert "dongle.conf" not in legacy


@pytest.mark.parametrize("driver", ["dongle", "quectel"])
def test_the_chosen_driver_gets_its_file_ami_and_dialplan(driver: str) -> None:
    settings = Settings(ari={"app": "sec2"}, gsm={
        "channel_driver": driver, "at_port": "/dev/sim-at", "pcm_port": "/dev/sim-pcm",
        "device": "modem1", "ami_username": "gsmuser", "ami_secret": "ami-s3cret",
        "ami_port": 15038})
    files = render(settings)
    other = "quectel" if driver == "dongle" else "dongle"
    assert f"{driver}.conf" in files and f"{other}.conf" not in files
    conf = files[f"{driver}.conf"]
    assert "[modem1]" in conf and "audio = /dev/sim-pcm" in conf
    assert "data = /dev/sim-at" in conf and "context = gsm-incoming" in conf
    manager = files["manager.conf"]
    assert "[gsmuser]" in manager and "secret = ami-s3cret" in manager
    assert "port = 15038" in manager and "bindaddr = 127.0.0.1" in manager
    dialplan = files["extensions.conf"]
    assert "[gsm-incoming]" in dialplan
    assert "exten => s,1,NoOp(GSM call" in dialplan and "Stasis(sec2,inbound,100)" in dialplan
    assert "exten => sms,1," in dialplan


def test_the_instance_the_secretary_starts_renders_the_driver(tmp_path) -> None:
    # `secretary asterisk up` and the Ansible role render through AsteriskServer: the GSM
    # settings must reach it, or a site with chan_dongle gets no dongle.conf.
    from secretary.cli import build_server

    root = tmp_path / "root"  # stands in for a provisioned chroot: only files are written
    (root / "usr/lib/asterisk/modules").mkdir(parents=True)
    (root / ".secretary-provisioned").touch()
    settings = Settings(state_dir=tmp_path, asterisk={"instance": "gsm-test", "mode": "chroot",
                                                      "chroot_dir": root},
                        gsm={"channel_driver": "dongle"})
    server = build_server(settings, provision=False)
    server.render()
    etc = server.install.host_path(server.dirs.etc)
    assert (etc / "dongle.conf").is_file() and (etc / "manager.conf").is_file()
    assert "gsm-incoming" in (etc / "extensions.conf").read_text()
