"""The `secretary` command: run the secretary, and manage its Asterisk.

    secretary run                     Asterisk up (provisioned if needed) + the ARI app
    secretary app                     the ARI app alone, against a running Asterisk
    secretary asterisk up|down|status Start, stop or inspect the Asterisk instance
    secretary asterisk cli "COMMAND"  Run one Asterisk CLI command
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys

from asterisk.server import AsteriskError, AsteriskServer, resolve_install
from secretary.settings import Settings, load_settings


def build_server(settings: Settings, provision: bool = True) -> AsteriskServer:
    install = resolve_install(settings.asterisk.mode, settings.chroot_dir, provision=provision)
    return AsteriskServer(
        install,
        asterisk_settings=settings.asterisk,
        ari_settings=settings.ari,
        state_dir=settings.state_dir,
    )


def _asterisk_command(settings: Settings, args: argparse.Namespace) -> int:
    server = build_server(settings, provision=args.action == "up")
    if args.action == "up":
        server.start()
        print(f"asterisk instance {server.instance} up: SIP udp {settings.asterisk.bind_address}:"
              f"{settings.asterisk.sip_port}, ARI {server.ari_base_url}")
    elif args.action == "down":
        print("stopped" if server.stop() else "not running")
    elif args.action == "status":
        pid = server.pid()
        status = {
            "instance": server.instance,
            "running": pid is not None,
            "pid": pid,
            "chroot": str(server.install.root) if server.install.chrooted else None,
            "sip": f"{settings.asterisk.bind_address}:{settings.asterisk.sip_port}",
            "ari": server.ari_base_url,
        }
        if pid is not None:
            with contextlib.suppress(Exception):
                status["asterisk"] = json.loads(server.ari_get("/asterisk/info"))["system"]
        print(json.dumps(status, indent=2))
        return 0 if pid is not None else 3
    elif args.action == "cli":
        print(server.cli(" ".join(args.command)), end="")
    return 0


def _app_command(settings: Settings) -> int:
    from secretary.phone import run_secretary

    try:
        import uvloop

        loop_factory = uvloop.new_event_loop  # roughly doubles media-plane capacity
    except ImportError:
        loop_factory = None
    with contextlib.suppress(KeyboardInterrupt), asyncio.Runner(loop_factory=loop_factory) as r:
        r.run(run_secretary(settings))
    return 0


def _run_command(settings: Settings) -> int:
    server = build_server(settings)
    started_here = not server.is_running()
    server.start()
    try:
        return _app_command(settings)
    finally:
        if started_here:
            server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="secretary", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    sub.add_parser("run", help="start Asterisk and the ARI application (foreground)")
    sub.add_parser("app", help="run the ARI application against a running Asterisk")
    ast = sub.add_parser("asterisk", help="manage the Asterisk instance")
    ast.add_argument("action", choices=["up", "down", "status", "cli"])
    ast.add_argument("command", nargs="*", help="CLI command for `cli`")
    args = parser.parse_args(argv)

    settings = load_settings()
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        if args.what == "asterisk":
            return _asterisk_command(settings, args)
        if args.what == "app":
            return _app_command(settings)
        return _run_command(settings)
    except AsteriskError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
