"""Render Asterisk's configuration with the project's own renderer (asterisk/config.py).

Run with the secretary's venv python in its working directory, so the settings come from
the same .env the service reads. Prints JSON: {"changed": bool, "dir": ...}.
Usage: render_config.py system|chroot|export [EXPORT_DIR MODULES_DIR]
"""

import hashlib
import json
import sys
from pathlib import Path

from asterisk.config import InstanceDirs, render_all, write_config
from asterisk.server import AsteriskServer, resolve_install
from secretary.settings import load_settings


def digest(directory: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(directory.glob("*.conf")) if directory.is_dir() else []:
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
        h.update(oct(path.stat().st_mode).encode())
    return h.hexdigest()


def main() -> int:
    mode = sys.argv[1]
    settings = load_settings()
    if mode == "export":
        target, modules = Path(sys.argv[2]), sys.argv[3]
        dirs = InstanceDirs(etc="/etc/asterisk", modules=modules, varlib="/var/lib/asterisk",
                            db="/var/lib/asterisk", data="/usr/share/asterisk",
                            spool="/var/spool/asterisk", run="/var/run/asterisk",
                            log="/var/log/asterisk", cache="/var/cache/asterisk")
        files = render_all(asterisk=settings.asterisk, ari=settings.ari,
                           ari_password=settings.ari.password.get_secret_value(),
                           dirs=dirs, instance=settings.asterisk.instance, gsm=settings.gsm)
        before = digest(target)
        if {p.name: p.read_text() for p in target.glob("*.conf")} != files:
            write_config(target, files)
    else:
        install = resolve_install(mode, settings.chroot_dir, provision=False)
        server = AsteriskServer(install, asterisk_settings=settings.asterisk,
                                ari_settings=settings.ari, state_dir=settings.state_dir,
                                gsm_settings=settings.gsm)
        target = install.host_path(server.dirs.etc)
        before = digest(target)
        server.render()  # writes the files and creates the instance's directories
    print(json.dumps({"changed": before != digest(target), "dir": str(target)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
