"""python -m bot [serve] | chat [--json] [--user ID] | dossiers import FILE | desk [--limit N] [--json] [--close YC-...]
| privacy purge [--days N] | privacy export --channel C --user U [--out FILE] | privacy newkey | privacy rekey
| users add|invite|disable|list"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from typing import TYPE_CHECKING

from bot.settings import Settings, SettingsError

if TYPE_CHECKING:
    from bot.storage import Store

log = logging.getLogger("bot")


def _settings() -> Settings:
    try:
        return Settings.load()
    except SettingsError as e:
        print(f"Cấu hình sai (bad setting): {e}", file=sys.stderr)
        raise SystemExit(2) from None


async def _serve(settings: Settings, reuse_port: bool = False) -> None:
    from aiohttp import web

    from bot.channels import attach_channels
    from bot.runtime import build_assistant
    from bot.storage.models import utcnow
    from bot.storage.retention import purge_daily
    from bot.web import create_app

    assistant = build_assistant(settings)
    retention = asyncio.create_task(purge_daily(assistant.store, settings.retention_days, utcnow))
    app = create_app(assistant, settings)
    channels = ["web", *attach_channels(app, assistant, settings)]
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port, reuse_port=reuse_port or None)
    try:
        await site.start()
    except OSError as e:
        await runner.cleanup()
        raise SystemExit(f"Cannot listen on {settings.host}:{settings.port}: {e.strerror}. Set PORT to a free port.") from None
    port = runner.addresses[0][1] if runner.addresses else settings.port  # PORT=0: the one the system gave
    log.info("Web chat ready: open http://%s:%s/ in a browser%s", settings.host, port,
             f" (worker {os.environ.get('BOT_WORKER')} of {settings.workers})" if reuse_port else "")
    off = [name for name in ("telegram", "zalo") if name not in channels]
    log.info("Channels on: %s%s", ", ".join(channels), f" (off, no settings: {', '.join(off)})" if off else "")
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):  # a service manager's stop: close channels cleanly
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
        log.info("Stopping: closing the channels")
    finally:
        retention.cancel()
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


def _store(settings: Settings) -> Store:
    """The database with the settings' data key (imported here: commands without a database start fast)."""
    from bot.storage import Store
    from bot.storage.crypto import keyring_from_settings

    return Store.open(settings.database, keyring_from_settings(settings))


def _dossiers(settings: Settings, path: str) -> int:
    from pathlib import Path

    from bot.dossiers import DossierFileError, import_dossier_file

    store = _store(settings)
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

    desk = StoredDesk(_store(settings))
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


def _privacy(settings: Settings, args: argparse.Namespace) -> int:
    import json
    import os

    if args.privacy_command == "newkey":
        from bot.storage.crypto import new_key

        print(new_key())
        return 0
    if args.privacy_command == "rekey":
        from bot.storage.rekey import rekey

        print(f"Đã mã hoá lại {rekey(_store(settings))} giá trị bằng khoá mới nhất (re-encrypted with the first key).")
        return 0
    if args.privacy_command == "purge":
        from bot.storage.models import utcnow
        from bot.storage.retention import purge

        days = args.days or settings.retention_days
        print(f"Đã xoá dữ liệu quá {days} ngày (deleted) {purge(_store(settings), days, utcnow())}.")
        return 0
    from bot.storage.export import export_person

    body = export_person(_store(settings), args.channel, args.user)
    if body is None:
        print(f"Không có dữ liệu nào của {args.channel}:{args.user} (nothing stored).", file=sys.stderr)
        return 1
    text = json.dumps(body, ensure_ascii=False, indent=1) + "\n"
    if args.out in (None, "-"):
        sys.stdout.write(text)
        return 0
    fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # one person's data: theirs and staff's only
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    print(f"Đã ghi dữ liệu của {args.channel}:{args.user} vào {args.out} (written).")
    return 0


