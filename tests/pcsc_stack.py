"""A private pcscd for the real-reader tests, beside whatever pcscd the machine runs.

The suite must run on a machine where a pcscd serves real readers, so the tests never
stop, restart or share the machine's pcscd: they start their own, and end only that one.

pcsc-lite's clients honour `PCSCLITE_CSOCK_NAME` for the socket they connect to, but the
daemon (1.9.9 here, and upstream to this day) binds the compiled-in
`/run/pcscd/pcscd.comm` and writes `/run/pcscd/pcscd.pid`, removing both when it stops;
and it takes every USB reader its drivers match. So the private pcscd runs in its own
mount namespace (`unshare`), where:

- `/run` is an empty tmpfs and `/run/pcscd` is our directory: its socket and pid file
  live in our directory, and the machine's `/run/pcscd` is never touched;
- the USB drivers directory is an empty tmpfs: no real reader is claimed;
- `--config` names our reader.conf.d: the vpcd reader only, on two free ports.

As root, `unshare --mount` is enough; otherwise a user namespace maps us to root in it.
The namespace needs no fork: `unshare` and `sh` exec into pcscd, so the process we
start is pcscd itself, and stopping it ends the namespace.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

SOCKET_VARIABLE = "PCSCLITE_CSOCK_NAME"
READERS = ("Virtual PCD 00 00", "Virtual PCD 00 01")  # vpcd slots 0 and 1
DEFAULT_SOCKET = Path("/run/pcscd/pcscd.comm")
DEFAULT_PID_FILE = Path("/run/pcscd/pcscd.pid")
DRIVERS = Path("/usr/lib/pcsc/drivers")  # pcscd's hotplug drop dir (USB readers)
VPCD_DRIVER = DRIVERS / "serial" / "libifdvpcd.so"
SUN_PATH_MAX = 107  # sockaddr_un.sun_path holds 108 bytes with the NUL; pcscd truncates
READY_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0, interval: float = 0.02) -> bool:
    """Poll with a deadline: robust on a loaded 2-core machine, no fixed sleeps."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def socket_path(directory: Path) -> Path:
    """Where the private pcscd of `directory` listens."""
    path = directory / "run" / "pcscd.comm"
    if len(os.fsencode(path)) > SUN_PATH_MAX:
        raise ValueError(f"{path} is too long for a unix socket; use a shorter --basetemp")
    return path


