"""`dmp pki ...` and `dmp card ...`: thin click wrappers over cardreader modules."""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

import click
from cryptography import x509

from ..identity import ProfessionalIdentity
from ..profile import PIN_LENGTH, PUK_LENGTH, CardKind
from . import cardfile
from .demo import DEMO_PIN, DEMO_PUK, make_demo_set, random_code
from .pki import Pki, PkiError, load_certificate_file

_DIR = click.Path(file_okay=False, path_type=Path)
_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.group()
def pki() -> None:
    """Test PKI: CA hierarchy, card issuing, revocation, CRLs."""


@pki.command("init")
@click.argument("directory", type=_DIR)
def pki_init(directory: Path) -> None:
    """Create the TEST CA hierarchy, its certificates and CRLs under DIRECTORY."""
    try:
        Pki.init(directory)
    except PkiError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"TEST PKI created in {directory} (root, patient, professional, kiosk, server CAs)")


@pki.command("issue-card")
@click.argument("directory", type=_DIR)
@click.argument("identity_file", type=_FILE)
@click.argument("card_file", type=click.Path(dir_okay=False, path_type=Path))
def pki_issue_card(directory: Path, identity_file: Path, card_file: Path) -> None:
    """Issue a card for the holder in IDENTITY_FILE (JSON with "kind") into CARD_FILE.

    Professional cards get a random PIN and PUK, printed once here and stored only as
    salted hashes in the card file.
    """
    raw: dict[str, Any] = json.loads(identity_file.read_text(encoding="utf-8"))
    try:
        identity = cardfile.identity_from_json(CardKind(raw.pop("kind")), raw)
    except (KeyError, ValueError, TypeError) as exc:
        raise click.ClickException(f"bad identity file: {exc}") from exc
    authority = _open(directory)
    professional = isinstance(identity, ProfessionalIdentity)
    pin = random_code(PIN_LENGTH) if professional else None
    puk = random_code(PUK_LENGTH) if professional else None
    cardfile.save(authority.issue_card(identity, pin=pin, puk=puk), card_file)
    click.echo(f"card written to {card_file}")
    if professional:
        click.echo(f"PIN {pin}  PUK {puk}  (shown once, like a PIN mailer)")


@pki.command("issue-kiosk")
@click.argument("directory", type=_DIR)
@click.argument("name")
def pki_issue_kiosk(directory: Path, name: str) -> None:
    """Kiosk key and client certificate: DIRECTORY/kiosks/NAME.{key.pem,pem,chain.pem}."""
    issued = _open(directory).issue_kiosk(name)
    click.echo(f"kiosk certificate {issued.certificate_path}, key {issued.key_path}")


@pki.command("issue-server")
@click.argument("directory", type=_DIR)
@click.argument("name")
@click.option("--dns", "dns_names", multiple=True, help="Extra DNS subjectAltName.")
@click.option("--ip", "ip_addresses", multiple=True, help="IP subjectAltName.")
def pki_issue_server(
    directory: Path, name: str, dns_names: tuple[str, ...], ip_addresses: tuple[str, ...]
) -> None:
    """Server key and TLS certificate: DIRECTORY/servers/NAME.{key.pem,pem,chain.pem}."""
    issued = _open(directory).issue_server(name, dns_names=dns_names, ip_addresses=ip_addresses)
    click.echo(f"server certificate {issued.certificate_path}, key {issued.key_path}")


@pki.command("issue-receipt-signer")
@click.argument("directory", type=_DIR)
@click.argument("name", default="receipts")
def pki_issue_receipt_signer(directory: Path, name: str) -> None:
    """The records server's receipt signing key and certificate (document signing, not
    TLS): DIRECTORY/receipt-signers/NAME.{key.pem,pem,chain.pem}, the chain up to the root.
    Point RECEIPT_SIGNER_KEY_FILE and RECEIPT_SIGNER_CHAIN_FILE at them (docs/receipts.md)."""
    try:
        issued = _open(directory).issue_receipt_signer(name)
    except PkiError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"receipt signer chain {issued.chain_path}, key {issued.key_path}")


