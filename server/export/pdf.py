"""The readable PDF of an export: cover, table of contents, each document, the history and
the receipts, in French.

reportlab writes the pages it renders (text and structured documents as their text,
images embedded); pypdf then appends each PDF document's own pages right after its
section, and names every document in the PDF's outline (bookmarks). Everything happens
in memory: the archive is sealed before anything is stored.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any
from xml.sax.saxutils import escape

from PIL import Image as PilImage
from pypdf import PdfReader, PdfWriter
from pypdf.errors import PyPdfError
from reportlab import rl_config
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import (
    Flowable,
    Image,
    PageBreak,
    Paragraph,
    Preformatted,
    SimpleDocTemplate,
    Spacer,
)

from server.export.gather import Gathered, Opened
from server.export.names import original_name
from server.frenchtime import fr_datetime
from server.labels import CATEGORIES

# The standard fonts (Latin-1 with the French typographic signs): a TrueType font costs a
# subset per document and a lookup per character, a third of a 500-document build.
FONT, FONT_BOLD = "Helvetica", "Helvetica-Bold"
# Images as binary streams, not ASCII85 text: reportlab's pure-Python encoder cost more
# than the rest of an image's embedding (the export bench, docs/export.md).
rl_config.useA85 = 0
# A document's text beyond this is cut in the PDF (the original is whole in originals/).
MAX_TEXT_CHARS = 60_000
MAX_IMAGE_PIXELS = 40_000_000
WRAP = 98  # characters of a text line at 9 points in the page's width
IMAGES = frozenset({"image/jpeg", "image/png", "image/tiff"})
STATUS_FR = {"superseded": "remplacé par une version plus récente", "archived": "archivé"}


@dataclass(frozen=True, slots=True)
class Section:
    number: int
    row: Any  # the listing's row
    opened: Opened | None
    pdf_pages: int  # pages appended after this section (a PDF document), 0 otherwise


@cache
def _styles() -> dict[str, ParagraphStyle]:
    base = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=base["BodyText"], fontName=FONT, fontSize=9.5, leading=12)
    return {
        "title": ParagraphStyle("title", parent=base["Title"], fontName=FONT_BOLD),
        "h1": ParagraphStyle("h1", parent=base["Heading1"], fontName=FONT_BOLD, fontSize=15),
        "h2": ParagraphStyle("h2", parent=base["Heading2"], fontName=FONT_BOLD, fontSize=12),
        "body": body,
        "small": ParagraphStyle("small", parent=body, fontSize=8, leading=10),
        "toc": ParagraphStyle("toc", parent=body, leftIndent=4 * mm),
        "text": ParagraphStyle("text", parent=body, fontSize=9, leading=11.5),
    }


def _p(text: str, style: str = "body") -> Paragraph:
    return Paragraph(escape(text), _styles()[style])


class _Anchor(Flowable):  # type: ignore[misc]  # reportlab is untyped
    """A named destination where a section begins (links from the table of contents),
    remembering on which rendered page it landed."""

    def __init__(self, name: str, pages: dict[str, int]) -> None:
        super().__init__()
        self.name, self.pages = name, pages
        self.width = self.height = 0

    def draw(self) -> None:
        self.canv.bookmarkPage(self.name)
        self.pages[self.name] = self.canv.getPageNumber() - 1


def render(
    gathered: Gathered,
    opened: dict[str, Opened],
    now: datetime,
    requester: str,
    progress: Callable[[int, int], None] | None = None,
) -> bytes:
    """The whole PDF. `progress(done, total)` is told as documents are laid out."""
    sections, attachments = _sections(gathered, opened)
    pages: dict[str, int] = {}
    story: list[Flowable] = [*_cover(gathered, now, requester), PageBreak()]
    story += _contents(sections, gathered)
    story.append(PageBreak())
    for done, section in enumerate(sections, 1):
        story += _document(section, pages)
        if progress is not None and done % 25 == 0:
            progress(done, len(sections))
    story += [PageBreak(), _Anchor("history", pages), _p("Historique des accès", "h1")]
    story += [_p(line["text"], "small") for line in gathered.history]
    story += [PageBreak(), _Anchor("receipts", pages), _p("Reçus signés", "h1")]
    story += _receipts(gathered)
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        title="Export de mon dossier médical partagé",
        author="dmp-kiosk",
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
    )
    doc.build(story)
    return _attach(out.getvalue(), sections, attachments, pages)


def _sections(
    gathered: Gathered, opened: dict[str, Opened]
) -> tuple[list[Section], dict[str, PdfReader]]:
    sections, attachments = [], {}
    for number, row in enumerate(gathered.rows, 1):
        found = opened.get(row.logical_id)
        pdf_pages = 0
        if found is not None and row.mime_type == "application/pdf":
            try:
                reader = PdfReader(io.BytesIO(found.body))
                pdf_pages = len(reader.pages)
                attachments[row.logical_id] = reader
            except (PyPdfError, ValueError, OSError):
                pdf_pages = 0  # shown by its text, if any; the original is in originals/
        sections.append(Section(number, row, found, pdf_pages))
    return sections, attachments


def _cover(gathered: Gathered, now: datetime, requester: str) -> list[Flowable]:
    p = gathered.patient
    name = f"{p.first_names} {p.used_name or p.birth_name}"
    lines = [
        f"Titulaire : {name} (nom de naissance {p.birth_name})",
        f"Né(e) le {p.birth_date.strftime('%d/%m/%Y')}, INS {p.ins}",
        f"Export préparé le {fr_datetime(now)} pour {requester}"
        + (" (représentant légal)" if gathered.mode == "representative" else ""),
        f"{len(gathered.rows)} document(s), {len(gathered.history)} ligne(s) d'historique, "
        f"{len(gathered.receipts)} reçu(s) signé(s).",
        "Cet export contient des données de santé : conservez-le en lieu sûr.",
    ]
    if p.status != "active":
        lines.append("Ce dossier est fermé.")
    return [
        Spacer(1, 40 * mm),
        _p("Mon dossier médical partagé", "title"),
        _p("Export complet", "h2"),
        Spacer(1, 10 * mm),
        *[_p(line) for line in lines],
    ]


def _contents(sections: list[Section], gathered: Gathered) -> list[Flowable]:
    out: list[Flowable] = [_p("Sommaire", "h1")]
    for s in sections:
        label = f"{s.number}. {s.row.title} — {CATEGORIES[s.row.category][0]}, {_date(s.row)}"
        out.append(Paragraph(f'<a href="#doc{s.number}">{escape(label)}</a>', _styles()["toc"]))
    out.append(Paragraph('<a href="#history">Historique des accès</a>', _styles()["toc"]))
    out.append(Paragraph('<a href="#receipts">Reçus signés</a>', _styles()["toc"]))
    return out


def _date(row: Any) -> str:
    return f"{row.created_at.strftime('%d/%m/%Y')}"


def _document(section: Section, pages: dict[str, int]) -> list[Flowable]:
    row = section.row
    name = f"doc{section.number}"
    out: list[Flowable] = [_Anchor(name, pages), _p(f"{section.number}. {row.title}", "h2")]
    meta = [
        f"Catégorie : {CATEGORIES[row.category][0]} ; type LOINC {row.type_code}",
        f"Créé le {_date(row)}, ajouté le {fr_datetime(row.submitted_at)}",
        f"Format : {row.mime_type}, {row.size} octets ; fichier originals/{original_name(row)}",
    ]
    if row.author_last_name is not None:
        meta.append(f"Auteur : {row.author_first_name} {row.author_last_name}")
    if row.status in STATUS_FR:
        meta.append(f"État : {STATUS_FR[row.status]}")
    if row.invisible_rep:
        meta.append("Non visible par les représentants légaux")
    if row.masked_ps:
        meta.append("Masqué aux professionnels de santé")
    # One paragraph for the lines: reportlab parses each paragraph's markup, and 500
    # documents of six small paragraphs each cost more than their layout.
    out.append(Paragraph("<br/>".join(escape(line) for line in meta), _styles()["small"]))
    out.append(Spacer(1, 2 * mm))
    opened = section.opened
    if opened is None:
        out.append(_p("Contenu indisponible."))
    elif section.pdf_pages:
        out.append(_p(f"Les {section.pdf_pages} page(s) du document suivent."))
        out.append(PageBreak())  # the appended pages come right after this page
        return out
    elif row.mime_type in IMAGES:
        out.append(_image(opened.body))
    elif opened.text:
        out += _text(opened.text)
    else:
        out.append(_p("Pas de texte lisible : le document original est joint à l'export."))
    out.append(Spacer(1, 6 * mm))
    return out


def _text(text: str) -> list[Flowable]:
    """The text as preformatted lines, wrapped here: reportlab's Paragraph parses markup
    and breaks lines itself, several times slower for pages of plain text (the export
    bench, docs/export.md)."""
    cut = len(text) > MAX_TEXT_CHARS
    lines: list[str] = []
    for line in text[:MAX_TEXT_CHARS].splitlines():
        lines += textwrap.wrap(line, WRAP, break_long_words=True) or [""]
    while lines and not lines[-1]:
        lines.pop()
    out: list[Flowable] = [Preformatted("\n".join(lines), _styles()["text"])]
    if cut:
        out.append(_p("[… texte abrégé : le document entier est dans originals/]", "small"))
    return out


def _image(body: bytes) -> Flowable:
    try:
        with PilImage.open(io.BytesIO(body)) as img:
            width, height = img.size
            if width * height > MAX_IMAGE_PIXELS:
                return _p("Image trop grande pour être montrée ici : voir originals/.")
            source = io.BytesIO(body)
            if img.format == "TIFF":  # reportlab draws JPEG and PNG; a scan is converted
                source = io.BytesIO()
                img.convert("RGB").save(source, "PNG")
                source.seek(0)
    except (OSError, ValueError, PilImage.DecompressionBombError):
        return _p("Image illisible : voir originals/.")
    frame_w, frame_h = A4[0] - 40 * mm, A4[1] - 80 * mm
    scale = min(frame_w / width, frame_h / height, 1.0)
    return Image(source, width=width * scale, height=height * scale)


def _receipts(gathered: Gathered) -> list[Flowable]:
    if not gathered.receipts:
        return [_p("Aucun reçu.")]
    out = [
        _p(
            "Chaque reçu est dans receipts/ : son contenu canonique (.json), sa signature "
            "détachée (.p7s, CMS) et la chaîne de certificats du serveur (certificate-chain.pem). "
            "docs/receipts.md explique comment les vérifier avec openssl.",
            "small",
        )
    ]
    out += [
        _p(f"{r.issued_at} — {r.action} — reçu {r.receipt_id}", "small") for r in gathered.receipts
    ]
    return out


def _attach(
    rendered: bytes,
    sections: list[Section],
    attachments: dict[str, PdfReader],
    pages: dict[str, int],
) -> bytes:
    """The rendered pages with each PDF document's pages inserted after its section, and
    an outline naming every document at its final page. The rendered document is cloned
    whole, so the table of contents' links keep their destinations."""
    writer = PdfWriter(clone_from=io.BytesIO(rendered))
    inserted: list[tuple[int, int]] = []  # (after rendered page, how many pages)
    for s in reversed(sections):  # from the end: earlier indexes stay valid
        if not s.pdf_pages:
            continue
        at = pages[f"doc{s.number}"] + 1
        for offset, page in enumerate(attachments[s.row.logical_id].pages):
            writer.insert_page(page, at + offset)
        inserted.append((at - 1, s.pdf_pages))

    def final(index: int) -> int:
        return index + sum(n for after, n in inserted if after < index)

    for s in sections:
        name = f"doc{s.number}"
        if name in pages:
            writer.add_outline_item(
                title=f"{s.number}. {s.row.title}", page_number=final(pages[name])
            )
    for name, title in (("history", "Historique des accès"), ("receipts", "Reçus signés")):
        if name in pages:
            writer.add_outline_item(title=title, page_number=final(pages[name]))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
