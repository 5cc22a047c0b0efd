"""The OCR bench's smoke run: two one-page scans read by a real worker process with the
real Tesseract (the figures mean nothing here; that the texts are ready and right does)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bench.smoke import run_smoke


@pytest.mark.slow
def test_ocr_bench_smoke_reads_every_page(tmp_path: Path) -> None:
    report, stdout = run_smoke("bench.ocr_bench", tmp_path / "ocr.json")
    assert (report["documents"], report["pages"], report["workers"]) == (2, 2, 1)
    assert report["statuses"] == {"ready": 2}
    assert report["ready"] == 2
    assert report["pages_per_second"] > 0
    assert report["word_recall"] > 0.9  # read, not guessed
    assert "pages/s" in stdout