@pki.command("revoke")
@click.argument("directory", type=_DIR)
@click.argument("certificate_file", type=_FILE)
@click.option(
    "--reason",
    type=click.Choice([flag.value for flag in x509.ReasonFlags]),
    default=x509.ReasonFlags.unspecified.value,
)
def pki_revoke(directory: Path, certificate_file: Path, reason: str) -> None:
    """Revoke a card (card file) or a kiosk/server certificate (PEM); refresh its CRL."""
    try:
        certificate = load_certificate_file(certificate_file)
        crl = _open(directory).revoke(certificate, reason=x509.ReasonFlags(reason))
    except PkiError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"revoked serial {certificate.serial_number:x}; CRL published at {crl}")


@pki.command("crl")
@click.argument("directory", type=_DIR)
def pki_crl(directory: Path) -> None:
    """Publish fresh CRLs for every CA (new number, new nextUpdate)."""
    for path in _open(directory).publish_crls():
        click.echo(str(path))


def _open(directory: Path) -> Pki:
    try:
        return Pki.open(directory)
    except PkiError as exc:
        raise click.ClickException(f"{exc} (run `dmp pki init {directory}` first)") from exc


@click.group()
def card() -> None:
    """Card files: demo set, virtual insertion through vpcd."""


@card.command("demo-set")
@click.argument("directory", type=_DIR)
@click.option("--random-pins", is_flag=True, help="Random PIN/PUK instead of the demo ones.")
def card_demo_set(directory: Path, random_pins: bool) -> None:
    """Issue the demo cards with the PKI in DIRECTORY (created if absent) into cards/."""
    for issued in make_demo_set(directory, random_pins=random_pins):
        line = f"{issued.path}"
        if issued.pin is not None and random_pins:
            line += f"  PIN {issued.pin}  PUK {issued.puk}"
        click.echo(line)
    if not random_pins:
        click.echo(f"DEMO professional cards: PIN {DEMO_PIN}, PUK {DEMO_PUK} (demo only)")
    click.echo(f"index: {directory / 'cards' / 'index.json'}")


@card.command("show")
@click.argument("card_file", type=_FILE)
def card_show(card_file: Path) -> None:
    """Print a card file's public content (identity, serial, PIN counters)."""
    loaded = _load_card(card_file)
    summary: dict[str, Any] = {
        "kind": loaded.kind.value,
        "serial": loaded.serial.hex().upper(),
        "identity": cardfile.identity_to_json(loaded.identity),
    }
    if loaded.pin is not None and loaded.puk is not None:
        summary["pin_tries_remaining"] = loaded.pin.tries_remaining
        summary["puk_tries_remaining"] = loaded.puk.tries_remaining
    click.echo(json.dumps(summary, indent=2, ensure_ascii=False))


@card.command("insert")
@click.option(
    "--reader",
    "slot",
    type=click.IntRange(0, 9),
    default=0,
    show_default=True,
    help="vpcd slot: 0 is 'Virtual PCD 00 00', 1 is 'Virtual PCD 00 01'.",
)
@click.option("--port-base", type=int, default=35963, show_default=True)
@click.argument("card_file", type=_FILE)
def card_insert(slot: int, port_base: int, card_file: Path) -> None:
    """Insert CARD_FILE into vpcd slot N until this command stops (Ctrl-C or SIGTERM)."""
    from .virtual import VirtualCard
    from .vpcd import VpcdBridge

    try:
        emulated = VirtualCard.from_file(card_file)
    except cardfile.CardFileError as exc:
        raise click.ClickException(str(exc)) from exc
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    bridge = VpcdBridge(emulated, slot, port_base=port_base)

    def announce(connected: bool) -> None:
        # Printed before pcscd can see the card, so a script reading stdout never races.
        if not stop.is_set():
            click.echo("card inserted" if connected else "waiting for pcscd/vpcd")
            sys.stdout.flush()

    bridge.on_change = announce
    click.echo(f"inserting {card_file.name} into vpcd slot {slot} (port {port_base + slot})")
    sys.stdout.flush()
    bridge.insert()
    while not stop.wait(0.5):
        pass
    bridge.stop()
    click.echo("card removed")


def _load_card(path: Path) -> cardfile.CardFile:
    try:
        return cardfile.load(path)
    except cardfile.CardFileError as exc:
        raise click.ClickException(str(exc)) from exc
