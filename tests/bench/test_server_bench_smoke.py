"""The server bench's smoke run: keeps `bench/` working without running a benchmark.

A tiny population in a temporary SQLite file, gunicorn on a free port, every scenario for
a second or two; what is checked is that everything runs clean, not the figures.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.server_bench import SCENARIOS

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_server_bench_smoke_runs_every_scenario_without_error(tmp_path: Path) -> None:
    out = tmp_path / "smoke.json"
    # The smoke run makes its own database and key: no DMP_* setting of the caller leaks in.
    env = {k: v for k, v in os.environ.items() if not k.startswith("DMP_")}
    proc = subprocess.run(
        [sys.executable, "-m", "bench.server_bench", "--smoke", "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(out.read_text())
    results = {r["scenario"]: r for r in report["results"]}
    assert set(results) == set(SCENARIOS)
    for name, result in results.items():
        assert result["errors"] == 0, (name, result["error_samples"])
        assert result["requests"] > 0, name
        assert result["throughput_rps"] > 0, name
        assert result["p99_ms"] >= result["p50_ms"] > 0, name
    assert results["baseline"]["ratio_to_baseline"] == pytest.approx(1.0)
    # The ceiling serves a body the size of a real listing (captured from the server).
    assert results["baseline"]["mean_body_bytes"] > 1000