def accepts_connections(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(os.fspath(path))
        except OSError:
            return False
    return True


def free_port_pair() -> int:
    """A port P with P and P+1 free on every interface (vpcd slot N listens on P+N)."""
    for _ in range(50):
        with socket.socket() as first:
            first.bind(("", 0))
            port = int(first.getsockname()[1])
            with socket.socket() as second:
                try:
                    second.bind(("", port + 1))
                except OSError:
                    continue
        return port
    raise RuntimeError("no two consecutive free TCP ports")


def _unshare() -> list[str]:
    namespace = ["unshare", "--mount", "--propagation", "private"]
    if os.geteuid() != 0:
        namespace[1:1] = ["--user", "--map-root-user"]
    return namespace


class Pcscd:
    """Our own pcscd with the vpcd reader on its own ports, in `directory`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.socket = socket_path(directory)
        self.log = directory / "pcscd.log"
        self.vpcd_port_base = free_port_pair()
        self.process: subprocess.Popen[bytes] | None = None
        self._prepare()

    def _prepare(self) -> None:
        for name in ("run", "reader.conf.d", "driver"):
            (self.directory / name).mkdir(parents=True, exist_ok=True)
        driver = self.directory / "driver" / VPCD_DRIVER.name
        # DEVICENAME /dev/null:PORT makes vpcd listen on PORT (slot 0) and PORT+1 (slot 1).
        (self.directory / "reader.conf.d" / "vpcd").write_text(
            'FRIENDLYNAME "Virtual PCD"\n'
            f"DEVICENAME   /dev/null:{self.vpcd_port_base:#x}\n"
            f"LIBPATH      {driver}\n"
            f"CHANNELID    {self.vpcd_port_base:#x}\n",
            encoding="utf-8",
        )

    def _command(self) -> list[str]:
        q = shlex.quote
        own = self.directory
        script = " && ".join(
            [
                # The vpcd driver stays reachable from our directory once DRIVERS is hidden.
                f"mount --bind {q(str(VPCD_DRIVER.parent))} {q(str(own / 'driver'))}",
                f"mount -t tmpfs -o size=64k,mode=0755 dmp-test-no-drivers {q(str(DRIVERS))}",
                "mount -t tmpfs -o size=64k,mode=0755 dmp-test-run /run",
                "mkdir /run/pcscd",
                f"mount --bind {q(str(own / 'run'))} /run/pcscd",
                f"exec pcscd --foreground --config {q(str(own / 'reader.conf.d'))}",
            ]
        )
        return [*_unshare(), "sh", "-c", script]

    def start(self) -> None:
        if self.process is not None and self.process.poll() is None:
            raise RuntimeError("this pcscd is already running")
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self._command(), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        # pcscd adds the configured readers before it opens its socket: once the socket
        # answers, the vpcd readers exist.
        if not wait_for(lambda: self._ready() or self._exited(), READY_TIMEOUT) or self._exited():
            self.stop()
            raise RuntimeError(f"the private pcscd did not come up; see {self.log}")

    def _ready(self) -> bool:
        return not self._exited() and accepts_connections(self.socket)

    def _exited(self) -> bool:
        return self.process is None or self.process.poll() is not None

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)

    def restart(self) -> None:
        self.stop()
        self.start()


def missing_tools() -> list[str]:
    missing = [tool for tool in ("pcscd", "opensc-tool", "unshare") if not shutil.which(tool)]
    if not VPCD_DRIVER.exists():
        missing.append("vsmartcard-vpcd")
    try:
        import smartcard  # noqa: F401
    except ImportError:
        missing.append("pyscard (pip install -e '.[pcsc]')")
    return missing


# ---- a pcscd the tests did not start ------------------------------------------------


def _command_name(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/comm").read_text(encoding="ascii").strip()
    except OSError:
        return None


def machine_pcscd_pid() -> int | None:
    """The pcscd serving the machine's default socket, if one runs."""
    try:
        pid = int(DEFAULT_PID_FILE.read_text(encoding="ascii").strip("\0\n "))
    except (OSError, ValueError):
        return None
    return pid if _command_name(pid) == "pcscd" else None


class ForeignProcess:
    """A process the pcsc fixture must leave alone: the machine's pcscd when one runs;
    else a stand-in pcscd on the default socket, as a system service would run it (as
    root, with no USB driver and no reader); else any process of ours."""

    def __init__(self, pid: int, process: subprocess.Popen[bytes] | None) -> None:
        self.pid = pid
        self.name = _command_name(pid)
        self._process = process  # set only when we started it, so only then we stop it

    @classmethod
    def find_or_start(cls, directory: Path) -> ForeignProcess:
        pid = machine_pcscd_pid()
        if pid is not None:
            return cls(pid, None)
        if os.geteuid() == 0 and not DEFAULT_SOCKET.exists():
            empty = directory / "empty-reader.conf.d"
            empty.mkdir(parents=True, exist_ok=True)
            script = (
                "mount -t tmpfs -o size=64k,mode=0755 dmp-test-no-drivers "
                f"{shlex.quote(str(DRIVERS))} && exec pcscd --foreground --config "
                f"{shlex.quote(str(empty))}"
            )
            with (directory / "foreign-pcscd.log").open("ab") as out:
                process = subprocess.Popen(
                    [*_unshare(), "sh", "-c", script],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
            if not wait_for(lambda: machine_pcscd_pid() == process.pid, READY_TIMEOUT):
                process.kill()
                process.wait(timeout=STOP_TIMEOUT)
                raise RuntimeError("the stand-in system pcscd did not come up")
            wait_for(lambda: accepts_connections(DEFAULT_SOCKET), READY_TIMEOUT)
            return cls(process.pid, process)
        process = subprocess.Popen(["sleep", "600"])
        return cls(process.pid, process)

    def running(self) -> bool:
        if self._process is not None and self._process.poll() is not None:
            return False
        return self.name is not None and _command_name(self.pid) == self.name

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=STOP_TIMEOUT)
