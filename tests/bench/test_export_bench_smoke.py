"""The export bench's smoke run: keeps `bench/export_bench.py` working (figures mean
nothing here: about 40 documents on a temporary SQLite file)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bench.smoke import run_smoke


@pytest.mark.slow
def test_export_bench_smoke_runs_clean(tmp_path: Path) -> None:
    report, stdout = run_smoke("bench.export_bench", tmp_path / "export.json")
    assert report["runs"] == 2
    assert report["exported_documents"] >= 30
    # Every exported document is in originals/ unless it has no stored content.
    assert report["originals"] == report["exported_documents"]
    s100 = report["seconds_per_100_documents"]
    assert s100["max"] >= s100["p95"] >= s100["median"] > 0
    assert report["pdf_pages"] > report["exported_documents"] // 2
    assert "per 100 documents" in stdout
