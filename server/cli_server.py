"""`dmp server`, `dmp db ...` and `dmp audit ...`."""

from __future__ import annotations

import sys
from typing import Any

import click

from server.config import load_settings

DB_OPTION = click.option("--db", "db_url", metavar="URL", help="Database URL (default: settings).")


def _settings(db_url: str | None) -> dict[str, Any]:
    return load_settings({"DATABASE_URL": db_url} if db_url else None)


@click.command()
@DB_OPTION
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8400, show_default=True, type=int)
def server(db_url: str | None, host: str, port: int) -> None:
    """Run the records server (development server; see README for gunicorn)."""
    from server.app import create_app
    from server.migrate import require_current

    settings = _settings(db_url)
    require_current(settings["DATABASE_URL"])
    app = create_app(settings)
    click.echo(
        f"dmp records server on http://{host}:{port}/ (API under /api/v1, spec at /openapi.json)"
    )
    app.run(host=host, port=port, threaded=True)


@click.group()
def db() -> None:
    """Database schema and demo data."""


@db.command()
@DB_OPTION
def upgrade(db_url: str | None) -> None:
    """Apply the Alembic migrations up to the latest."""
    from server.migrate import upgrade as do_upgrade

    url = _settings(db_url)["DATABASE_URL"]
    do_upgrade(url)
    click.echo("database schema is up to date")


@db.command("seed-demo")
@DB_OPTION
@click.option("--if-empty", is_flag=True, help="Do nothing when the database already has patients.")
def seed_demo(db_url: str | None, if_empty: bool) -> None:
    """Load a small demo population with some activity (documents, accesses, traces)."""
    from server.demo import seed

    report = seed(_settings(db_url), if_empty=if_empty)
    click.echo(report)


@db.command("demo-session")
@DB_OPTION
@click.argument("who")
def demo_session(db_url: str | None, who: str) -> None:
    """Open a session for a demo actor (patient INS or professional national id) and
    print its bearer token. Needs direct database access: an operator tool, not an API."""
    from server.demo import open_demo_session

    click.echo(open_demo_session(_settings(db_url), who))


@db.command()
@DB_OPTION
def purge(db_url: str | None) -> None:
    """Purge closed dossiers past retention, and those whose deletion was requested."""
    from server.purge import purge_due

    count = purge_due(_settings(db_url))
    click.echo(f"{count} dossier(s) purged")


@click.group()
def audit() -> None:
    """The tamper-evident trace."""


@audit.command()
@DB_OPTION
def verify(db_url: str | None) -> None:
    """Check every trace chain; exit 1 naming the first broken link of each broken chain."""
    from server.audit_cli import verify_all

    ok = verify_all(_settings(db_url), echo=click.echo)
    sys.exit(0 if ok else 1)
