"""The one-time code bench's smoke run: it runs clean; the figures are not checked."""

from __future__ import annotations

from pathlib import Path

from tests.bench.smoke import run_smoke


def test_otp_bench_smoke_reports_both_measurements(tmp_path: Path) -> None:
    report, _ = run_smoke("bench.otp_bench", tmp_path / "otp.json", out_flag="--json", timeout=120)
    for key in ("raw_pyotp_verify", "server_check", "raw_ecdsa_verify", "durable_commit"):
        assert report[key]["n"] == 20
        assert report[key]["median_us"] > 0
        assert report[key]["p99_us"] >= report[key]["median_us"]
    assert report["added_in_verifies"] > 0
