"""The purge bench's smoke run: keeps `bench/retention_bench.py` working (figures mean
nothing here: 5 dossiers on a temporary SQLite file)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bench.smoke import run_smoke


@pytest.mark.slow
def test_retention_bench_smoke_runs_clean(tmp_path: Path) -> None:
    report, _stdout = run_smoke("bench.retention_bench", tmp_path / "retention.json")
    assert (report["dossiers"], report["keys_destroyed"]) == (5, 5)
    assert report["purge_ms_per_dossier"] > 0
    assert report["second_run_s"] < report["purge_s"]
