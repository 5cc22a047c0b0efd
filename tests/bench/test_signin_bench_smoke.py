"""The sign-in bench's smoke run: keeps `bench/signin_bench.py` working (figures mean
nothing here: a few dozen sign-ins on a temporary SQLite file)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_signin_bench_smoke_runs_clean(tmp_path: Path) -> None:
    out = tmp_path / "signin.json"
    # The smoke run makes its own PKI, database and key: no DMP_* setting leaks in.
    env = {k: v for k, v in os.environ.items() if not k.startswith("DMP_")}
    proc = subprocess.run(
        [sys.executable, "-m", "bench.signin_bench", "--smoke", "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(out.read_text())
    assert report["iterations"] == 30
    for part in ("server_signin", "raw_verify"):
        stats = report[part]
        assert stats["p99_ms"] >= stats["median_ms"] > 0, part
    # The server does at least the card's signature check, and more.
    assert report["server_signin"]["median_ms"] > report["raw_verify"]["median_ms"]
    assert "added by the server" in proc.stdout
