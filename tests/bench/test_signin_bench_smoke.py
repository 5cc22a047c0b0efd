"""The sign-in bench's smoke run: keeps `bench/signin_bench.py` working (figures mean
nothing here: a few dozen sign-ins on a temporary SQLite file)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bench.smoke import run_smoke


@pytest.mark.slow
def test_signin_bench_smoke_runs_clean(tmp_path: Path) -> None:
    report, stdout = run_smoke("bench.signin_bench", tmp_path / "signin.json")
    assert report["iterations"] == 30
    for part in (
        "server_signin",
        "challenge_request",
        "signin_request",
        "raw_verify",
        "empty_request",
    ):
        stats = report[part]
        assert stats["p99_ms"] >= stats["median_ms"] > 0, part
    # The server does at least the card's signature check, and more.
    assert report["server_signin"]["median_ms"] > report["raw_verify"]["median_ms"]
    assert report["signin_request"]["median_ms"] < report["server_signin"]["median_ms"]
    assert report["added_in_verifies"] > 0
    assert "added by the server" in stdout
