"""The server bench's smoke run: keeps `bench/` working without running a benchmark.

A tiny population in a temporary SQLite file, gunicorn on a free port, every scenario for
a second or two; what is checked is that everything runs clean, not the figures.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.server_bench import SCENARIOS
from tests.bench.smoke import run_smoke


@pytest.mark.slow
def test_server_bench_smoke_runs_every_scenario_without_error(tmp_path: Path) -> None:
    report, _ = run_smoke("bench.server_bench", tmp_path / "smoke.json")
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
    # The deposit comparison: the 10-page PDF against both text documents.
    pairs = {tuple(p["pair"]): p for p in report["deposit_ratios"]}
    assert set(pairs) == {("deposit_pdf10", "deposit_text"), ("deposit_pdf10", "deposit_text10")}
    for pair in pairs.values():
        assert pair["p50_ratio"] > 0
        assert pair["p99_ratio"] > 0
    sizes = report["deposit_request_bytes"]
    assert sizes["deposit_pdf10"] > 5 * sizes["deposit_text"]
