"""OCR of scans and photographs with the real Tesseract (server/content/ocr.py): the text
comes back, and every bound holds (pixels, pages, time, stop)."""

from __future__ import annotations

import io
import threading
import time

import pytest
from PIL import Image
from pypdf import PdfReader

from server.content import ocr
from tests.server import scans

LIMITS = ocr.Limits(max_pages=10, max_pixels=40_000_000, seconds=60)


@pytest.fixture(scope="module", autouse=True)
def tesseract() -> None:
    assert ocr.tesseract_binary(), (
        "tesseract missing: apt-get install tesseract-ocr tesseract-ocr-fra"
    )


def words(text: str) -> str:
    return " ".join(text.split()).lower()


@pytest.mark.parametrize(
    ("fmt", "mime"), [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("TIFF", "image/tiff")]
)
def test_a_photograph_is_read_in_french(fmt: str, mime: str) -> None:
    read = ocr.read_text(scans.photo(fmt=fmt), mime, LIMITS)
    text = words(read.text)
    for expected in ("hypertension artérielle sévère", "amlodipine", "créatinine élevée"):
        assert expected in text
    assert (read.pages, read.truncated) == (1, False)


def test_a_scanned_pdf_is_read_page_by_page() -> None:
    body = scans.scanned_pdf([["Lettre de liaison", "Allergie à la pénicilline"], ["Page deux"]])
    assert PdfReader(io.BytesIO(body)).pages[0].extract_text() == ""  # no text layer
    read = ocr.read_text(body, "application/pdf", LIMITS)
    text = words(read.text)
    assert "allergie à la pénicilline" in text
    assert "page deux" in text
    assert text.index("pénicilline") < text.index("page deux")
    assert (read.pages, read.truncated) == (2, False)


def test_only_the_first_pages_are_read() -> None:
    body = scans.scanned_pdf([[f"Feuillet numéro {n}"] for n in range(1, 4)])
    read = ocr.read_text(body, "application/pdf", ocr.Limits(2, 40_000_000, 60))
    assert (read.pages, read.truncated) == (2, True)
    assert "feuillet numéro 2" in words(read.text)
    assert "3" not in read.text


def test_a_multi_page_tiff_is_bounded_too() -> None:
    frames = [scans.page([f"Feuille {n}"], (900, 200)) for n in (1, 2, 3)]
    out = io.BytesIO()
    frames[0].save(out, "TIFF", save_all=True, append_images=frames[1:])
    read = ocr.read_text(out.getvalue(), "image/tiff", ocr.Limits(2, 40_000_000, 60))
    assert (read.pages, read.truncated) == (2, True)
    assert "feuille 2" in words(read.text)


def test_an_image_above_the_pixel_limit_is_refused_before_decoding() -> None:
    out = io.BytesIO()
    Image.new("L", (4000, 3000), 255).save(out, "PNG")
    with pytest.raises(ocr.OcrError) as caught:
        ocr.read_text(out.getvalue(), "image/png", ocr.Limits(10, 4000 * 3000 - 1, 60))
    assert caught.value.reason == "too_many_pixels"


@pytest.mark.parametrize("size", [(12_000, 10_000), (20_000, 10_000)])
def test_a_decompression_bomb_is_an_error_not_a_warning(size: tuple[int, int]) -> None:
    # Pillow warns past 89 Mpx and refuses past twice that: both are refusals here, even
    # with our own pixel limit set out of the way. A few hundred kilobytes of PNG.
    out = io.BytesIO()
    Image.new("1", size, 1).save(out, "PNG")
    with pytest.raises(ocr.OcrError) as caught:
        ocr.read_text(out.getvalue(), "image/png", ocr.Limits(10, 10**12, 60))
    assert caught.value.reason == "unreadable_image"


def test_a_huge_pdf_page_is_rendered_smaller_not_refused() -> None:
    body = scans.scanned_pdf([["Radiographie du thorax"]])
    read = ocr.read_text(body, "application/pdf", ocr.Limits(10, 2_000_000, 60))
    assert "radiographie" in words(read.text)


@pytest.mark.parametrize(
    ("body", "mime", "reason"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "image/png", "unreadable_image"),
        (scans.photo(fmt="PNG"), "image/jpeg", "unreadable_image"),  # not what it claims
        (b"%PDF-1.7\n garbage", "application/pdf", "unreadable_pdf"),
    ],
)
def test_corrupt_content_is_an_ocr_error(body: bytes, mime: str, reason: str) -> None:
    with pytest.raises(ocr.OcrError) as caught:
        ocr.read_text(body, mime, LIMITS)
    assert (caught.value.reason, caught.value.permanent) == (reason, False)


def test_a_document_that_is_not_a_scan_is_a_permanent_error() -> None:
    with pytest.raises(ocr.OcrError) as caught:
        ocr.read_text(b"texte", "text/plain", LIMITS)
    assert caught.value.permanent


def test_the_deadline_stops_tesseract() -> None:
    body = scans.scanned_pdf([scans.REPORT] * 3)
    started = time.monotonic()
    with pytest.raises(ocr.OcrError) as caught:
        ocr.read_text(body, "application/pdf", ocr.Limits(10, 40_000_000, 0.3))
    assert caught.value.reason == "timeout"
    assert time.monotonic() - started < 5


def test_a_stop_request_cuts_tesseract_short() -> None:
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(ocr.OcrCancelled):
        ocr.read_text(
            scans.scanned_pdf([scans.REPORT] * 10), "application/pdf", LIMITS, cancel=cancel
        )
    assert time.monotonic() - started < 5
