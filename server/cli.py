"""The records server's own commands, gathered by the `dmp` command (dmp/cli.py)."""

from __future__ import annotations

import click

from server.cli_server import audit, db, kiosk_admin, retention, server, worker
from server.cli_terminal import terminal


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """The records server: its database, trace, outbox worker, kiosk and software registry."""


for command in (server, db, audit, retention, worker, kiosk_admin, terminal):
    main.add_command(command)
