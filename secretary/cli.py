"""The `secretary` command: run the secretary, and manage its Asterisk.

    secretary run                     Asterisk up (provisioned if needed) + the ARI app
    secretary app                     the ARI app alone, against a running Asterisk
    secretary asterisk up|down|status Start, stop or inspect the Asterisk instance
    secretary asterisk cli "COMMAND"  Run one Asterisk CLI command
    secretary say "text" --voice anna -o out.wav   Speak text with a voice profile
    secretary hear in.wav [--lang ru|en]           Transcribe a WAV file
    secretary call "Question?" ["Next line" ...]  Call the running secretary from a local
                                                   SIP test caller; report each turn
    secretary admin create --username U [--role admin|viewer] [--password-stdin]
    secretary admin password --username U [--password-stdin]
    secretary admin token --username U [--name LABEL]   A new API token (printed once)
    secretary admin list                              Console users and API tokens
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import sys
import time
import wave
from pathlib import Path
from typing import TYPE_CHECKING

from asterisk.server import AsteriskError, AsteriskServer, resolve_install
from secretary.logs import configure_logging
from secretary.settings import Settings, load_settings

if TYPE_CHECKING:
    from secretary.caller import CallReport


def build_server(settings: Settings, provision: bool = True) -> AsteriskServer:
    install = resolve_install(settings.asterisk.mode, settings.chroot_dir, provision=provision)
    return AsteriskServer(
        install,
        asterisk_settings=settings.asterisk,
        ari_settings=settings.ari,
        state_dir=settings.state_dir,
        gsm_settings=settings.gsm,
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


def _say_command(settings: Settings, args: argparse.Namespace) -> int:
    from secretary import speech
    from voices.base import TtsError, collect_audio

    engines = speech.build_tts(settings)
    try:
        voice = speech.build_voice(settings, engines, args.voice)
        started = time.perf_counter()
        audio = asyncio.run(collect_audio(voice.stream(args.text)))
    except TtsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        engines.close()
    with wave.open(str(args.output), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(audio.sample_rate)
        out.writeframes(audio.pcm16)
    print(json.dumps({"output": str(args.output), "engine": audio.engine,
                      "sample_rate": audio.sample_rate,
                      "seconds": round(audio.samples / audio.sample_rate, 3),
                      "synthesis_s": round(time.perf_counter() - started, 3)}))
    return 0


def _hear_command(settings: Settings, args: argparse.Namespace) -> int:
    from media.stt.base import SttError
    from secretary import speech

    try:
        with wave.open(str(args.input), "rb") as wav:
            if wav.getsampwidth() != 2 or wav.getnchannels() != 1:
                raise ValueError("expected 16-bit mono PCM")
            pcm16, rate = wav.readframes(wav.getnframes()), wav.getframerate()
    except (OSError, EOFError, ValueError, wave.Error) as exc:
        print(f"error: cannot read {args.input}: {exc}", file=sys.stderr)
        return 1
    stt = speech.build_segment_stt(settings)
    try:
        stt.require_available()
        started = time.perf_counter()
        transcript = stt.transcribe(pcm16, rate, language=args.lang)
    except SttError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"text": transcript.text, "language": transcript.language,
                      "audio_s": round(len(pcm16) / 2 / rate, 3),
                      "recognition_s": round(time.perf_counter() - started, 3)},
                     ensure_ascii=False))
    return 0


def _call_command(settings: Settings, args: argparse.Namespace) -> int:
    import secrets

    from secretary.caller import (
        BaresipError,
        CallerSpeech,
        CallFailed,
        CallPlan,
        Line,
        default_target,
        place_call,
        read_wav,
    )
    from voices.base import TtsError

    if args.lines and args.wav:
        print("error: give the caller's lines as text or as --wav files, not both",
              file=sys.stderr)
        return 2
    lines = ([Line(text=t, language=args.lang) for t in args.lines]
             + [Line(wav=w, language=args.lang) for w in args.wav])
    for path in args.wav:
        try:
            read_wav(path)
        except (OSError, EOFError, ValueError, wave.Error) as exc:
            print(f"error: cannot read {path} (16-bit PCM WAV expected): {exc}",
                  file=sys.stderr)
            return 2
    plan = CallPlan(
        target=args.target or default_target(settings),
        caller_id=args.caller_id or f"caller-{secrets.token_hex(4)}",
        timeout_s=args.timeout,
        quiet_s=args.quiet,
        language=args.lang,
        keep_dir=args.keep.resolve() if args.keep else None,
    )
    try:
        kit = CallerSpeech.from_settings(settings, voice=args.voice)
    except TtsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        report = asyncio.run(place_call(settings, lines, plan, kit))
    except (CallFailed, BaresipError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        if isinstance(exc, CallFailed):
            print("is the secretary running (`secretary run`) and is --target right?",
                  file=sys.stderr)
        return 1
    except TtsError as exc:
        print(f"error: the caller could not speak its lines: {exc}", file=sys.stderr)
        return 1
    finally:
        kit.close()
    if args.json:
        print(json.dumps(report.to_json(), ensure_ascii=False, indent=2))
    else:
        _print_call_report(report)
    if report.error:
        print(f"error: {report.error}", file=sys.stderr)
        return 1
    return 0


def _print_call_report(report: CallReport) -> None:
    by = {"caller": "the caller", "secretary": "the secretary",
          "timeout": "the caller (timeout)"}.get(report.ended_by, report.ended_by)
    print(f"called {report.target} as {report.caller_id}: {report.duration_s:.1f} s, "
          f"hung up by {by}")
    for turn in report.turns:
        latency = "no reply" if turn.latency_ms is None else f"{turn.latency_ms:.0f} ms"
        if turn.index == 0:
            print(f"turn 0    greeting, first audio {latency} after the answer")
        else:
            print(f"turn {turn.index:<4} caller:    {turn.said}")
            print(f"          reply latency {latency}" + (
                "" if turn.barge_in_stop_ms is None
                else f", stopped {turn.barge_in_stop_ms:.0f} ms after the caller cut in"))
        if turn.reply is not None:
            print(f"          secretary: {turn.reply_text or '(nothing recognisable)'}")
    if report.call is not None:
        call = report.call
        print(f"call id: {call.id} (caller {call.caller}, {call.started_at:%Y-%m-%d %H:%M:%S}"
              f", end: {call.end_reason or 'not recorded yet'})")
    else:
        print(f"call id: unknown ({report.call_lookup})")
    print(f"recordings: {report.recordings}")
    if report.caller_dir is not None:
        print(f"caller's recordings: {report.caller_dir}")


def _read_new_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    import getpass

    password = getpass.getpass("password: ")
    if getpass.getpass("again: ") != password:
        raise ValueError("the passwords differ")
    return password


def _admin_command(settings: Settings, args: argparse.Namespace) -> int:
    from brain.store import Store
    from web.auth.users import AccountStore

    async def act(password: str | None) -> None:
        async with await Store.open(settings.database_url) as store:
            accounts = await AccountStore.open(store)
            if args.action == "create":
                user = await accounts.create_user(args.username, password or "", args.role)
                print(f"created {user.role} {user.username!r}")
            elif args.action == "password":
                user = await accounts.set_password(args.username, password or "")
                print(f"password of {user.username!r} changed")
            elif args.action == "token":
                print(await accounts.create_token(args.username, args.name))
                print("keep it: it is not shown again (use: Authorization: Bearer <token>)",
                      file=sys.stderr)
            else:
                for user in await accounts.users():
                    print(f"user  {user.username:<24} {user.role:<7} "
                          f"{user.created_at:%Y-%m-%d %H:%M}")
                for token in await accounts.tokens():
                    print(f"token {token.username:<24} {token.name or '-':<7} "
                          f"{token.created_at:%Y-%m-%d %H:%M}")

    try:
        password = (_read_new_password(args.password_stdin)
                    if args.action in ("create", "password") else None)
        asyncio.run(act(password))
    except (ValueError, LookupError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _purge_command(settings: Settings) -> int:
    from brain.store import Store
    from secretary.retention import purge

    async def once() -> dict[str, int]:
        async with await Store.open(settings.database_url) as store:
            report = await purge(store, settings.calls_log_dir, settings.privacy)
        return dataclasses.asdict(report)

    print(json.dumps(asyncio.run(once())))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="secretary", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    sub.add_parser("run", help="start Asterisk and the ARI application (foreground)")
    sub.add_parser("app", help="run the ARI application against a running Asterisk")
    ast = sub.add_parser("asterisk", help="manage the Asterisk instance")
    ast.add_argument("action", choices=["up", "down", "status", "cli"])
    ast.add_argument("command", nargs="*", help="CLI command for `cli`")
    say = sub.add_parser("say", help="speak text with a voice profile into a WAV file")
    say.add_argument("text")
    say.add_argument("--voice", default="anna", help="voice profile under voices/")
    say.add_argument("-o", "--output", type=Path, default=Path("say.wav"))
    hear = sub.add_parser("hear", help="transcribe a 16-bit mono WAV file")
    hear.add_argument("input", type=Path)
    hear.add_argument("--lang", choices=["ru", "en"], default=None)
    call = sub.add_parser("call", help="call the running secretary from a local SIP test "
                                       "caller and report each turn")
    call.add_argument("lines", nargs="*", help="what the caller says, one argument per turn")
    call.add_argument("--wav", type=Path, action="append", default=[],
                      help="say this WAV file as the next turn (repeatable; instead of text)")
    call.add_argument("--lang", choices=["ru", "en"], default=None,
                      help="language of the conversation (default: from each line's script)")
    call.add_argument("--caller-id", default=None,
                      help="the caller's SIP user (default: a unique caller-<hex>)")
    call.add_argument("--target", default=None,
                      help="SIP URI to call (default: the settings' extension, e.g. "
                           "sip:100@127.0.0.1:5060)")
    call.add_argument("--timeout", type=float, default=120.0,
                      help="hang up after this many seconds whatever happens")
    call.add_argument("--quiet", type=float, default=2.5,
                      help="seconds of quiet that end the secretary's reply")
    call.add_argument("--voice", default=None,
                      help="the caller's voice profile under voices/ (default: built-in)")
    call.add_argument("--keep", type=Path, default=None,
                      help="keep the caller's recordings and baresip log in this folder")
    call.add_argument("--json", action="store_true", help="print the report as JSON")
    admin = sub.add_parser("admin", help="console users and API tokens")
    admin_sub = admin.add_subparsers(dest="action", required=True)
    for action, text in (("create", "add a console user"),
                         ("password", "set a console user's password")):
        one = admin_sub.add_parser(action, help=text)
        one.add_argument("--username", required=True)
        one.add_argument("--password-stdin", action="store_true",
                         help="read the password from the first line of stdin")
        if action == "create":
            one.add_argument("--role", choices=["admin", "viewer"], default="admin")
    token = admin_sub.add_parser("token", help="create an API token for a user")
    token.add_argument("--username", required=True)
    token.add_argument("--name", default="", help="a label to recognise the token by")
    admin_sub.add_parser("list", help="list console users and API tokens")
    sub.add_parser("purge", help="delete recordings and transcripts older than the "
                                 "privacy settings keep them (the phone process does it hourly)")
    args = parser.parse_args(argv)

    settings = load_settings()
    configure_logging(settings)
    try:
        if args.what == "asterisk":
            return _asterisk_command(settings, args)
        if args.what == "app":
            return _app_command(settings)
        if args.what == "say":
            return _say_command(settings, args)
        if args.what == "hear":
            return _hear_command(settings, args)
        if args.what == "call":
            return _call_command(settings, args)
        if args.what == "admin":
            return _admin_command(settings, args)
        if args.what == "purge":
            return _purge_command(settings)
        return _run_command(settings)
    except AsteriskError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
