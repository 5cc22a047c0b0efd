"""The text layer of a generated `pdf` document, from the lines the corpus wrote.

Reading a PDF's text layer with the server's reader (pypdf) costs 10-40 ms a document,
most of the population's generation time with its index; the corpus wrote every line
itself (`corpus_pdf.layout`, `paginate`), so the text is known. This gives exactly what
`server.content.understand` reads from such a PDF (tests/bench/test_population_text.py
compares them over every category and length), and None where it cannot be sure, for
the caller to use the reader:

- pypdf separates the runs of a table row by one space only when there is a visible gap
  between them; a cell that runs into the next column is glued to it. Lines whose runs
  are closer than two spaces (Helvetica widths, as drawn) are left to the reader.
- Every page ends with its "Page k/n" footer; pages are joined by a newline, and the
  text is cut at `Limits.max_text_chars`, as `server.content.pdf` does (its TextSink).
"""

from __future__ import annotations

from itertools import pairwise

from reportlab.pdfbase.pdfmetrics import stringWidth

from bench.corpus import GeneratedDocument
from bench.corpus_pdf import Run, layout, paginate
from server.content.limits import Limits, TextSink

# corpus_pdf's font resources.
FONTS = {"F1": "Helvetica", "F2": "Helvetica-Bold"}


def _line(runs: list[Run]) -> str | None:
    shown = [r for r in runs if r.text]  # an empty cell draws nothing
    for a, b in pairwise(shown):
        font = FONTS[a.font]
        end = a.x + stringWidth(a.text, font, a.size)
        if b.x - end < 2 * stringWidth(" ", font, a.size):
            return None
    return " ".join(r.text for r in shown)


def layer_text(doc: GeneratedDocument, limits: Limits) -> str | None:
    """The text the server reads from `doc` (a `pdf` of the corpus's direct writer), or
    None: another format, or a line the reader might join otherwise."""
    if doc.fmt != "pdf" or doc.report is None:
        return None
    pages = paginate(layout(doc.report))
    if len(pages) != doc.pages or len(pages) > limits.max_pages:
        return None
    sink = TextSink(limits.max_text_chars)
    for number, page in enumerate(pages, start=1):
        lines: list[str] = []
        for _y, runs in page:
            line = _line(runs)
            if line is None:
                return None
            lines.append(line)
        lines.append(f"Page {number}/{len(pages)}")
        sink.add("\n".join(lines))
    text = sink.text()
    return text if text.strip() else None
