"""The one-time code bench's smoke run: it runs clean; the figures are not checked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_otp_bench_smoke_reports_both_measurements(tmp_path: Path) -> None:
    out = tmp_path / "otp.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DMP_")}
    proc = subprocess.run(
        [sys.executable, "-m", "bench.otp_bench", "--smoke", "--json", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(out.read_text())
    for key in ("raw_pyotp_verify", "server_check"):
        assert report[key]["n"] == 20
        assert report[key]["median_us"] > 0
        assert report[key]["p99_us"] >= report[key]["median_us"]
