"""`dmp server`, `dmp db ...` and `dmp audit ...`."""

from __future__ import annotations

import sys
from typing import Any

import click

from server.config import load_settings
from server.witness_cli import witness_command

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
    from server.crypto import KeyMaterialError
    from server.http_log import PathOnlyRequestHandler
    from server.migrate import require_current
    from server.receipt_signer import ReceiptSignerError

    settings = _settings(db_url)
    require_current(settings["DATABASE_URL"])
    try:
        app = create_app(settings)
    except (KeyMaterialError, ReceiptSignerError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"dmp records server on http://{host}:{port}/ (API under /api/v1, spec at /openapi.json)"
    )
    app.run(host=host, port=port, threaded=True, request_handler=PathOnlyRequestHandler)


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
    from server.receipt_signer import ReceiptSignerError

    try:
        report = seed(_settings(db_url), if_empty=if_empty)
    except ReceiptSignerError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(report)


@db.command("seed-directory")
@DB_OPTION
@click.argument("extract", type=click.Path(exists=True, dir_okay=False), required=False)
def seed_directory(db_url: str | None, extract: str | None) -> None:
    """Load a professionals directory extract (CSV, `;`, header national_id;last_name;
    first_name;profession;establishment;town; default: the demo's config/directory-demo.csv),
    idempotently, and bring every professional the server knows into the directory."""
    from pathlib import Path

    from server.app import build_runtime
    from server.errors import InvalidInput
    from server.services import directory

    rt = build_runtime(_settings(db_url))
    try:
        text = Path(extract).read_text(encoding="utf-8") if extract else directory.demo_extract()
        with rt.sessions() as session:
            try:
                found = directory.load(rt.ctx(session), text)
            except InvalidInput as exc:
                raise click.ClickException(exc.message) from None
            session.commit()
    finally:
        rt.engine.dispose()
    click.echo(
        f"directory: {found.added} added, {found.updated} updated, "
        f"{found.known} professionals of this server"
    )


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
    """Purge closed dossiers past retention, and those whose deletion was requested
    (the older name of `dmp retention run`, kept for existing scripts)."""
    from server.purge import purge_due

    count = purge_due(_settings(db_url))
    click.echo(f"{count} dossier(s) purged")


@click.group()
def retention() -> None:
    """Closed dossiers: kept 10 years, deleted on request (docs/retention.md)."""


@retention.command("run")
@DB_OPTION
@click.option("--quiet", is_flag=True, help="Print the summary line only.")
def retention_run(db_url: str | None, quiet: bool) -> None:
    """Purge (crypto-shred) what is due: deletions asked for, closures past retention.
    Idempotent, resumable, safe from several hosts at once; run it daily."""
    from server.app import build_runtime
    from server.migrate import require_current
    from server.retention import run

    settings = _settings(db_url)
    require_current(settings["DATABASE_URL"])
    rt = build_runtime(settings)
    try:
        summary = run(rt, None if quiet else click.echo)
    finally:
        rt.engine.dispose()
    click.echo(summary.line())


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


@audit.command("log-key")
@DB_OPTION
def log_key(db_url: str | None) -> None:
    """Print the verifiable log's verifier key, to give kiosks and witnesses out of band
    (their LOG_KEY): they check checkpoints against it, not against what the server says."""
    from server.app import build_runtime
    from server.services import trace_log

    settings = _settings(db_url)
    rt = build_runtime(settings)
    try:
        click.echo(trace_log.signer(rt.keyring, settings["LOG_ORIGIN"]).verifier.vkey())
    finally:
        rt.engine.dispose()


@audit.command("log")
@DB_OPTION
@click.option("--catch-up", is_flag=True, help="Look at every trace entry, not the recent ones.")
def log_sequence(db_url: str | None, catch_up: bool) -> None:
    """Append the trace entries not yet in the verifiable log, sign its checkpoint."""
    from server.app import build_runtime
    from server.migrate import require_current
    from server.services import trace_log

    settings = _settings(db_url)
    require_current(settings["DATABASE_URL"])
    rt = build_runtime(settings)
    try:
        added, size = trace_log.run(rt, catch_up=catch_up)
    finally:
        rt.engine.dispose()
    click.echo(f"{added} entr{'y' if added == 1 else 'ies'} added; the log holds {size}")


audit.add_command(witness_command)


@click.command()
@DB_OPTION
@click.option("--once", is_flag=True, help="Deliver and read what is due now, then exit.")
@click.option("--poll", "poll_seconds", default=2.0, show_default=True, type=float)
def worker(db_url: str | None, once: bool, poll_seconds: float) -> None:
    """Deliver the outbox (e-mail, SMS), read scans (OCR), index new documents for search
    and log the trace; stops cleanly on SIGTERM."""
    import logging

    from server.app import build_runtime
    from server.delivery import senders_from_settings
    from server.migrate import require_current
    from server.worker import serve

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = _settings(db_url)
    require_current(settings["DATABASE_URL"])
    rt = build_runtime(settings)
    try:
        done = serve(rt, senders_from_settings(settings), poll_seconds=poll_seconds, once=once)
    finally:
        rt.engine.dispose()
    click.echo(
        f"{done.sent} message(s) delivered, {done.read} document(s) read by OCR, "
        f"{done.indexed} document(s) indexed, {done.exported} export(s) built, "
        f"{done.logged} trace entr{'y' if done.logged == 1 else 'ies'} logged, "
        f"{done.flagged} access(es) flagged for review"
    )


@click.group("kiosk-admin")
def kiosk_admin() -> None:
    """Kiosk identities on the records server (register; revoke and list any terminal)."""


@kiosk_admin.command("register")
@DB_OPTION
@click.option("--pki", "pki_dir", metavar="DIR", help="Trust anchors (default: PKI_DIR).")
@click.argument("cert_pem", type=click.Path(exists=True, dir_okay=False))
@click.argument("name")
def kiosk_register(db_url: str | None, pki_dir: str | None, cert_pem: str, name: str) -> None:
    """Pin the kiosk certificate CERT_PEM under NAME, once it chains to the kiosk CA."""
    from pathlib import Path

    from sqlalchemy.exc import IntegrityError

    from server.app import build_runtime
    from server.signin.events import SigninFailure
    from server.signin.kiosk_identity import register
    from server.trust import PkiUnavailable, TrustStore

    settings = _settings(db_url)
    if pki_dir:
        settings["PKI_DIR"] = pki_dir
    rt = build_runtime(settings)
    try:
        with rt.sessions() as session:
            register(
                rt.ctx(session), TrustStore(settings["PKI_DIR"]), name, Path(cert_pem).read_bytes()
            )
            session.commit()
    except SigninFailure as failure:
        raise click.ClickException(f"certificate refused: {failure.reason}") from None
    except PkiUnavailable:
        raise click.ClickException(f"no PKI in {settings['PKI_DIR']}") from None
    except IntegrityError:
        raise click.ClickException("this name or certificate is already registered") from None
    except ValueError:
        raise click.ClickException(f"{cert_pem} is not a PEM certificate") from None
    finally:
        rt.engine.dispose()
    click.echo(f"kiosk {name} registered")
