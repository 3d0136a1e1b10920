"""ansible/site.yml against a real, fresh Debian 12 chroot (community.general.chroot).

What it does, all for real (root and the Debian/PyPI mirrors needed; set up here):
  1. a dedicated venv with ansible + ansible-lint under the state dir (not the project's);
  2. a minimal Debian bookworm made with debootstrap, cached as a tarball in the state dir
     and unpacked fresh for every run;
  3. ansible-playbook --check, then a real apply, then a second apply that must report
     changed=0; files, the service user and the units are checked inside the chroot, and
     the units with `systemd-analyze verify --root`;
  4. ansible-lint with the production profile; a wrong model checksum and a missing vault
     variable must each stop the play.
Services are never started (secretary_start_services: false): a chroot has no init.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from secretary.settings import PROJECT_ROOT, default_state_dir

pytestmark = [pytest.mark.ansible, pytest.mark.timeout(2400)]

ANSIBLE_DIR = PROJECT_ROOT / "ansible"
ANSIBLE_REQUIREMENTS = ["ansible==12.3.0", "ansible-lint==26.10.1"]
SUITE = "bookworm"
# In the tarball from the start: what a Debian cloud image already has.
BASE_PACKAGES = "python3,python3-apt,systemd,ca-certificates"
HOST = "testhost"
VAULT_VARS = {
    "vault_ari_password": "test-ari-password-0123456789",
    "vault_web_secret_key": "test-web-secret-key-0123456789abcdef0123",
    "vault_staff_password": "test-staff-password-0123",
}
TEST_VARS = {
    "secretary_start_services": False,
    # Asterisk's sid chroot (about 500 MB) is what scripts/provision-asterisk.sh does in every
    # integration run already; here the configuration is rendered by the project's renderer.
    "asterisk_install": "none",
    "trunk_cidrs": ["203.0.113.0/24", "2001:db8::/32"],
    "admin_cidrs": ["198.51.100.7/32"],
    "proxy_server_name": "secretary.test",
}
UNITS = [
    "ai-secretary.service",
    "ai-secretary-purge.service",
    "ai-secretary-purge.timer",
    "ai-secretary-backup.service",
    "ai-secretary-backup.timer",
]
RECAP = re.compile(
    rf"{HOST}\s*:\s*ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)"
    r"\s+failed=(?P<failed>\d+)"
)


def _log(msg: str) -> None:
    print(f"[ansible-test {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kwargs)


def _debian_mirror() -> str:
    """The Debian mirror apt uses on this machine (deb822 `URIs:` or one-line `deb` sources)."""
    sources = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for path in sources:
        with contextlib.suppress(OSError):
            for line in path.read_text().splitlines():
                if line.lstrip().startswith("#"):
                    continue
                match = re.match(r"(?:URIs:|deb(?:\s+\[[^\]]*\])?)\s+(https?://\S+?/debian)/?(?:\s|$)",
                                 line.strip())
                if match:
                    return match.group(1)
    return "http://deb.debian.org/debian"


def _ensure_host_packages() -> None:
    missing = [p for p in ("debootstrap", "zstd", "rsync")
               if shutil.which(p) is None]
    if missing:
        _log(f"apt-get install {missing}")
        _run(["apt-get", "update", "-qq"])
        _run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
             env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def _ansible_venv(state: Path) -> Path:
    venv = state / "ansible-venv"
    stamp = hashlib.sha256(
        (" ".join(ANSIBLE_REQUIREMENTS) + sys.version).encode()).hexdigest()[:16]
    if (venv / ".requirements").is_file() and (venv / ".requirements").read_text() == stamp:
        return venv
    _log(f"creating {venv}")
    shutil.rmtree(venv, ignore_errors=True)
    _run([sys.executable, "-m", "venv", str(venv)])
    _run([str(venv / "bin" / "pip"), "install", "-q", *ANSIBLE_REQUIREMENTS])
    (venv / ".requirements").write_text(stamp)
    return venv


def _base_tarball(cache: Path) -> Path:
    tarball = cache / f"{SUITE}-minbase.tar.zst"
    if tarball.is_file():
        return tarball
    build = cache / f"{SUITE}-build"
    shutil.rmtree(build, ignore_errors=True)
    _log(f"debootstrap {SUITE} (cold cache, about 2 minutes)")
    _run(["debootstrap", "--variant=minbase", f"--include={BASE_PACKAGES}", SUITE, str(build),
          _debian_mirror()])
    _run(["chroot", str(build), "apt-get", "clean"])
    partial = tarball.with_suffix(".partial")
    _run(["tar", "--zstd", "--numeric-owner", "-C", str(build), "-cf", str(partial), "."])
    partial.replace(tarball)
    shutil.rmtree(build, ignore_errors=True)
    return tarball


def _mount(*args: str) -> None:
    _run(["mount", *args])


def _unmount_all(root: Path) -> None:
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    for target in sorted((m for m in mounts if m.startswith(str(root) + "/")), reverse=True):
        subprocess.run(["umount", "-l", target], capture_output=True)


def _prepare_chroot(root: Path, tarball: Path, cache: Path) -> None:
    """Unpack a fresh copy; let apt and pip in it reach the mirrors this host reaches."""
    _unmount_all(root)
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    _run(["tar", "--zstd", "--numeric-owner", "-C", str(root), "-xf", str(tarball)])
    shutil.copy("/etc/resolv.conf", root / "etc/resolv.conf")
    # Maintainer scripts must not start services in the chroot.
    policy = root / "usr/sbin/policy-rc.d"
    policy.write_text("#!/bin/sh\nexit 101\n")
    policy.chmod(0o755)
    # The mirror may serve a frozen snapshot whose Release file is "expired".
    (root / "etc/apt/apt.conf.d/99test").write_text('Acquire::Check-Valid-Until "false";\n')
    # Trust what this host trusts (an egress proxy's CA) so pip in the chroot reaches PyPI.
    local_cas = sorted(Path("/usr/local/share/ca-certificates").glob("*.crt"))
    if local_cas:
        for ca in local_cas:
            shutil.copy(ca, root / "usr/local/share/ca-certificates" / ca.name)
        _run(["chroot", str(root), "update-ca-certificates"])
    _mount("-t", "proc", "proc", str(root / "proc"))
    _mount("--bind", "/dev", str(root / "dev"))
    # Caches that survive between runs: .deb files and pip's downloads.
    for host_dir, inner in ((cache / "apt-archives", "var/cache/apt/archives"),
                            (Path.home() / ".cache/pip", "root/.cache/pip")):
        host_dir.mkdir(parents=True, exist_ok=True)
        (root / inner).mkdir(parents=True, exist_ok=True)
        _mount("--bind", str(host_dir), str(root / inner))
    # Local wheel indexes this machine's pip is configured with, read-only.
    for local in ("/opt/wheels", "/opt/pypi", "/opt/pypi-more"):
        if Path(local).is_dir():
            (root / local.lstrip("/")).mkdir(parents=True, exist_ok=True)
            _mount("--bind", local, str(root / local.lstrip("/")))
            _mount("-o", "remount,bind,ro", str(root / local.lstrip("/")))


def _source_snapshot(dest: Path) -> Path:
    """The files git tracks or would track, frozen for the test (the tree may change under
    it while other work goes on; a changed tree would rightly be re-deployed)."""
    shutil.rmtree(dest, ignore_errors=True)
    files = _run(["git", "ls-files", "-co", "--exclude-standard"], cwd=PROJECT_ROOT).stdout
    dest.mkdir(parents=True)
    _run(["rsync", "-a", "--files-from=-", f"{PROJECT_ROOT}/", f"{dest}/"], input=files)
    return dest


class Runner:
    def __init__(self, venv: Path, work: Path, root: Path):
        self.venv, self.work, self.root = venv, work, root
        self.env = {
            **os.environ,
            "ANSIBLE_CONFIG": str(ANSIBLE_DIR / "ansible.cfg"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            # per-task timings in the logs (run/<name>.log under the cache)
            "ANSIBLE_CALLBACKS_ENABLED": "ansible.posix.profile_tasks",
            "ANSIBLE_LOCAL_TEMP": str(work / "tmp"),
            "ANSIBLE_HOME": str(work / "ansible-home"),
            "PATH": f"{venv / 'bin'}:{os.environ.get('PATH', '')}",
        }

    def playbook(self, name: str, *args: str, playbook: str = "site.yml",
                 timeout: float = 1500) -> dict:
        log = self.work / f"{name}.log"
        started = time.monotonic()
        result = subprocess.run(
            [str(self.venv / "bin/ansible-playbook"), "-i", str(self.work / "inventory.yml"),
             "--vault-password-file", str(self.work / "vault-pass"),
             "-e", f"@{self.work / 'vars.yml'}", "-e", f"@{self.work / 'vault.yml'}",
             *args, playbook],
            cwd=ANSIBLE_DIR, env=self.env, capture_output=True, text=True, timeout=timeout,
        )
        output = result.stdout + result.stderr
        log.write_text(output)
        recap = RECAP.search(output)
        counts = {k: int(v) for k, v in recap.groupdict().items()} if recap else {}
        _log(f"{name}: rc={result.returncode} {counts} in {time.monotonic() - started:.0f} s")
        return {"rc": result.returncode, "recap": counts, "output": output, "log": log}


@pytest.fixture(scope="module")
def provisioned():
    if sys.platform != "linux" or os.geteuid() != 0:
        pytest.skip("needs root on Linux (debootstrap, chroot, mount)")
    if shutil.which("apt-get") is None:
        pytest.skip("needs a Debian-family host (apt-get, debootstrap)")
    state = default_state_dir()
    cache = state / "ansible-test"
    cache.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    _ensure_host_packages()
    venv = _ansible_venv(state)
    timings["venv_s"] = time.monotonic() - t0
    t1 = time.monotonic()
    tarball = _base_tarball(cache)
    timings["tarball_s"] = time.monotonic() - t1
    work = cache / "run"
    root = cache / "root"
    shutil.rmtree(work, ignore_errors=True)
    (work / "tmp").mkdir(parents=True)
    try:
        _prepare_chroot(root, tarball, cache)
        source = _source_snapshot(work / "source")
        (work / "inventory.yml").write_text(json.dumps({"all": {"children": {
            "secretary": {"hosts": {HOST: {
                "ansible_connection": "community.general.chroot",
                "ansible_host": str(root),
                "ansible_python_interpreter": "/usr/bin/python3",
            }}},
            "kamailio": {"hosts": {}},
        }}}))
        extra: dict = {"secretary_source_root": str(source),
                       "secretary_build_dir": str(work / "build")}
        if Path("/opt/pypi/simple").is_dir():  # this machine's local package index
            extra["secretary_pip_extra_args"] = [
                arg for local in ("/opt/pypi/simple", "/opt/pypi-more/simple")
                if Path(local).is_dir() for arg in ("--extra-index-url", f"file://{local}")]
        (work / "vars.yml").write_text(json.dumps({**TEST_VARS, **extra}))
        # The secrets go through a real ansible-vault file, as in production.
        (work / "vault-pass").write_text("test-vault-password\n")
        (work / "vault.yml").write_text(json.dumps(VAULT_VARS))
        # group_vars beside the inventory too, so plays outside ansible/ see them.
        (work / "group_vars").symlink_to(ANSIBLE_DIR / "group_vars")
        runner = Runner(venv, work, root)
        _run([str(venv / "bin/ansible-vault"), "encrypt", "--vault-password-file",
              str(work / "vault-pass"), str(work / "vault.yml")], env=runner.env)
        runs = {}
        for name, args in (("check", ["--check"]), ("apply", []), ("again", [])):
            runs[name] = runner.playbook(name, *args)
            timings[f"{name}_s"] = time.monotonic() - t0
            if runs[name]["rc"] != 0:
                break
        _log("timings (s since start): " + json.dumps({k: round(v) for k, v in timings.items()}))
        yield {"runs": runs, "root": root, "runner": runner, "work": work}
    finally:
        _unmount_all(root)


def _tail(run: dict, lines: int = 60) -> str:
    return "\n".join(run["output"].splitlines()[-lines:])


def test_check_mode_on_a_fresh_host(provisioned):
    run = provisioned["runs"]["check"]
    assert run["rc"] == 0 and run["recap"].get("failed") == 0, _tail(run)


def test_apply_then_nothing_left_to_change(provisioned):
    runs = provisioned["runs"]
    assert "apply" in runs and runs["apply"]["rc"] == 0, _tail(runs.get("apply", runs["check"]))
    assert runs["apply"]["recap"]["changed"] > 0
    again = runs["again"]
    assert again["rc"] == 0, _tail(again)
    changed = re.findall(r"^changed: \[.*$|^TASK \[.*$", again["output"], re.M)
    assert again["recap"]["changed"] == 0, "second run changed something:\n" + "\n".join(
        changed[i - 1] for i, line in enumerate(changed) if line.startswith("changed"))


def test_files_user_and_units_in_the_host(provisioned):
    root: Path = provisioned["root"]
    assert provisioned["runs"].get("again", {}).get("rc") == 0
    passwd = (root / "etc/passwd").read_text()
    user = next((line.split(":") for line in passwd.splitlines()
                 if line.startswith("secretary:")), None)
    assert user is not None, "no secretary user"
    assert user[6] == "/usr/sbin/nologin" and int(user[2]) < 1000  # system account, no login
    env = root / "opt/ai-secretary/.env"
    st = env.stat()
    assert oct(st.st_mode & 0o777) == "0o600" and st.st_uid == int(user[2])
    text = env.read_text()
    assert f"SECRETARY_ARI__PASSWORD={VAULT_VARS['vault_ari_password']}" in text
    assert f"SECRETARY_WEB__SECRET_KEY={VAULT_VARS['vault_web_secret_key']}" in text
    # The project really is installed in its venv (the CLI the units run).
    assert (root / "opt/ai-secretary/venv/bin/secretary").is_file()
    version = _run(["chroot", str(root), "/opt/ai-secretary/venv/bin/python", "-c",
                    "import secretary.settings, asterisk.config; print('ok')"])
    assert version.stdout.strip() == "ok"
    # Asterisk's configuration came from the project's own templates, with the vault's ARI
    # password and the trunks as trusted networks.
    conf = root / "var/lib/ai-secretary/asterisk-config"
    assert {p.name for p in conf.glob("*.conf")} >= {"pjsip.conf", "ari.conf", "http.conf",
                                                      "extensions.conf"}
    assert VAULT_VARS["vault_ari_password"] in (conf / "ari.conf").read_text()
    assert "match = 203.0.113.0/24" in (conf / "pjsip.conf").read_text()
    for unit in UNITS:
        assert (root / "etc/systemd/system" / unit).is_file(), unit
    service = (root / "etc/systemd/system/ai-secretary.service").read_text()
    for line in ("User=secretary", "NoNewPrivileges=yes", "ProtectSystem=strict",
                 "ReadWritePaths=/var/lib/ai-secretary", "PrivateTmp=yes",
                 "ExecStart=/opt/ai-secretary/venv/bin/secretary app"):
        assert line in service, line
    journald = (root / "etc/systemd/journald.conf.d/ai-secretary.conf").read_text()
    assert "SystemMaxUse=" in journald
    assert "secretary purge" in (root / "etc/systemd/system/ai-secretary-purge.service").read_text()
    # Enabled: the symlinks systemctl makes (absolute inside the host, so not followed here).
    for wants, unit in (("timers.target.wants", "ai-secretary-purge.timer"),
                        ("timers.target.wants", "ai-secretary-backup.timer"),
                        ("multi-user.target.wants", "ai-secretary.service")):
        link = root / "etc/systemd/system" / wants / unit
        assert link.is_symlink() and os.readlink(link) == f"/etc/systemd/system/{unit}", unit
    # Firewall: trunks only for SIP/RTP, admins only for SSH, default drop.
    nft = (root / "etc/nftables.conf").read_text()
    assert "policy drop" in nft and "203.0.113.0/24" in nft and "198.51.100.7/32" in nft
    assert "ip saddr @trunks_v4 udp dport 10000-10999 accept" in nft
    check = subprocess.run(["chroot", str(root), "nft", "-c", "-f", "/etc/nftables.conf"],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    # Proxy: nginx with TLS in front of the console.
    enabled = root / "etc/nginx/sites-enabled/ai-secretary.conf"
    assert os.readlink(enabled) == "/etc/nginx/sites-available/ai-secretary.conf"
    site = (root / "etc/nginx/sites-available/ai-secretary.conf").read_text()
    assert "proxy_pass http://127.0.0.1:8002" in site and "ssl_certificate" in site
    key = root / "etc/ssl/ai-secretary/privkey.pem"
    assert key.is_file() and oct(key.stat().st_mode & 0o777) == "0o600"
    assert (root / "usr/local/sbin/ai-secretary-backup").is_file()
    assert (root / "var/backups/ai-secretary").is_dir()


def test_unit_files_verify(provisioned):
    root: Path = provisioned["root"]
    assert provisioned["runs"].get("again", {}).get("rc") == 0
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed on this host")
    probe = subprocess.run(["systemd-analyze", "verify", "--help"], capture_output=True,
                           text=True)
    if "--root" not in probe.stdout:
        pytest.skip("this systemd-analyze has no --root")
    result = subprocess.run(["systemd-analyze", "verify", f"--root={root}", *UNITS],
                            capture_output=True, text=True, cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr


def test_backup_script_runs(provisioned):
    """The backup the timer runs: a consistent SQLite copy, the recordings, rotation."""
    root: Path = provisioned["root"]
    assert provisioned["runs"].get("again", {}).get("rc") == 0
    calls = root / "var/lib/ai-secretary/calls_log"
    _run(["chroot", str(root), "sqlite3", "/var/lib/ai-secretary/calls_log/secretary.db",
          "create table t(x); insert into t values (42);"])
    (calls / "call_20260101_000000_1_input.wav").write_bytes(b"RIFF")
    _run(["chroot", str(root), "/usr/local/sbin/ai-secretary-backup"])
    runs = sorted(p for p in (root / "var/backups/ai-secretary").iterdir() if p.is_dir())
    assert runs and (runs[-1] / "secretary.db.zst").is_file()
    assert (runs[-1] / "calls_log.tar.zst").is_file()


def test_production_lint(provisioned):
    runner: Runner = provisioned["runner"]
    result = subprocess.run(
        [str(runner.venv / "bin/ansible-lint"), "--profile", "production", "--offline",
         "--nocolor"],
        cwd=ANSIBLE_DIR, env=runner.env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]


def test_wrong_model_checksum_fails_the_play(provisioned):
    runner: Runner = provisioned["runner"]
    root: Path = provisioned["root"]
    (root / "srv").mkdir(exist_ok=True)
    (root / "srv/model.bin").write_bytes(b"not the model you asked for")
    play = runner.work / "models-only.yml"
    play.write_text(json.dumps([{
        "name": "models only", "hosts": "secretary", "gather_facts": False,
        "roles": [{"role": "models"}],
    }]))
    bad = {"models_list": [{"name": "bad", "url": "file:///srv/model.bin",
                            "sha256": "0" * 64,
                            "dest": "/var/lib/ai-secretary/models/bad.bin"}]}
    run = runner.playbook("bad-checksum", "-e", json.dumps(bad), playbook=str(play))
    assert run["rc"] != 0 and run["recap"].get("failed") == 1, _tail(run)
    assert "checksum" in run["output"].lower()
    assert not (root / "var/lib/ai-secretary/models/bad.bin").exists()
    good_sum = hashlib.sha256(b"not the model you asked for").hexdigest()
    good = {"models_list": [{**bad["models_list"][0], "sha256": good_sum,
                             "env": {"SECRETARY_STT__WHISPER_MODEL_DIR": "/x"}}]}
    run = runner.playbook("good-checksum", "-e", json.dumps(good), playbook=str(play))
    assert run["rc"] == 0, _tail(run)
    assert (root / "var/lib/ai-secretary/models/bad.bin").is_file()
    assert "SECRETARY_STT__WHISPER_MODEL_DIR=/x" in (
        root / "etc/ai-secretary/models.env").read_text()


def test_missing_vault_variable_stops_early(provisioned):
    runner: Runner = provisioned["runner"]
    run = runner.playbook("no-vault", "-e", json.dumps({"vault_web_secret_key": ""}))
    assert run["rc"] != 0
    assert "Vault variable vault_web_secret_key is missing" in run["output"]
    assert "TASK [base" not in run["output"]  # stopped before changing anything


def test_port_already_taken_stops_the_service_start(provisioned):
    """base's port check (run before each service starts) names the process in the way."""
    import socket

    runner: Runner = provisioned["runner"]
    play = runner.work / "port-check.yml"
    play.write_text(json.dumps([{
        "name": "port check", "hosts": "localhost", "connection": "local",
        "gather_facts": False,
        "tasks": [{"ansible.builtin.include_role": {"name": "base", "tasks_from": "port_free"},
                   "vars": {"base_port_check_port": "{{ port }}",
                            "base_port_check_proto": "tcp",
                            "base_port_check_unit": "ai-secretary.service"}}],
    }]))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        taken = sock.getsockname()[1]
        busy = runner.playbook("port-taken", "-e", f"port={taken}", playbook=str(play))
    assert busy["rc"] != 0
    assert f"tcp port {taken} is already taken, so ai-secretary.service cannot start" in (
        busy["output"])
    free = runner.playbook("port-free", "-e", f"port={taken}", playbook=str(play))
    assert free["rc"] == 0, _tail(free)
