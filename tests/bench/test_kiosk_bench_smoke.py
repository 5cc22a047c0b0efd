"""The kiosk bench's smoke run: the embedded demo and Debian's Chromium for one warm-up
and two rounds. It checks that every measure comes out, positive and finite, once a
round; the figures themselves are not checked (no timing assertion)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tests.bench.smoke import run_smoke

ROUNDS = 2  # what --smoke runs


@pytest.mark.slow
def test_kiosk_bench_smoke_measures_every_step(tmp_path: Path) -> None:
    if not Path("/usr/bin/chromium").exists():
        pytest.fail("Debian's chromium is missing: scripts/test installs it")
    report, stdout = run_smoke("bench.kiosk_bench", tmp_path / "kiosk.json", timeout=300)
    assert report["rounds"] == ROUNDS
    assert report["warmup"] == 1
    measures = report["measures"]
    assert report["baseline"] in measures
    for key in ("pro_total", "patient_total", "tap_deposit_submit", "tap_home_history"):
        assert key in measures
    for key, stats in measures.items():
        assert stats["count"] == ROUNDS, key
        for figure in ("median_ms", "p95_ms", "p99_ms", "max_ms", "ratio_median"):
            assert math.isfinite(stats[figure]), (key, figure)
            assert stats[figure] > 0, (key, figure)
        assert stats["max_ms"] >= stats["p95_ms"] >= stats["median_ms"], key
    # A round's total is the sum of its two waits.
    pro = measures["pro_total"]
    assert (
        pro["max_ms"]
        <= measures["pro_insert_pin"]["max_ms"] + measures["pro_submit_home"]["max_ms"] + 1e-6
    )
    taps = [m for m in measures.values() if m["group"] == "tap"]
    assert report["taps_pooled"]["count"] == ROUNDS * len(taps)
    assert isinstance(report["targets"]["pro_signin_met"], bool)
    assert "target tap -> next page" in stdout
