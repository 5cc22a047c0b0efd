"""Real server processes for end-to-end tests: gunicorn with config/gunicorn.conf.py.

A `Gunicorn` runs `python -m gunicorn -c config/gunicorn.conf.py server.wsgi:app` in its
own process group (so that one `killpg` reaches the master and every worker), with its
output in a log file (never a pipe nobody drains) and an environment built from scratch
for the DMP_* settings, so that nothing from the caller's environment leaks in.

The tests' data is seeded in-process through the services (`live_world`), with the real
clock: the server processes read the real time, and a session opened at a fake instant
would already have expired for them.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from server.app import create_app, utc_now, vault_directory
from tests.conftest import wipe
from tests.server.conftest import World

ROOT = Path(__file__).resolve().parents[2]
GUNICORN_CONF = ROOT / "config" / "gunicorn.conf.py"
HOST = "127.0.0.1"


class ServerDied(RuntimeError):
    pass


def free_port() -> int:
    """A port free right now (the kernel's choice); gunicorn binds it with SO_REUSEADDR."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def server_env(settings: dict[str, Any], **extra: str) -> dict[str, str]:
    """The caller's environment without any DMP_* variable, plus the test's settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DMP_", "GUNICORN_"))}
    env.pop("WEB_CONCURRENCY", None)
    env.update(
        DMP_DATABASE_URL=settings["DATABASE_URL"],
        DMP_MASTER_KEY=settings["MASTER_KEY"],
        DMP_MASTER_KEY_FILE=settings["MASTER_KEY_FILE"],
        DMP_RECEIPT_SIGNER_KEY_FILE=settings.get("RECEIPT_SIGNER_KEY_FILE", ""),
        DMP_RECEIPT_SIGNER_CHAIN_FILE=settings.get("RECEIPT_SIGNER_CHAIN_FILE", ""),
        # The test app's key vault, named absolutely: a command run from another
        # directory opens the same one (docs/retention.md).
        DMP_KEY_VAULT_DIR=str(vault_directory(settings).absolute()),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def request(
    port: int,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> Reply:
    """One HTTP request on a fresh connection (closed before returning).

    `body` is JSON-encoded unless it is already bytes. Connection errors propagate
    (OSError, http.client.HTTPException): after a kill their outcome is unknown.
    """
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    all_headers = dict(headers or {})
    if data is not None:
        all_headers.setdefault("Content-Type", "application/json")
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request(method, path, body=data, headers=all_headers)
        response = conn.getresponse()
        payload = response.read()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, payload)
    finally:
        conn.close()


def dmp_command() -> list[str]:
    """The `dmp` console script installed next to this interpreter."""
    script = Path(sys.executable).parent / "dmp"
    if not script.exists():
        raise RuntimeError(f"{script} is missing: run `pip install -e '.[dev]'`")
    return [str(script)]


class Gunicorn:
    """One gunicorn server (master + workers) that can be started, killed and restarted."""

    def __init__(
        self,
        settings: dict[str, Any],
        log_path: Path,
        *,
        port: int | None = None,
        workers: int = 2,
        threads: int = 2,
    ) -> None:
        self.port = port or free_port()
        self.log_path = log_path
        self.env = server_env(
            settings,
            GUNICORN_BIND=f"{HOST}:{self.port}",
            GUNICORN_WORKERS=str(workers),
            GUNICORN_THREADS=str(threads),
        )
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self, ready_within: float = 60.0) -> None:
        """Starts the server and waits until it answers. A first start whose port was taken
        meanwhile (free_port is only a snapshot) moves to another port; a restart keeps
        its port, which the clients of a crash test go on calling."""
        for attempt in range(3):
            try:
                self._start_once(ready_within)
                return
            except ServerDied as exc:
                if self.starts > 1 or attempt == 2 or "Address already in use" not in str(exc):
                    raise
                self.starts = 0
                self.port = free_port()
                self.env["GUNICORN_BIND"] = f"{HOST}:{self.port}"

    def _start_once(self, ready_within: float) -> None:
        if self.proc is not None:
            raise RuntimeError("already running")
        command = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), "server.wsgi:app"]
        marker = f"==== start {self.starts + 1} on port {self.port}\n"
        with self.log_path.open("ab") as log:
            log.write(marker.encode())
            log.flush()
            self.proc = subprocess.Popen(
                command,
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: killpg reaches the workers
            )
        self.starts += 1
        try:
            self.wait_ready(ready_within)
        except BaseException:
            self.kill()
            raise

    def wait_ready(self, within: float) -> None:
        """Polls /healthz until a worker answers; fails fast if the master exits."""
        deadline = time.monotonic() + within
        while True:
            if self.proc is None or self.proc.poll() is not None:
                raise ServerDied(f"gunicorn exited during start:\n{self.log_tail()}")
            try:
                if request(self.port, "GET", "/healthz", timeout=5).status == 200:
                    return
            except (OSError, http.client.HTTPException):
                pass
            if time.monotonic() > deadline:
                raise ServerDied(f"gunicorn not ready after {within} s:\n{self.log_tail()}")
            time.sleep(0.05)

    def kill(self) -> None:
        """kill -9 of the whole process group: master and workers, no clean-up at all."""
        self._signal_and_reap(signal.SIGKILL, wait=30.0)

    def stop(self) -> None:
        """Graceful stop (SIGTERM to the group), SIGKILL if it lingers."""
        if self.proc is None:
            return
        try:
            self._signal_and_reap(signal.SIGTERM, wait=40.0)
        except subprocess.TimeoutExpired:
            self.kill()

    def _signal_and_reap(self, sig: signal.Signals, wait: float) -> None:
        proc = self.proc
        if proc is None:
            return
        pgid = proc.pid  # start_new_session: the master leads its group
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            pass
        proc.wait(timeout=wait)  # raises TimeoutExpired; the caller escalates
        self.proc = None
        # The workers were signalled with the master; make sure none is still running
        # (orphans are reaped by init, so a zombie is as good as gone).
        deadline = time.monotonic() + wait
        while group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.02)
        if group_alive(pgid):
            os.killpg(pgid, signal.SIGKILL)

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def __enter__(self) -> Gunicorn:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def group_alive(pgid: int) -> bool:
    """Whether a process of this group still runs (zombies do not count)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...: comm may contain spaces, so split after ")".
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


@contextmanager
def live_world(settings: dict[str, Any]) -> Iterator[World]:
    """An empty database with the named actors of `World`, their sessions opened with
    the real clock, and the test's own in-process app for direct database checks."""
    wipe(settings["DATABASE_URL"])
    app = create_app(settings)  # real clock, like the servers under test
    try:
        yield World(app, app.test_client(), utc_now)
    finally:
        app.extensions["dmp"].engine.dispose()


def audit_verify(settings: dict[str, Any], log_path: Path) -> tuple[int, str]:
    """Runs `dmp audit verify --db URL` as an operator would; its exit code and output."""
    with log_path.open("wb") as log:
        done = subprocess.run(
            [*dmp_command(), "audit", "verify", "--db", settings["DATABASE_URL"]],
            cwd=ROOT,
            env=server_env(settings),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=120,
            check=False,
        )
    return done.returncode, log_path.read_text(errors="replace")
