"""The `dmp` command: the server's, the kiosk's and the card tools' commands in one group,
and `dmp demo`, which runs them all in one process."""

from __future__ import annotations

from pathlib import Path

import click

from cardreader.emulator.cli import card, pki
from kiosk.cli import kiosk, wait_for_signal
from server.cli import main as server_commands


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="dmp-kiosk")
def main() -> None:
    """dmp-kiosk: records server, kiosk and card tools."""


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
    from dmp.demo import ONLINE_PASSWORD, start

    def progress(step: str) -> None:
        click.echo(f"… {step}", err=True)

    try:
        running = start(port=port, host=host, directory=data_dir, progress=progress)
    except OSError as exc:
        raise click.ClickException(f"cannot start the demo: {exc.strerror or exc}") from None
    click.echo(f"Borne de démonstration : {running.kiosk_url}/?demo=1")
    click.echo(f"Espace patient en ligne : {running.online_url}/ (Marie DURAND : INS")
    click.echo(f"  255081416802538, mot de passe {ONLINE_PASSWORD}, code dans le panneau « Démo »)")
    click.echo(f"Serveur du dossier médical : {running.server_url}/openapi.json")
    click.echo("Ouvrez la borne dans un navigateur ; le panneau « Démo » en bas de page insère")
    click.echo("et retire les cartes (PIN 1234, PUK 12345678). Ctrl-C pour arrêter.")
    try:
        wait_for_signal()
    finally:
        running.stop()


for command in (*server_commands.commands.values(), pki, card, kiosk, demo):
    main.add_command(command)
