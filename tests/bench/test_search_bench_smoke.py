"""The search bench's smoke run: keeps `bench/search_bench.py` working (figures mean
nothing here: 40 documents on a temporary SQLite file)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bench.smoke import run_smoke


@pytest.mark.slow
def test_search_bench_smoke_runs_clean(tmp_path: Path) -> None:
    report, stdout = run_smoke("bench.search_bench", tmp_path / "search.json")
    assert (report["documents"], report["listed"], report["iterations"]) == (40, 40, 24)
    for part in ("listing", "search"):
        stats = report[part]
        assert stats["p99_ms"] >= stats["median_ms"] > 0, part
    returned = {name: q["returned"] for name, q in report["per_query"].items()}
    # The generated text is French clinical writing: a frequent word is in most
    # documents, two words in fewer, and every search answers within the listing.
    assert 0 < returned["two words"] <= returned["frequent word"] <= 40
    assert report["index"]["postings_per_document"] > 100
    same = report["deposit_same_run"]
    assert same["with_index"]["median_ms"] > 0
    assert same["without_index"]["median_ms"] > 0
    assert "search p99 / listing p99" in stdout
