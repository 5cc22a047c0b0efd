"""`dmp terminal ...`: registered software terminals (issue #12).

A professional's record-keeping software, or the insurer's system, registered by an
operator with the public key its vendor generated; kiosks keep `dmp kiosk-admin
register` (their certificate comes from the kiosk CA). Both live in one registry, so
`list` and `revoke` name either, under either group.
"""

from __future__ import annotations

from pathlib import Path

import click

from server.cli_server import DB_OPTION, _settings, kiosk_admin

KINDS = ("software", "insurer", "online")


@click.group("terminal")
def terminal() -> None:
    """Registered software (professional software, the insurer's system) and kiosks."""


@terminal.command("register")
@DB_OPTION
@click.option("--kind", type=click.Choice(KINDS), required=True, help="What the software is.")
@click.option(
    "--public-key",
    "key_file",
    type=click.Path(exists=True, dir_okay=False),
    required=True,
    help="The vendor's ECDSA P-256 public key (PEM).",
)
@click.option("--account", help="insurer: the institutional identity it signs in as.")
@click.argument("name")
def register(db_url: str | None, kind: str, key_file: str, account: str | None, name: str) -> None:
    """Pin the public key of software NAME (the name it sends in X-DMP-Kiosk)."""
    from sqlalchemy.exc import IntegrityError

    from server.app import build_runtime
    from server.signin.kiosk_identity import RegistrationRefused, TerminalKind, register_software

    rt = build_runtime(_settings(db_url))
    try:
        with rt.sessions() as session:
            terminal = register_software(
                rt.ctx(session), name, TerminalKind(kind), Path(key_file).read_bytes(), account
            )
            fingerprint = terminal.cert_sha256
            session.commit()
    except RegistrationRefused as refused:
        raise click.ClickException(str(refused)) from None
    except IntegrityError:
        raise click.ClickException("this name or key is already registered") from None
    finally:
        rt.engine.dispose()
    click.echo(f"{kind} {name} registered, key SHA-256 {fingerprint}")


# Kiosks and software share one registry: `dmp kiosk-admin list|revoke` are these same
# commands under the kiosk operator's group (only registration differs, by certificate).


@click.command("revoke")
@DB_OPTION
@click.argument("name")
def revoke(db_url: str | None, name: str) -> None:
    """Refuse every request of terminal NAME from now on; end its sessions."""
    from server.app import build_runtime
    from server.signin import kiosk_identity

    rt = build_runtime(_settings(db_url))
    try:
        with rt.sessions() as session:
            ended = kiosk_identity.revoke(rt.ctx(session), name)
            if ended is None:
                raise click.ClickException(f"no terminal named {name}")
            session.commit()
    finally:
        rt.engine.dispose()
    click.echo(f"terminal {name} revoked, {ended} session(s) ended")


@click.command("list")
@DB_OPTION
def list_terminals(db_url: str | None) -> None:
    """Registered terminals: name, kind, key or certificate SHA-256, state."""
    from sqlalchemy import select

    from server.app import build_runtime
    from server.models import Kiosk

    rt = build_runtime(_settings(db_url))
    try:
        with rt.sessions() as session:
            for row in session.scalars(select(Kiosk).order_by(Kiosk.name)):
                state = "revoked" if row.revoked_at else "active"
                click.echo(f"{row.name}\t{row.kind}\t{row.cert_sha256}\t{state}")
    finally:
        rt.engine.dispose()


for command in (revoke, list_terminals):
    terminal.add_command(command)
    kiosk_admin.add_command(command)
