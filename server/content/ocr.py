"""Text from scanned documents and photographs: Tesseract, bounded, nothing on disk.

The image or each rendered PDF page goes to the `tesseract` binary (Debian's
tesseract-ocr with its French data) on stdin, and the text comes back on stdout: no
temporary file ever holds a patient's document. Python wrappers (pytesseract) write
the image to a temporary file first, so the binary is called directly.

Every read is bounded, since the bytes come from patients' phones and scanners:
- pixels: an image or a page above `max_pixels` is refused (an image) or rendered at a
  lower resolution (a PDF page), before anything is decoded;
- pages: only the first `max_pages` pages (PDF or multi-page TIFF) are read;
- time: one deadline for the whole document; Tesseract is killed when it passes, or at
  once when `cancel` is set (the worker was told to stop).

pdfium is not thread-safe: one thread per process renders PDF pages (the OCR thread of
`dmp worker`).
"""

from __future__ import annotations

import io
import math
import os
import shutil
import subprocess
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import pypdfium2
from PIL import Image, ImageOps, ImageSequence

# The formats a scan or a photograph arrives in (patients' uploads, docs/documents.md).
IMAGE_TYPES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/tiff": "TIFF"}
PDF_TYPE = "application/pdf"
OCR_TYPES = frozenset({*IMAGE_TYPES, PDF_TYPE})

POINTS_PER_INCH = 72
# Tesseract reads best at 200-300 DPI; 200 is the speed side of that range and plenty for
# typed reports (a page of A4 is 3.9 megapixels).
PDF_DPI = 200
# French first: accents decide between candidate words; English for drug and device names.
LANGUAGES = "fra+eng"
# One thread per Tesseract process: several workers share the machine's cores, and
# OpenMP's own threads make Tesseract slower, not faster, on small pages.
TESSERACT_ENV = {"OMP_THREAD_LIMIT": "1"}
# Waking up this often to check the stop signal.
POLL_SECONDS = 0.2
MAX_TEXT_CHARS = 2_000_000


