"""The `dmp` command line: one root group, each package contributes its own groups."""

from __future__ import annotations

import click

from cardreader.emulator.cli import card, pki
from kiosk.cli import demo, kiosk
from server.cli_server import audit, db, kiosk_admin, server, worker


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="dmp-kiosk")
def main() -> None:
    """dmp-kiosk: records server, kiosk and card tools."""


for command in (server, db, audit, pki, card, worker, kiosk_admin, kiosk, demo):
    main.add_command(command)
