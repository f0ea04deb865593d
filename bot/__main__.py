"""python -m bot [serve] | chat [--json] [--user ID] | dossiers import FILE | desk [--limit N] [--json] [--close YC-...]"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from bot.settings import Settings, SettingsError

log = logging.getLogger("bot")


def _settings() -> Settings:
    try:
        return Settings.load()
    except SettingsError as e:
        print(f"Cấu hình sai (bad setting): {e}", file=sys.stderr)
        raise SystemExit(2) from None


async def _serve(settings: Settings) -> None:
    from aiohttp import web

    from bot.channels import attach_channels
    from bot.runtime import build_assistant
    from bot.web import create_app

    assistant = build_assistant(settings)
    app = create_app(assistant)
    channels = ["web", *attach_channels(app, assistant, settings)]
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    try:
        await site.start()
    except OSError as e:
        await runner.cleanup()
        raise SystemExit(f"Cannot listen on {settings.host}:{settings.port}: {e.strerror}. Set PORT to a free port.") from None
    log.info("Web chat ready: open http://%s:%s/ in a browser", settings.host, settings.port)
    off = [name for name in ("telegram", "zalo") if name not in channels]
    log.info("Channels on: %s%s", ", ".join(channels), f" (off, no settings: {', '.join(off)})" if off else "")
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):  # a service manager's stop: close channels cleanly
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
        log.info("Stopping: closing the channels")
    finally:
        # Requests in flight end within the turn budget; a turn still running in a worker thread
        # does not hold the exit (the workers are daemon threads; its message stays unanswered).
        await runner.cleanup()
        assistant.close()


async def _chat(settings: Settings, as_json: bool, user: str) -> None:
    from bot.cli import interactive, json_lines
    from bot.runtime import build_assistant

    assistant = build_assistant(settings)
    if as_json:
        await json_lines(assistant)
    else:
        await interactive(assistant, user)


def _dossiers(settings: Settings, path: str) -> int:
    from pathlib import Path

    from bot.dossiers import DossierFileError, import_dossier_file
    from bot.storage import Store

    store = Store.open(settings.database_url_resolved)
    try:
        added, updated = import_dossier_file(store, Path(path))
    except DossierFileError as e:
        print(f"Không nhập được, chưa lưu hồ sơ nào (nothing imported):\n{e}", file=sys.stderr)
        return 2
    print(f"Đã nhập {path}: {added} hồ sơ mới, {updated} hồ sơ cập nhật (added {added}, updated {updated}).")
    return 0


def _desk(settings: Settings, limit: int, as_json: bool, close: str | None) -> int:
    import json
    from dataclasses import asdict

    from bot.desk import StoredDesk, render_desk
    from bot.storage import Store

    desk = StoredDesk(Store.open(settings.database_url_resolved))
    if close:
        if not desk.close_ticket(close):
            print(f"Không có phiếu đang mở {close} (no open ticket {close}).", file=sys.stderr)
            return 2
        print(f"Đã đóng phiếu {close} (closed).")
        return 0
    if as_json:
        body = {
            "open_tickets": [asdict(t) for t in desk.open_tickets(limit)],
            "recent_feedback": [asdict(f) for f in desk.recent_feedback(limit)],
            "ratings": desk.rating_counts(),
        }
        print(json.dumps(body, ensure_ascii=False, default=str, indent=1))
    else:
        print(render_desk(desk, limit))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description="The procedure assistant.")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="run the web chat and the channels (default)")
    chat = sub.add_parser("chat", help="chat in the terminal")
    chat.add_argument("--json", action="store_true", help="JSON lines on stdin/stdout, for scripts")
    chat.add_argument("--user", default="local", help="user id for the terminal chat")
    dossiers = sub.add_parser("dossiers", help="the local dossier status table")
    dossiers_sub = dossiers.add_subparsers(dest="dossiers_command", required=True)
    load = dossiers_sub.add_parser("import", help="add or update dossiers from a .yml or .csv file (see README)")
    load.add_argument("file", help="columns: code, status, procedure_code, procedure_name, received, due, note")
    desk = sub.add_parser("desk", help="what the one-stop desk sees: open tickets, recent ratings and complaints")
    desk.add_argument("--limit", type=int, default=20, help="at most this many of each (default 20)")
    desk.add_argument("--json", action="store_true", help="as JSON, for scripts")
    desk.add_argument("--close", metavar="TICKET", help="close an open ticket, e.g. YC-00012, once it is dealt with")
    args = parser.parse_args(argv)
    settings = _settings()
    if args.command == "dossiers":
        return _dossiers(settings, args.file)
    if args.command == "desk":
        return _desk(settings, args.limit, args.json, args.close)
    from bot.privacy import setup_logging

    setup_logging(settings.log_level if args.command != "chat" else "WARNING")
    try:
        if args.command == "chat":
            asyncio.run(_chat(settings, args.json, args.user))
        else:
            asyncio.run(_serve(settings))
    except KeyboardInterrupt:
        pass
    except SettingsError as e:  # a channel found settings that do not fit together (e.g. a webhook without its secret)
        print(f"Cấu hình sai (bad setting): {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
