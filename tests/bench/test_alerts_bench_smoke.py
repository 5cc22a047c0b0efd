"""The alerts bench runs clean on a small SQLite database; its figures are not checked."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.bench.smoke import ROOT


def test_alerts_bench_smoke(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DMP_")}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.alerts_bench",
            "--db",
            f"sqlite:///{tmp_path / 'bench.sqlite'}",
            "--entries",
            "30",
            "--rounds",
            "5",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "rules: 35 entries" in proc.stdout
    assert "history page (200 lines, reviews joined)" in proc.stdout
