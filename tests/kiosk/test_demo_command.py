"""`dmp demo`, the README's main command, as a new user runs it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from click.testing import CliRunner

from dmp.cli import main


def test_dmp_demo_serves_the_kiosk_and_cleans_up(tmp_path: Path) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    process = subprocess.Popen(
        [sys.executable, "-c", "from dmp.cli import main; main()", "demo", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        found = re.search(r"(http://127\.0\.0\.1:\d+)/\?demo=1", line)
        assert found, line
        with urllib.request.urlopen(found.group(1) + "/?demo=1", timeout=10) as page:  # noqa: S310
            html = page.read().decode()
        assert "Insérez votre carte Vitale" in html
        assert "Carte Vitale · Marie DURAND" in html  # the demo panel and its cards
        assert list(tmp_path.glob("dmp-demo-*"))  # its keys live in a private temp dir
        # A search's words are health content: logged, the request keeps its path only.
        try:
            urllib.request.urlopen(found.group(1) + "/patient/documents/search?q=hypertension")  # noqa: S310
        except urllib.error.HTTPError:
            pass  # no patient signed in: refused, and logged all the same
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=20)  # also closes the pipes
    assert process.returncode == 0
    assert "/patient/documents/search" in err
    assert "hypertension" not in err
    assert not list(tmp_path.glob("dmp-demo-*"))  # and leave with it


def test_dmp_kiosk_without_identity_says_what_is_missing() -> None:
    result = CliRunner().invoke(
        main, ["kiosk", "--reader", "demo"], env={"DMP_KIOSK_KIOSK_NAME": ""}
    )
    assert result.exit_code != 0
    assert "KIOSK_NAME is not set" in result.output
