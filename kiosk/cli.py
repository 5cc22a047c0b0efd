"""`dmp kiosk`: a kiosk on real readers (the `dmp` command gathers it, dmp/cli.py)."""

from __future__ import annotations

import signal
import threading
from types import FrameType

import click


def wait_for_signal() -> None:
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        del signum, frame
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)
    stop.wait()


@click.command("kiosk")
@click.option(
    "--reader",
    type=click.Choice(["pcsc", "demo"]),
    help="Card readers: pcsc (through pcscd) or demo (in-process). Default: READER setting.",
)
@click.option(
    "--online",
    is_flag=True,
    help="Serve the patients' online space instead (no card reader, many browsers, "
    "sign-in with INS, password and a one-time code; docs/online.md).",
)
def kiosk(reader: str | None, online: bool) -> None:
    """A kiosk: pages on HOST:PORT, cards through pcscd, every call to SERVER_URL.

    Settings come from DMP_KIOSK_* variables or the TOML file DMP_KIOSK_CONFIG names
    (see config/kiosk.example.toml)."""
    from kiosk.runner import RunningKiosk, RunningOnline, run, run_online

    overrides = {"READER": reader} if reader else {}
    running: RunningKiosk | RunningOnline
    try:
        running = run_online(overrides) if online else run(overrides)
    except (ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{'Espace en ligne' if online else 'Borne'} : {running.url}")
    try:
        wait_for_signal()
    finally:
        running.stop()
