"""`dmp kiosk` (a kiosk on real readers) and `dmp demo` (everything in one process)."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType

import click


def _wait_for_signal() -> None:
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        del signum, frame
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)
    stop.wait()


@click.command("demo")
@click.option("--port", default=8500, show_default=True, help="The kiosk's port.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep the demo's PKI, cards and database here (default: a temporary directory "
    "removed at exit).",
)
def demo(port: int, host: str, data_dir: Path | None) -> None:
    """The embedded demo: records server (SQLite), demo data, demo cards and the kiosk
    with two in-process readers. No pcscd needed."""
    from kiosk.demo import start

    def progress(step: str) -> None:
        click.echo(f"… {step}", err=True)

    try:
        running = start(port=port, host=host, directory=data_dir, progress=progress)
    except OSError as exc:
        raise click.ClickException(f"cannot start the demo: {exc.strerror or exc}") from None
    click.echo(f"Borne de démonstration : {running.kiosk_url}/?demo=1")
    click.echo(f"Serveur du dossier médical : {running.server_url}/openapi.json")
    click.echo("Ouvrez la borne dans un navigateur ; le panneau « Démo » en bas de page insère")
    click.echo("et retire les cartes (PIN 1234, PUK 12345678). Ctrl-C pour arrêter.")
    try:
        _wait_for_signal()
    finally:
        running.stop()


@click.command("kiosk")
@click.option(
    "--reader",
    type=click.Choice(["pcsc", "demo"]),
    help="Card readers: pcsc (through pcscd) or demo (in-process). Default: READER setting.",
)
def kiosk(reader: str | None) -> None:
    """A kiosk: pages on HOST:PORT, cards through pcscd, every call to SERVER_URL.

    Settings come from DMP_KIOSK_* variables or the TOML file DMP_KIOSK_CONFIG names
    (see config/kiosk.example.toml)."""
    from kiosk.runner import run

    overrides = {"READER": reader} if reader else {}
    try:
        running = run(overrides)
    except (ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Borne : {running.url}")
    try:
        _wait_for_signal()
    finally:
        running.stop()
