"""python -m bot [serve] | chat [--json] [--user ID]"""

from __future__ import annotations

import argparse
import asyncio
import logging
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
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


async def _chat(settings: Settings, as_json: bool, user: str) -> None:
    from bot.cli import interactive, json_lines
    from bot.runtime import build_assistant

    assistant = build_assistant(settings)
    if as_json:
        await json_lines(assistant)
    else:
        await interactive(assistant, user)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description="The procedure assistant.")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("serve", help="run the web chat and the channels (default)")
    chat = sub.add_parser("chat", help="chat in the terminal")
    chat.add_argument("--json", action="store_true", help="JSON lines on stdin/stdout, for scripts")
    chat.add_argument("--user", default="local", help="user id for the terminal chat")
    args = parser.parse_args(argv)
    settings = _settings()
    from bot.privacy import setup_logging

    setup_logging(settings.log_level if args.command != "chat" else "WARNING")
    try:
        if args.command == "chat":
            asyncio.run(_chat(settings, args.json, args.user))
        else:
            asyncio.run(_serve(settings))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
