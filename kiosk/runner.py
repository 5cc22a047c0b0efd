"""Start a kiosk from its settings (real readers through pcscd by default)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from werkzeug.serving import BaseWSGIServer, make_server

from . import config
from .app import DemoKit, create_kiosk_app
from .client import ServerClient
from .readers import CardReaders, DemoReaders, PcscReaders
from .terminal import Terminal


@dataclass
class RunningKiosk:
    url: str
    terminal: Terminal
    http: BaseWSGIServer

    def stop(self) -> None:
        self.http.shutdown()
        self.terminal.stop()


def load_key(path: str) -> ec.EllipticCurvePrivateKey:
    if not path:
        raise ValueError("KIOSK_KEY_FILE is not set: the kiosk signs every request with its key")
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{path}: not an EC private key")
    return key


def run(overrides: dict[str, Any] | None = None) -> RunningKiosk:
    settings = config.load_settings(overrides)
    if not settings["KIOSK_NAME"]:
        raise ValueError("KIOSK_NAME is not set (the name registered with dmp kiosk-admin)")
    key = load_key(settings["KIOSK_KEY_FILE"])
    client = ServerClient(
        settings["SERVER_URL"],
        settings["KIOSK_NAME"],
        key,
        timeout=float(settings["SERVER_TIMEOUT_SECONDS"]),
    )
    readers: CardReaders
    demo: DemoKit | None = None
    if settings["READER"] == "pcsc":
        readers = PcscReaders()
    else:
        readers = DemoReaders()
        demo = DemoKit(readers, {})
    terminal = Terminal(
        readers,
        client,
        idle_seconds=float(settings["IDLE_SECONDS"]),
        warn_seconds=float(settings["IDLE_WARNING_SECONDS"]),
    )
    app = create_kiosk_app(terminal, settings, demo=demo)
    terminal.start()
    http = make_server(settings["HOST"], int(settings["PORT"]), app, threaded=True)
    threading.Thread(target=http.serve_forever, name="dmp-kiosk", daemon=True).start()
    return RunningKiosk(f"http://{settings['HOST']}:{http.server_port}", terminal, http)
