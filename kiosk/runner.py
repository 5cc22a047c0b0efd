"""Start a kiosk from its settings (real readers through pcscd by default)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from werkzeug.serving import BaseWSGIServer, make_server

from server.http_log import PathOnlyRequestHandler

from . import config
from .app import DemoKit, create_kiosk_app
from .client import ServerClient
from .online import Visits, create_online_app
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


def _client(settings: dict[str, Any], registered_with: str) -> ServerClient:
    if not settings["KIOSK_NAME"]:
        raise ValueError(f"KIOSK_NAME is not set (the name registered with {registered_with})")
    return ServerClient(
        settings["SERVER_URL"],
        settings["KIOSK_NAME"],
        load_key(settings["KIOSK_KEY_FILE"]),
        timeout=float(settings["SERVER_TIMEOUT_SECONDS"]),
    )


@dataclass
class RunningOnline:
    url: str
    visits: Visits
    http: BaseWSGIServer

    def stop(self) -> None:
        self.http.shutdown()
        self.visits.stop()


def run_online(overrides: dict[str, Any] | None = None) -> RunningOnline:
    """The patients' online space (kiosk/online.py): KIOSK_NAME and KIOSK_KEY_FILE are
    those of its terminal, registered with `dmp terminal register --kind online`."""
    settings = config.load_settings(overrides)
    client = _client(settings, "dmp terminal register --kind online")
    app = create_online_app(client, settings)
    visits: Visits = app.extensions["online_visits"]
    visits.start()
    http = make_server(
        settings["HOST"],
        int(settings["PORT"]),
        app,
        threaded=True,
        request_handler=PathOnlyRequestHandler,
    )
    threading.Thread(target=http.serve_forever, name="dmp-online", daemon=True).start()
    return RunningOnline(f"http://{settings['HOST']}:{http.server_port}", visits, http)


def run(overrides: dict[str, Any] | None = None) -> RunningKiosk:
    settings = config.load_settings(overrides)
    client = _client(settings, "dmp kiosk-admin")
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
    http = make_server(
        settings["HOST"],
        int(settings["PORT"]),
        app,
        threaded=True,
        request_handler=PathOnlyRequestHandler,
    )
    threading.Thread(target=http.serve_forever, name="dmp-kiosk", daemon=True).start()
    return RunningKiosk(f"http://{settings['HOST']}:{http.server_port}", terminal, http)
