"""Puts a VirtualCard behind the real pcscd, through the vsmartcard "vpcd" reader.

vpcd listens on 127.0.0.1:35963+slot. Each message is a 2-byte big-endian length and a
payload; a 1-byte payload is a control (00 power off, 01 power on, 02 reset, 04 "send
your ATR"), anything longer a command APDU. Connecting inserts the card, closing the
socket removes it.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable

from .virtual import VirtualCard

log = logging.getLogger(__name__)

VPCD_HOST = "127.0.0.1"
VPCD_PORT_BASE = 35963
POWER_OFF, POWER_ON, RESET, GET_ATR = 0, 1, 2, 4
_RETRY_MIN, _RETRY_MAX = 0.05, 0.5


class VpcdBridge:
    """A card in vpcd slot `slot`, served by a daemon thread until removed or stopped.

    While inserted, the bridge reconnects whenever the socket drops (pcscd restarted),
    so the card reappears once pcscd is back, as a card left in a reader would.
    """

    def __init__(
        self,
        card: VirtualCard,
        slot: int = 0,
        *,
        host: str = VPCD_HOST,
        port_base: int = VPCD_PORT_BASE,
    ) -> None:
        self.card = card
        self.address = (host, port_base + slot)
        self.pull_before: Callable[[bytes], bool] | None = None
        # Called from the bridge thread with True once connected (before any APDU is
        # served, so before pcscd can see the card) and False once disconnected.
        self.on_change: Callable[[bool], None] | None = None
        self.connected = threading.Event()
        self._inserted = threading.Event()
        self._stop = threading.Event()
        self._socket: socket.socket | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"vpcd-{slot}", daemon=True)
        self._thread.start()

    # ---- public controls ------------------------------------------------------------
    def insert(self) -> None:
        self._inserted.set()

    def remove(self) -> None:
        self._inserted.clear()
        self._drop()

    def wait_connected(self, timeout: float) -> bool:
        return self.connected.wait(timeout)

    def stop(self) -> None:
        self._stop.set()
        self.remove()
        self._thread.join(timeout=5)

    def __enter__(self) -> VpcdBridge:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ---- the serving thread ---------------------------------------------------------
    def _drop(self) -> None:
        with self._lock:
            sock, self._socket = self._socket, None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def _run(self) -> None:
        delay = _RETRY_MIN
        while not self._stop.is_set():
            if not self._inserted.wait(0.1):
                continue
            try:
                sock = socket.create_connection(self.address, timeout=1.0)
            except OSError:
                # pcscd not (yet) listening: keep trying, like a card left in a reader.
                self._stop.wait(delay)
                delay = min(delay * 2, _RETRY_MAX)
                continue
            delay = _RETRY_MIN
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(None)
            with self._lock:
                if not self._inserted.is_set() or self._stop.is_set():
                    sock.close()
                    continue
                self._socket = sock
            self.connected.set()
            self._notify(True)
            try:
                self._serve(sock)
            except OSError as exc:
                log.debug("vpcd connection ended: %s", exc)
            finally:
                self.connected.clear()
                self.card.power_off()
                self._drop()
                self._notify(False)

    def _notify(self, connected: bool) -> None:
        if self.on_change is not None:
            self.on_change(connected)

    def _serve(self, sock: socket.socket) -> None:
        while True:
            header = _recv_exact(sock, 2)
            if header is None:
                return
            payload = _recv_exact(sock, int.from_bytes(header, "big"))
            if payload is None:
                return
            if len(payload) == 1:
                reply = self._control(payload[0])
            else:
                if self.pull_before is not None and self.pull_before(payload):
                    # Test hook: the card leaves the reader in the middle of a command.
                    self._inserted.clear()
                    return
                reply = self.card.process(payload)
            if reply is not None:
                sock.sendall(len(reply).to_bytes(2, "big") + reply)

    def _control(self, code: int) -> bytes | None:
        if code == POWER_OFF:
            self.card.power_off()
        elif code == POWER_ON:
            self.card.power_on()
        elif code == RESET:
            self.card.reset()
        elif code == GET_ATR:
            return self.card.atr
        return None


def _recv_exact(sock: socket.socket, size: int) -> bytes | None:
    buffer = bytearray()
    while len(buffer) < size:
        chunk = sock.recv(size - len(buffer))
        if not chunk:
            return None
        buffer += chunk
        # Linux clears TCP_QUICKACK by itself; without setting it again after each
        # receive every APDU waits ~40 ms for a delayed ACK (measured: 48 ms vs 0.1 ms).
        if hasattr(socket, "TCP_QUICKACK"):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
    return bytes(buffer)
