"""Finds, provisions, starts and stops a real Asterisk for one named instance.

Two installs are supported: the system's Asterisk (version 20 or newer) and,
where the distribution has none (Debian 12/13), Debian sid's package in a
chroot under the state directory, provisioned by
``scripts/provision-asterisk.sh``. Each instance gets its own configuration,
run, log and spool directories, so several can share one chroot on different
ports. Asterisk binds to loopback by default (settings decide).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from base64 import b64encode
from dataclasses import dataclass
from pathlib import Path

from asterisk.config import InstanceDirs, render_all, write_config

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PROVISION_SCRIPT = PROJECT_ROOT / "scripts" / "provision-asterisk.sh"
MIN_VERSION = 20


class AsteriskError(RuntimeError):
    """Asterisk could not be found, provisioned, started or reached."""


@dataclass(frozen=True)
class AsteriskInstall:
    """Where an Asterisk binary lives: on the host (`root` is '/') or in a chroot."""

    root: Path
    chrooted: bool

    def host_path(self, inner: str) -> Path:
        """A path as Asterisk sees it, mapped to where it is on this host."""
        return self.root / inner.lstrip("/") if self.chrooted else Path(inner)

    def command(self, *args: str) -> list[str]:
        if self.chrooted:
            return ["chroot", str(self.root), "/usr/sbin/asterisk", *args]
        return [shutil.which("asterisk") or "/usr/sbin/asterisk", *args]

    def module_dir(self) -> str:
        candidates = [
            *sorted(self.root.glob("usr/lib/*/asterisk/modules")),
            self.root / "usr/lib/asterisk/modules",
        ]
        for candidate in candidates:
            if candidate.is_dir():
                return "/" + str(candidate.relative_to(self.root))
        raise AsteriskError(f"no Asterisk module directory under {self.root}")


def system_asterisk_version() -> int | None:
    """Major version of the host's Asterisk, or None when there is none."""
    binary = shutil.which("asterisk")
    if binary is None:
        return None
    try:
        out = subprocess.run([binary, "-V"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r"Asterisk (\d+)", out)
    return int(match.group(1)) if match else None


def resolve_install(mode: str, chroot_dir: Path, provision: bool = True) -> AsteriskInstall:
    """Pick the system's Asterisk if good enough (mode auto/system), else the chroot."""
    if mode in ("auto", "system"):
        version = system_asterisk_version()
        if version is not None and version >= MIN_VERSION:
            return AsteriskInstall(Path("/"), chrooted=False)
        if mode == "system":
            found = f"version {version}" if version else "none"
            raise AsteriskError(f"system Asterisk >= {MIN_VERSION} required, found {found}")
    if not (chroot_dir / ".secretary-provisioned").exists():
        if not provision:
            raise AsteriskError(f"no Asterisk chroot at {chroot_dir}; run `secretary asterisk up`")
        log.info("provisioning Debian sid's Asterisk in %s", chroot_dir)
        result = subprocess.run(
            ["bash", str(PROVISION_SCRIPT), str(chroot_dir)], capture_output=True, text=True
        )
        if result.returncode != 0:
            raise AsteriskError(f"provisioning failed:\n{result.stdout[-2000:]}{result.stderr}")
    return AsteriskInstall(chroot_dir, chrooted=True)


class AsteriskServer:
    """One Asterisk instance: its rendered config, its process, its CLI and ARI reachability."""

    def __init__(
        self,
        install: AsteriskInstall,
        *,
        asterisk_settings,
        ari_settings,
        state_dir: Path,
        gsm_settings=None,
    ) -> None:
        self.install = install
        self.settings = asterisk_settings
        self.ari = ari_settings
        self.gsm = gsm_settings  # a GSM channel driver (chan_dongle/quectel) gets its config
        self.instance = asterisk_settings.instance
        inner = (
            f"/srv/secretary/{self.instance}"
            if install.chrooted
            else str(state_dir / "asterisk" / self.instance)
        )
        self.dirs = InstanceDirs(
            etc=f"{inner}/etc",
            modules=install.module_dir(),
            varlib="/var/lib/asterisk",
            db=f"{inner}/db",
            data="/usr/share/asterisk",
            spool=f"{inner}/spool",
            run=f"{inner}/run",
            log=f"{inner}/log",
            cache=f"{inner}/cache",
        )
        self.conf_file = f"{self.dirs.etc}/asterisk.conf"

    # ---- paths -------------------------------------------------------------

    @property
    def pid_file(self) -> Path:
        return self.install.host_path(f"{self.dirs.run}/asterisk.pid")

    @property
    def console_log(self) -> Path:
        return self.install.host_path(f"{self.dirs.log}/console.log")

    @property
    def ari_base_url(self) -> str:
        return f"http://{self.settings.ari_host}:{self.settings.http_port}/ari"

    # ---- lifecycle ---------------------------------------------------------

    def render(self) -> None:
        files = render_all(
            asterisk=self.settings,
            ari=self.ari,
            ari_password=self.ari.password.get_secret_value(),
            dirs=self.dirs,
            instance=self.instance,
            gsm=self.gsm,
        )
        write_config(self.install.host_path(self.dirs.etc), files)
        for d in (self.dirs.db, self.dirs.spool, self.dirs.run, self.dirs.log, self.dirs.cache):
            self.install.host_path(d).mkdir(parents=True, exist_ok=True)

    def pid(self) -> int | None:
        """The running instance's pid, or None (a stale pid file is ignored)."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return pid
        cmdline = Path(f"/proc/{pid}/cmdline")
        with contextlib.suppress(OSError):
            if b"asterisk" not in cmdline.read_bytes():
                return None
        return pid

    def is_running(self) -> bool:
        return self.pid() is not None

    def start(self) -> None:
        """Render config and start Asterisk in the background; return once ARI answers."""
        if self.is_running():
            log.info("asterisk instance %s already running (pid %s)", self.instance, self.pid())
            self.wait_ready()
            return
        self.render()
        if self.install.chrooted:
            _ensure_chroot_mounts(self.install.root)
        self.pid_file.unlink(missing_ok=True)
        console = self.console_log.open("ab")
        # -f: stay in the foreground of our child (no daemon fork), -n: no colours,
        # -g: core dumps on crash. A new session keeps it alive after the CLI exits.
        subprocess.Popen(
            self.install.command("-f", "-n", "-g", "-C", self.conf_file),
            stdin=subprocess.DEVNULL,
            stdout=console,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        console.close()
        self.wait_ready()
        log.info("asterisk instance %s up, ARI at %s", self.instance, self.ari_base_url)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + self.settings.start_timeout_s
        last_error = "not started"
        while time.monotonic() < deadline:
            try:
                self.ari_get("/asterisk/info")
                return
            except (OSError, urllib.error.URLError) as exc:
                last_error = str(exc)
            time.sleep(0.2)
        tail = ""
        if self.console_log.exists():
            tail = self.console_log.read_text(errors="replace")[-2000:]
        raise AsteriskError(
            f"ARI did not answer at {self.ari_base_url} within "
            f"{self.settings.start_timeout_s}s ({last_error}); console log tail:\n{tail}"
        )

    def stop(self, timeout: float = 15.0) -> bool:
        """Stop the instance; True if one was running."""
        pid = self.pid()
        if pid is None:
            return False
        with contextlib.suppress(subprocess.TimeoutExpired, OSError):
            self.cli("core stop now", timeout=timeout)
        if not _wait_gone(pid, timeout):
            log.warning("asterisk pid %s ignored 'core stop now'; sending SIGTERM", pid)
            os.kill(pid, signal.SIGTERM)
            if not _wait_gone(pid, 5):
                os.kill(pid, signal.SIGKILL)
                _wait_gone(pid, 5)
        self.pid_file.unlink(missing_ok=True)
        return True

    # ---- talking to it -----------------------------------------------------

    def cli(self, command: str, timeout: float = 15.0) -> str:
        """Run one Asterisk CLI command against this instance and return its output."""
        result = subprocess.run(
            self.install.command("-C", self.conf_file, "-rx", command),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise AsteriskError(f"asterisk -rx {command!r} failed: {result.stderr.strip()}")
        return result.stdout

    def ari_get(self, path: str) -> bytes:
        token = b64encode(
            f"{self.ari.username}:{self.ari.password.get_secret_value()}".encode()
        ).decode()
        request = urllib.request.Request(
            self.ari_base_url + path, headers={"Authorization": f"Basic {token}"}
        )
        with urllib.request.urlopen(request, timeout=2) as response:
            return response.read()


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        # Reap our own child if it was started by this process.
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.1)
    return False


def _ensure_chroot_mounts(root: Path) -> None:
    """Asterisk in the chroot needs /proc and /dev (random numbers, null, pts)."""
    for target, args in (
        ("proc", ["-t", "proc", "proc"]),
        ("dev", ["--bind", "/dev"]),
        ("dev/pts", ["--bind", "/dev/pts"]),
    ):
        path = root / target
        path.mkdir(parents=True, exist_ok=True)
        if subprocess.run(["mountpoint", "-q", str(path)]).returncode != 0:
            subprocess.run(["mount", *args, str(path)], check=True)
