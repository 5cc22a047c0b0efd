"""Helpers shared by the card tests (a plain module: conftest cannot be imported)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

VECTORS = Path(__file__).parent / "vectors"
PIN = "1234"
PUK = "12345678"
READER_0 = "Virtual PCD 00 00"
READER_1 = "Virtual PCD 00 01"


def load_vectors(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / name).read_text(encoding="utf-8"))
    return data


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0, interval: float = 0.02) -> bool:
    """Poll with a deadline: robust on a loaded 2-core machine, no fixed sleeps."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


# ---- the real PC/SC stack -------------------------------------------------------------


@dataclass
class Pcscd:
    process: subprocess.Popen[bytes] | None
    log: Path

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def start(self) -> None:
        self.stop()
        _stop_foreign_pcscd()
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                ["pcscd", "--foreground"], stdout=out, stderr=subprocess.STDOUT
            )
        if not wait_for(_vpcd_readers_listed, timeout=20):
            raise RuntimeError(f"pcscd did not list the vpcd readers; see {self.log}")

    def restart(self) -> None:
        self.start()


def _vpcd_readers_listed() -> bool:
    from cardreader import pcsc
    from cardreader.errors import CardError

    try:
        return READER_0 in pcsc.list_readers()
    except CardError:
        return False


def _stop_foreign_pcscd() -> None:
    # A pcscd we did not start (system service, earlier run) would hold the socket and
    # the vpcd ports; the tests need to own pcscd to restart it, so stop that one by pid.
    pid_file = Path("/run/pcscd/pcscd.pid")
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    wait_for(lambda: not Path(f"/proc/{pid}").exists(), timeout=10)
