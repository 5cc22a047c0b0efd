"""`dmp demo`: the whole system on one machine, in one process, on embedded defaults.

It makes a fresh PKI and the demo cards (keys generated now, in a private temporary
directory removed at exit), a SQLite records server with the demo population, a
registered demo kiosk, the outbox worker delivering to an in-memory demo mailbox, the
OCR worker reading scans, and the kiosk with two in-process card readers and a panel to
insert and pull the cards.

It composes the server and the kiosk from above (dmp/): the kiosk itself never imports
the server's database code, it only speaks to it over HTTP, as in production.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from werkzeug.serving import BaseWSGIServer, ThreadedWSGIServer, make_server

from cardreader.emulator import cardfile
from cardreader.emulator.demo import make_demo_set
from cardreader.emulator.pki import Pki
from cardreader.emulator.virtual import VirtualCard
from cardreader.identity import PatientIdentity
from kiosk import config
from kiosk.app import DemoKit, create_kiosk_app
from kiosk.client import ServerClient
from kiosk.inbox import DemoInbox
from kiosk.readers import CardReaders, DemoReaders, PcscReaders
from kiosk.terminal import Terminal
from server.app import build_runtime, create_app
from server.config import load_settings as server_settings
from server.http_log import PathOnlyRequestHandler
from server.migrate import upgrade
from server.signin import kiosk_identity

log = logging.getLogger("dmp.demo")
KIOSK_NAME = "borne-demo"
ONLINE_NAME = "espace-en-ligne-demo"
# The demo patients' password for the online space (as if set at a kiosk with the card).
ONLINE_PASSWORD = "soleil-de-mars"  # noqa: S105 - the demo's, printed at start
RECEIPT_SIGNER_NAME = "receipts-demo"


@dataclass
class RunningDemo:
    kiosk_url: str
    server_url: str
    terminal: Terminal
    kit: DemoKit
    directory: Path
    online_url: str = ""  # the patients' online space (kiosk/online.py)
    online_app: Any = None
    server_app: Any = None
    server_http: BaseWSGIServer | None = None
    _stops: list[Callable[[], None]] = field(default_factory=list)

    def stop_server(self) -> None:
        """Take the records server away (to show what the kiosk does then)."""
        if self.server_http is not None:
            self.server_http.shutdown()
            self.server_http.server_close()
            self.server_http = None

    def start_server(self) -> None:
        """Bring it back on the same address."""
        if self.server_http is None:
            port = int(self.server_url.rsplit(":", 1)[1])
            self.server_http = _serve(self.server_app, "127.0.0.1", port, "dmp-server", join=True)

    def stop(self) -> None:
        for stop in reversed(self._stops):
            try:
                stop()
            except Exception:  # stopping must go on for the others
                log.exception("while stopping the demo")


def _serve(app: Any, host: str, port: int, name: str, *, join: bool = False) -> BaseWSGIServer:
    server = make_server(host, port, app, threaded=True, request_handler=PathOnlyRequestHandler)
    # join: server_close() waits for the requests in flight (the records server's, which
    # hold database connections); never for the kiosk's, whose event streams never end.
    if isinstance(server, ThreadedWSGIServer):
        server.daemon_threads = not join
    threading.Thread(target=server.serve_forever, name=name, daemon=True).start()
    return server


def _free(host: str, port: int) -> bool:
    """Whether `port` can be bound now (werkzeug exits the process on a busy port)."""
    import socket

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _register_online(ctx: Any) -> ec.EllipticCurvePrivateKey:
    """The online space as its own terminal (`dmp terminal register --kind online`), its
    key made now and kept in memory; the demo patients get their online password."""
    from server.demo import MARIE, PAUL
    from server.models import Patient
    from server.signin import passwords

    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    kiosk_identity.register_software(ctx, ONLINE_NAME, kiosk_identity.TerminalKind.ONLINE, public)
    from sqlalchemy import select

    for ins in (MARIE, PAUL):
        patient = ctx.session.scalars(select(Patient).where(Patient.ins == ins)).first()
        if patient is not None:
            passwords.set_password(ctx, patient.id, ins, ONLINE_PASSWORD)
    return key


# A profession the access matrix does not list (it reads no dossier), in French and English.
OTHER_PROFESSIONS = {
    "delegue_protection_donnees": (
        "Délégué à la protection des données",
        "Data protection officer",
    ),
}


def card_label(card: cardfile.CardFile, lang: str = "fr") -> str:
    """The demo panel's name for a card: its holder and, for a professional, the
    profession's label in `lang` (the access matrix's), never its code."""
    identity = card.identity
    if isinstance(identity, PatientIdentity):
        return f"Carte Vitale · {identity.first_names[0]} {identity.birth_name}"
    from server.policy.matrix import default_matrix_path, load_matrix

    rules = load_matrix(default_matrix_path()).rules_for(identity.profession)
    labels = (
        (rules.label_fr, rules.label_en)
        if rules
        else OTHER_PROFESSIONS.get(identity.profession, (identity.profession, identity.profession))
    )
    job = labels[1] if lang == "en" else labels[0]
    return f"Carte CPS · {identity.first_name} {identity.last_name} ({job})"


@dataclass(frozen=True)
class PreparedPki:
    directory: Path
    cards: list[Path]
    kiosk_key: Path
    kiosk_certificate: Path
    receipt_key: Path
    receipt_chain: Path


def prepare_pki(pki_dir: Path) -> PreparedPki:
    """A fresh PKI, the demo cards, the demo kiosk's key and the records server's
    receipt signer (all generated now)."""
    issued = make_demo_set(pki_dir)
    pki = Pki.open_or_init(pki_dir)
    device = pki.issue_kiosk(KIOSK_NAME)
    signer = pki.issue_receipt_signer(RECEIPT_SIGNER_NAME)
    return PreparedPki(
        pki_dir,
        [i.path for i in issued],
        device.key_path,
        device.certificate_path,
        signer.key_path,
        signer.chain_path,
    )


def start(
    *,
    prepared: PreparedPki | None = None,
    reader: str = "demo",
    port: int = 8500,
    host: str = "127.0.0.1",
    online_port: int | None = None,
    directory: Path | None = None,
    kiosk_overrides: dict[str, Any] | None = None,
    server_overrides: dict[str, Any] | None = None,
    progress: Callable[[str], None] = lambda _m: None,
) -> RunningDemo:
    temp: tempfile.TemporaryDirectory[str] | None = None
    if directory is None:
        temp = tempfile.TemporaryDirectory(prefix="dmp-demo-")
        directory = Path(temp.name)
    directory.mkdir(parents=True, exist_ok=True)
    if prepared is None:
        progress("cartes de démonstration et PKI (clés générées maintenant)")
        prepared = prepare_pki(directory / "pki")
    pki_dir = prepared.directory

    progress("serveur du dossier médical (SQLite) et population de démonstration")
    settings = server_settings(
        {
            "DATABASE_URL": f"sqlite:///{directory / 'dmp.sqlite'}",
            "MASTER_KEY": "",
            "MASTER_KEY_FILE": str(directory / "master.key"),
            "PKI_DIR": str(pki_dir),
            "RECEIPT_SIGNER_KEY_FILE": str(prepared.receipt_key),
            "RECEIPT_SIGNER_CHAIN_FILE": str(prepared.receipt_chain),
            **(server_overrides or {}),
        }
    )
    upgrade(settings["DATABASE_URL"])
    from server.demo import seed

    seed(settings)
    rt = build_runtime(settings)
    with rt.sessions() as session:
        kiosk_identity.register(
            rt.ctx(session), rt.trust, KIOSK_NAME, prepared.kiosk_certificate.read_bytes()
        )
        online_key = _register_online(rt.ctx(session))
        session.commit()

    server_app = create_app(settings)
    server_http = _serve(server_app, "127.0.0.1", 0, "dmp-server", join=True)
    server_url = f"http://127.0.0.1:{server_http.server_port}"

    inbox = DemoInbox()
    stop_worker = threading.Event()
    from server import worker

    background: list[threading.Thread] = []

    def in_background(target: Any, *args: Any, name: str, **kwargs: Any) -> None:
        """One of the worker's loops, as `dmp worker` runs them; each is joined before
        the pools are disposed (a loop still holding a connection would leave it to the
        garbage collector)."""
        thread = threading.Thread(
            target=target, args=(*args, stop_worker), kwargs=kwargs, name=name, daemon=True
        )
        thread.start()
        background.append(thread)

    in_background(worker.run, rt, {"email": inbox, "sms": inbox}, name="dmp-outbox",
                  poll_seconds=0.3)  # fmt: skip
    from server import ocr_worker
    from server.export import jobs as exports
    from server.search import indexer
    from server.services import trace_log

    # Scans and photographs get their text, new documents are indexed for search, and
    # the trace reaches its verifiable log within a second, as with `dmp worker`.
    in_background(ocr_worker.run, rt, name="dmp-ocr", poll_seconds=0.5)
    in_background(indexer.run, rt, name="dmp-index", poll_seconds=0.5)
    in_background(exports.run, rt, name="dmp-export", poll_seconds=0.5)
    in_background(
        trace_log.loop,
        rt,
        name="dmp-log",
        poll_seconds=float(rt.settings["LOG_SEQUENCE_SECONDS"]),
    )
    from server.alerts import scan as alert_rules

    # Unusual accesses reach the privacy officer's queue right after the log (docs/alerts.md).
    in_background(
        alert_rules.loop,
        rt,
        name="dmp-alerts",
        poll_seconds=float(rt.settings["LOG_SEQUENCE_SECONDS"]),
    )

    progress("borne et lecteurs de démonstration")
    key = serialization.load_pem_private_key(prepared.kiosk_key.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise RuntimeError("the demo kiosk key must be an EC key")
    kiosk_settings = config.load_settings(
        {
            "READER": reader,
            "KIOSK_NAME": KIOSK_NAME,
            "SERVER_URL": server_url,
            "HOST": host,
            "PORT": port,
            # The log key as an installer would give it (`dmp audit log-key`).
            "LOG_KEY": trace_log.signer(rt.keyring, rt.settings["LOG_ORIGIN"]).verifier.vkey(),
            "LOG_ORIGIN": rt.settings["LOG_ORIGIN"],
            **(kiosk_overrides or {}),
        }
    )
    readers: CardReaders
    demo_readers: DemoReaders | None = None
    if reader == "pcsc":
        readers = PcscReaders()  # the cards come through pcscd (vpcd, or real readers)
    else:
        readers = demo_readers = DemoReaders()
    cards: dict[str, Any] = {}
    for path in prepared.cards:
        card = cardfile.load(path)  # in memory: PIN counters never touch the files
        labels = {lang: card_label(card, lang) for lang in ("fr", "en")}
        cards[path.stem] = (labels, VirtualCard(card))
    client = ServerClient(
        server_url, KIOSK_NAME, key, timeout=float(kiosk_settings["SERVER_TIMEOUT_SECONDS"])
    )
    terminal = Terminal(
        readers,
        client,
        idle_seconds=float(kiosk_settings["IDLE_SECONDS"]),
        warn_seconds=float(kiosk_settings["IDLE_WARNING_SECONDS"]),
    )
    kit = DemoKit(demo_readers, cards, inbox)
    app = create_kiosk_app(terminal, kiosk_settings, demo=kit)
    terminal.start()
    kiosk_http = _serve(app, host, port, "dmp-kiosk")

    progress("espace patient en ligne")
    from kiosk.online import create_online_app

    online_client = ServerClient(
        server_url, ONLINE_NAME, online_key, timeout=float(kiosk_settings["SERVER_TIMEOUT_SECONDS"])
    )
    online_app = create_online_app(online_client, kiosk_settings, demo=DemoKit(None, {}, inbox))
    online_visits = online_app.extensions["online_visits"]
    online_visits.start()
    if online_port is None:  # beside the kiosk; a busy port must not stop the demo
        online_port = port + 1 if port and _free(host, port + 1) else 0
    online_http = _serve(online_app, host, online_port, "dmp-online")

    running = RunningDemo(
        f"http://{host}:{kiosk_http.server_port}",
        server_url,
        terminal,
        kit,
        directory,
        online_url=f"http://{host}:{online_http.server_port}",
        online_app=online_app,
        server_app=server_app,
        server_http=server_http,
    )

    def stop_worker_thread() -> None:
        stop_worker.set()
        for thread in background:
            thread.join(10)

    # Run in reverse: the kiosk first (it still talks to the server as it clears), then
    # the server and its worker, then the pools, once nothing holds a connection.
    running._stops = [
        server_app.extensions["dmp"].engine.dispose,
        rt.engine.dispose,
        stop_worker_thread,
        running.stop_server,
        terminal.stop,
        kiosk_http.shutdown,
        online_visits.stop,
        online_http.shutdown,
    ]
    if temp is not None:
        running._stops.insert(0, temp.cleanup)
    return running
