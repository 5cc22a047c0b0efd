"""PDF (PDF/A included): checked, and its text layer read with pypdf.

pypdf is pure Python: it opens no file, reaches no network and, with `jbig2dec_binary`
unset, starts no process. Its decompression limits are set from ours, so a stream that
inflates beyond them stops the reading (a "zip bomb" in a content stream).
"""

from __future__ import annotations

from io import BytesIO

from pypdf import PdfReader, apply_configuration
from pypdf.errors import LimitReachedError

from server.content.errors import ContentRefused
from server.content.limits import Budget, TextSink
from server.content.reading import Reading
from server.content.sniff import Kind

# The specification puts the end-of-file marker in the last 1024 bytes; a file cut in
# transfer (the usual truncation) has lost it.
_EOF_MARKER, _EOF_WINDOW = b"%%EOF", 1024


def read(data: bytes, budget: Budget) -> Reading:
    text = text_layer(data, budget)
    if text.strip():
        return Reading(Kind.PDF, data, text, "layer")
    # No text layer: a scan, read by the OCR worker.
    return Reading(Kind.PDF, data, ocr=True)


def text_layer(data: bytes, budget: Budget) -> str:
    """The text of every page (up to the text limit), or a ContentRefused."""
    if _EOF_MARKER not in data[-_EOF_WINDOW:]:
        raise ContentRefused("content_truncated")
    limits = budget.limits
    bound = limits.max_decompressed
    with apply_configuration(
        maximum_declared_stream_length=bound,
        array_based_stream_maximum_output_length=bound,
        zlib_maximum_output_length=bound,
        lzw_maximum_output_length=bound,
        run_length_maximum_output_length=bound,
        brotli_maximum_output_length=bound,
        jbig2_maximum_output_length=bound,
        image_maximum_buffer_size=bound,
        stream_decoding_work_maximum_length=bound,
        jbig2dec_binary=None,
    ):
        try:
            return _pages_text(PdfReader(BytesIO(data), strict=False), budget)
        except ContentRefused:
            raise
        except LimitReachedError:
            raise ContentRefused("content_bomb") from None
        except Exception:  # pypdf raises anything (KeyError, ValueError...) on a hostile file
            raise ContentRefused("content_corrupt") from None


def _pages_text(reader: PdfReader, budget: Budget) -> str:
    if reader.is_encrypted:
        raise ContentRefused("pdf_encrypted")
    pages = reader.pages
    if len(pages) > budget.limits.max_pages:
        raise ContentRefused("too_many_pages")
    sink = TextSink(budget.limits.max_text_chars)
    for page in pages:
        if sink.full:
            break
        budget.check()
        sink.add(page.extract_text())
    budget.check()
    return sink.text()
