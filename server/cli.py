"""The records server's own commands, gathered by the `dmp` command (dmp/cli.py)."""

from __future__ import annotations

import click

from server.cli_server import audit, db, kiosk_admin, retention, server, worker


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """The records server: its database, trace, outbox worker and kiosk registry."""


for command in (server, db, audit, retention, worker, kiosk_admin):
    main.add_command(command)