def _users(settings: Settings, args: argparse.Namespace) -> int:
    import getpass
    from datetime import timedelta

    from bot.users import AccountError, Accounts

    accounts = Accounts(_store(settings), settings.desk_lockout_attempts,
                        timedelta(minutes=settings.desk_lockout_minutes))
    try:
        if args.users_command == "add":
            password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass("Mật khẩu: ")
            user = accounts.add(args.username, args.role, password, args.name)
            print(f"Đã tạo tài khoản {user.username} ({user.role}).")
        elif args.users_command == "invite":
            token = accounts.invite(args.username, args.role, args.name)
            base = settings.desk_public_url or f"http://{settings.host}:{settings.port}"
            print(f"Đã mời {args.username} ({args.role}). Gửi đường dẫn này cho họ (dùng một lần, trong 3 ngày):")
            print(f"{base}/desk/invite/{token}")
        elif args.users_command == "disable":
            accounts.disable(args.username)
            print(f"Đã khoá tài khoản {args.username}.")
        else:
            for user, active in accounts.overview():
                print(f"{user.username}\t{user.role}\t{'hoạt động' if active else 'đã khoá'}\t{user.name}")
    except AccountError as e:
        print(f"Không làm được (not done): {e}", file=sys.stderr)
        return 2
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
    load = dossiers_sub.add_parser("import", help="add or update dossiers from a .yml, .csv or .xlsx file (see README)")
    load.add_argument("file", help="columns: code, status, procedure_code, procedure_name, received, due, note, id_last4, ...")
    desk = sub.add_parser("desk", help="what the one-stop desk sees: open tickets, recent ratings and complaints")
    desk.add_argument("--limit", type=int, default=20, help="at most this many of each (default 20)")
    desk.add_argument("--json", action="store_true", help="as JSON, for scripts")
    desk.add_argument("--close", metavar="TICKET", help="close an open ticket, e.g. YC-00012, once it is dealt with")
    privacy = sub.add_parser("privacy", help="personal data: delete old conversations, export one person's data")
    privacy_sub = privacy.add_subparsers(dest="privacy_command", required=True)
    purge = privacy_sub.add_parser("purge", help="delete conversations, messages and feedback older than RETENTION_DAYS")
    purge.add_argument("--days", type=int, help="this many days instead of RETENTION_DAYS")
    export = privacy_sub.add_parser("export", help="one person's data, decrypted, as JSON (Decree 13/2023)")
    export.add_argument("--channel", required=True, help="telegram, zalo, web or terminal")
    export.add_argument("--user", required=True, help="the person's id on that channel")
    export.add_argument("--out", help="write to this file (0600) instead of standard output")
    privacy_sub.add_parser("newkey", help="print a fresh DATA_KEY")
    privacy_sub.add_parser("rekey", help="re-encrypt stored data with the first key of DATA_KEY (key rotation)")
    users = sub.add_parser("users", help="desk accounts (admin, staff, volunteer) for /desk")
    users_sub = users.add_subparsers(dest="users_command", required=True)
    for name, what in (("add", "create an account with a password (asked for, or --password-stdin)"),
                       ("invite", "create an account and print a one-time link to set its password")):
        command = users_sub.add_parser(name, help=what)
        command.add_argument("username")
        command.add_argument("--role", required=True, choices=("admin", "staff", "volunteer"))
        command.add_argument("--name", default="", help="the name shown to colleagues and citizens")
        if name == "add":
            command.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    users_sub.add_parser("disable", help="lock an account out (it is kept for the audit log)").add_argument("username")
    users_sub.add_parser("list", help="the accounts and their roles")
    args = parser.parse_args(argv)
    if args.command == "privacy" and args.privacy_command == "purge" and args.days is not None and args.days <= 0:
        parser.error("--days must be a whole number above 0")
    settings = _settings()
    from bot.privacy import setup_logging
    from bot.storage.crypto import DataKeyError

    setup_logging(settings.log_level if args.command in (None, "serve") else "WARNING")
    if os.environ.get("BOT_WORKER"):  # several workers write to one log: say which one speaks
        from bot.privacy import OneLineFormatter

        worker_format = f"%(asctime)s w{os.environ['BOT_WORKER']} %(levelname)s %(name)s: %(message)s"
        for handler in logging.getLogger().handlers:
            handler.setFormatter(OneLineFormatter(worker_format))
    try:
        return _run(settings, args)
    except DataKeyError as e:
        print(f"Không mở được dữ liệu đã mã hoá (wrong data key): {e}", file=sys.stderr)
        return 2


def _run(settings: Settings, args: argparse.Namespace) -> int:
    if args.command == "dossiers":
        return _dossiers(settings, args.file)
    if args.command == "users":
        return _users(settings, args)
    if args.command == "desk":
        return _desk(settings, args.limit, args.json, args.close)
    if args.command == "privacy":
        return _privacy(settings, args)
    from bot.runtime import StartupError

    try:
        if args.command == "chat":
            asyncio.run(_chat(settings, args.json, args.user))
        else:
            from bot.workers import check_workers, is_worker, run_workers

            check_workers(settings)
            if settings.workers > 1 and not is_worker():
                return run_workers(settings)
            asyncio.run(_serve(settings, reuse_port=settings.workers > 1))
    except KeyboardInterrupt:
        pass
    except SettingsError as e:  # a channel found settings that do not fit together (e.g. a webhook without its secret)
        print(f"Cấu hình sai (bad setting): {e}", file=sys.stderr)
        return 2
    except StartupError as e:  # the model missing or corrupt: one line that says what to do, not a traceback
        print(f"Không khởi động được (cannot start): {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
