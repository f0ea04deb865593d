"""A throwaway PostgreSQL server for the tests and the load benchmark (Debian's `postgresql` package).

initdb into a fresh temporary folder, start `postgres` listening only on a unix socket in that folder
(no TCP port to collide with), fsync off (the data dies with the run), and stop and delete it at the end.
PostgreSQL refuses to run as root, so as root the server runs as the package's `postgres` user.
`bin/setup postgres` installs the package when it is missing.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

SEARCH = ("/usr/lib/postgresql/*/bin",)
START_TIMEOUT = 30.0


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL binaries here, or the server would not start; the message says which and what to do."""


def find_binaries() -> Path:
    """The newest /usr/lib/postgresql/<version>/bin holding initdb and postgres."""
    found = [Path(d) for pattern in SEARCH for d in glob.glob(pattern) if (Path(d) / "initdb").exists()]
    if not found:
        raise PostgresUnavailable(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): run `bin/setup postgres`, "
            "or run the tests on SQLite only with `pytest --db sqlite`."
        )
    return max(found, key=lambda d: int(d.parent.name) if d.parent.name.isdigit() else 0)


class ThrowawayPostgres:
    """One server in a temporary folder; `url(database)` for SQLAlchemy, `create_database(name)` for a fresh one."""

    def __init__(self) -> None:
        self.bin = find_binaries()
        self.root = Path(tempfile.mkdtemp(prefix="pg-throwaway-"))
        self.data = self.root / "data"
        self.socket_dir = self.root
        self.user = None if os.geteuid() != 0 else self._unprivileged_user()
        self.process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def _unprivileged_user() -> str:
        for name in ("postgres", "nobody"):
            try:
                pwd.getpwnam(name)
                return name
            except KeyError:
                continue
        raise PostgresUnavailable("running as root and there is no 'postgres' or 'nobody' user to run PostgreSQL as")

    def _command(self, *args: str) -> list[str]:
        if self.user is None:
            return list(args)
        runner = shutil.which("runuser") or shutil.which("su")
        if runner is None:
            raise PostgresUnavailable("running as root and neither runuser nor su is available")
        if runner.endswith("runuser"):
            return [runner, "-u", self.user, "--", *args]
        return [runner, self.user, "-s", "/bin/sh", "-c", " ".join(f"'{a}'" for a in args)]

    def start(self) -> ThrowawayPostgres:
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        os.chmod(self.root, 0o755)
        init = subprocess.run(
            self._command(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                          "--encoding=UTF8", "--locale=C", "--no-sync"),
            capture_output=True, text=True,
        )
        if init.returncode != 0:
            raise PostgresUnavailable(f"initdb failed ({init.returncode}): {init.stderr.strip()[-500:]}")
        log = open(self.root / "server.log", "wb")  # noqa: SIM115 - kept open for the server's lifetime
        self.process = subprocess.Popen(
            self._command(
                str(self.bin / "postgres"), "-D", str(self.data), "-k", str(self.socket_dir), "-c", "listen_addresses=",
                "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                "-c", "max_connections=200", "-c", "shared_buffers=32MB",
            ),
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while not (self.socket_dir / ".s.PGSQL.5432").exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = (self.root / "server.log").read_text(errors="replace")[-800:] if self.root.exists() else ""
                raise PostgresUnavailable(f"postgres did not start: {tail}")
            time.sleep(0.05)
        self._wait_ready(deadline)
        return self

    def _wait_ready(self, deadline: float) -> None:
        import psycopg2

        while True:
            try:
                psycopg2.connect(dbname="postgres", user="postgres", host=str(self.socket_dir)).close()
                return
            except psycopg2.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg2://postgres@/{database}?host={self.socket_dir}"

    def create_database(self, name: str) -> str:
        """A new empty database; answers its SQLAlchemy URL."""
        import psycopg2

        connection = psycopg2.connect(dbname="postgres", user="postgres", host=str(self.socket_dir))
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        finally:
            connection.close()
        return self.url(name)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            # SIGINT is PostgreSQL's "fast" shutdown (clients disconnected); sent to the postmaster itself,
            # whose pid it writes down, since the process we started may be runuser around it.
            pid_file = self.data / "postmaster.pid"
            try:
                os.kill(int(pid_file.read_text().split()[0]), signal.SIGINT)
            except (OSError, ValueError, IndexError):
                os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> ThrowawayPostgres:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