class OcrError(Exception):
    """OCR did not give a text. `reason` is a code, never content: it goes to the logs.
    `permanent`: retrying cannot help (the document is not a scan or a photograph)."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


class OcrCancelled(OcrError):
    def __init__(self) -> None:
        super().__init__("cancelled")


@dataclass(frozen=True, slots=True)
class Limits:
    max_pages: int
    max_pixels: int
    seconds: float


@dataclass(frozen=True, slots=True)
class Read:
    text: str
    pages: int  # pages (or images) given to Tesseract
    truncated: bool  # pages past max_pages were not read


def tesseract_binary() -> str | None:
    return shutil.which("tesseract")


def read_text(
    body: bytes,
    mime_type: str,
    limits: Limits,
    *,
    cancel: threading.Event | None = None,
    binary: str | None = None,
) -> Read:
    """The text of a scanned PDF or an image (JPEG, PNG, TIFF); raises OcrError."""
    binary = binary or tesseract_binary()
    if binary is None:
        raise OcrError("tesseract_missing")
    deadline = time.monotonic() + limits.seconds
    if mime_type == PDF_TYPE:
        pages = _pdf_pages(body, limits)
    elif mime_type in IMAGE_TYPES:
        pages = _image_pages(body, IMAGE_TYPES[mime_type], limits)
    else:
        raise OcrError("not_a_scan", permanent=True)
    texts: list[str] = []
    truncated = False
    for page in pages:
        if cancel is not None and cancel.is_set():
            raise OcrCancelled()
        if page is None:
            truncated = True
            break
        image, dpi = page
        texts.append(_tesseract(binary, image, dpi, deadline, cancel))
    text = "\n\n".join(t for t in texts if t)
    return Read(text[:MAX_TEXT_CHARS], len(texts), truncated)


# A page: a grey image and its resolution when known (a rendered PDF page).
Page = tuple[Image.Image, int | None]


def _image_pages(body: bytes, fmt: str, limits: Limits) -> Iterator[Page | None]:
    """The frames of an image (a TIFF may hold several pages), in grey; None once the
    page limit is reached with pages left."""
    try:
        with warnings.catch_warnings():
            # Pillow only warns below twice its own limit; here a bomb is an error.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(body), formats=[fmt])
    except Exception as exc:
        raise OcrError("unreadable_image") from exc
    with image:
        for index, frame in enumerate(ImageSequence.Iterator(image)):
            if index >= limits.max_pages:
                yield None
                return
            width, height = frame.size
            if width * height > limits.max_pixels:
                raise OcrError("too_many_pixels")
            try:
                # Phones store a photograph sideways with an orientation tag; Tesseract
                # reads upright lines only.
                upright = ImageOps.exif_transpose(frame) if index == 0 else frame
                grey = upright.convert("L")
            except Exception as exc:
                raise OcrError("unreadable_image") from exc
            yield grey, None


def _pdf_pages(body: bytes, limits: Limits) -> Iterator[Page | None]:
    """Each page rendered in memory, in grey, at PDF_DPI or less when the page is so
    large that PDF_DPI would pass the pixel limit."""
    try:
        pdf = pypdfium2.PdfDocument(body)
    except Exception as exc:
        raise OcrError("unreadable_pdf") from exc
    try:
        count = len(pdf)
        for index in range(count):
            if index >= limits.max_pages:
                yield None
                return
            page = pdf[index]
            try:
                width, height = page.get_size()
                scale = PDF_DPI / POINTS_PER_INCH
                area = max(width * height, 1.0)
                if area * scale * scale > limits.max_pixels:
                    scale = math.sqrt(limits.max_pixels / area)
                image = page.render(scale=scale, grayscale=True, may_draw_forms=False).to_pil()
            except OcrError:
                raise
            except Exception as exc:
                raise OcrError("unreadable_pdf") from exc
            finally:
                page.close()
            yield image, max(round(scale * POINTS_PER_INCH), 1)
    finally:
        pdf.close()


def _tesseract(
    binary: str,
    image: Image.Image,
    dpi: int | None,
    deadline: float,
    cancel: threading.Event | None,
) -> str:
    buffer = io.BytesIO()
    image.save(buffer, "PPM")  # grey: PGM, uncompressed, the quickest for both sides
    argv = [binary, "stdin", "stdout", "-l", LANGUAGES]
    if dpi is not None:
        argv += ["--dpi", str(dpi)]  # a PGM carries no resolution
    env = dict(TESSERACT_ENV)
    if "TESSDATA_PREFIX" in os.environ:
        env["TESSDATA_PREFIX"] = os.environ["TESSDATA_PREFIX"]
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise OcrError("timeout")
    finished, cancelled = threading.Event(), threading.Event()
    # The context closes the pipes and reaps the process whatever happens.
    with subprocess.Popen(  # noqa: S603 - fixed argv, no shell
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    ) as process:
        if cancel is not None:
            threading.Thread(
                target=_kill_on_cancel,
                args=(process, cancel, finished, cancelled),
                name="dmp-ocr-cancel",
                daemon=True,
            ).start()
        try:
            out, _ = process.communicate(buffer.getvalue(), timeout=remaining)
        except subprocess.TimeoutExpired:
            process.kill()
            raise OcrError("timeout") from None
        finally:
            finished.set()
    if cancelled.is_set():
        raise OcrCancelled()
    if process.returncode != 0:
        raise OcrError("tesseract_failed")
    # Tesseract ends each page with a form feed.
    return out.decode("utf-8", errors="replace").replace("\f", "").strip()


def _kill_on_cancel(
    process: subprocess.Popen[bytes],
    cancel: threading.Event,
    finished: threading.Event,
    cancelled: threading.Event,
) -> None:
    """Kills Tesseract as soon as `cancel` is set, unless it finished first."""
    while not finished.wait(POLL_SECONDS):
        if cancel.is_set():
            cancelled.set()
            process.kill()
            return
