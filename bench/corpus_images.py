"""Scans and photographs without text: rendered text pages with the flaws of paper.

Rendering a page (Pillow, a TrueType font, noise, a slight skew) costs about 0.1 s, far
too much to do a hundred thousand times. A `ScanPool` renders a fixed set of page images
once per process, each from its own seeded stream and only when first asked for, and
every scanned PDF, photo or fax of the population reuses them: the bytes a document gets
depend on the seed and the slot it draws, never on the order of generation or the chunk
it belongs to. OCR reads them back (Tesseract finds the words at this resolution).
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from bench.corpus_pdf import PAGE_H, PAGE_W, ScanPage, layout, paginate
from bench.corpus_text import Author, Context, Person, build, pick, place
from bench.corpus_vocab import vocabulary

SCAN_W, SCAN_H = 1000, 1414  # about 120 dpi: OCR reads 10 pt text at this size
POOL_PAGES = 24
POOL_TITLES = {
    "consultation": "Compte rendu de consultation",
    "hospitalisation": "Compte rendu d'hospitalisation",
    "prescription": "Ordonnance",
    "certificate": "Certificat médical",
    "imaging": "Compte rendu d'imagerie",
    "lab": "Résultats d'analyses",
}
POOL_KINDS = tuple(POOL_TITLES)


@cache
def _font(bold: bool, size: int) -> Any:
    import reportlab
    from PIL import ImageFont

    # reportlab ships Bitstream Vera: the same glyphs on every machine, so the same pixels.
    name = "VeraBd.ttf" if bold else "Vera.ttf"
    return ImageFont.truetype(str(Path(reportlab.__file__).parent / "fonts" / name), size)


def _pool_context(rng: random.Random) -> Context:
    voc = vocabulary()
    sex = "F" if rng.random() < 0.5 else "M"
    when = datetime(rng.randint(2015, 2025), rng.randint(1, 12), rng.randint(1, 28), tzinfo=UTC)
    born = date(when.year - rng.randint(1, 90), rng.randint(1, 12), rng.randint(1, 28))
    patient = Person(
        pick(rng, voc.first_f if sex == "F" else voc.first_m),
        pick(rng, voc.surnames),
        sex,
        born,
        f"{1 if sex == 'M' else 2}{born.year % 100:02d}{born.month:02d}"
        f"{rng.randint(10**8, 10**9 - 1)}{rng.randint(1, 97):02d}",
    )
    author = Author(
        pick(rng, voc.first_m),
        pick(rng, voc.surnames),
        "8" + "".join(str(rng.randint(0, 9)) for _ in range(11)),
        "Médecin",
        place(pick(rng, voc.establishments), pick(rng, voc.cities)),
        None,
    )
    return Context(patient, author, when)


def render_page(seed: int, slot: int) -> Any:
    """A grey page image of the first page of a report, skewed and speckled like a scan."""
    from PIL import Image, ImageDraw

    rng = random.Random(f"{seed}:scan:{slot}")
    kind = POOL_KINDS[slot % len(POOL_KINDS)]
    ctx = _pool_context(rng)
    report = build(rng, kind, "", "", POOL_TITLES[kind], ctx, 1)
    paper = rng.randint(232, 246)
    img = Image.new("L", (SCAN_W, SCAN_H), paper)
    draw = ImageDraw.Draw(img)
    scale = SCAN_W / PAGE_W
    ink = rng.randint(20, 60)
    for y, runs in paginate(layout(report))[0]:
        for run in runs:
            size = round(run.size * scale)
            top = (PAGE_H - y) * scale - size * 0.8
            draw.text((run.x * scale, top), run.text, fill=ink, font=_font(run.font == "F2", size))
    pixels = img.load()
    assert pixels is not None
    for _ in range(rng.randint(300, 900)):
        pixels[rng.randrange(SCAN_W), rng.randrange(SCAN_H)] = rng.randrange(0, 160)
    # Nearest neighbour: four times faster than bilinear, and scanners' jagged edges are real.
    return img.rotate(rng.uniform(-1.5, 1.5), resample=Image.Resampling.NEAREST, fillcolor=paper)


PHONES = (
    ("Apple", "iPhone 13"),
    ("samsung", "SM-A536B"),
    ("Google", "Pixel 7"),
    ("Xiaomi", "M2101K9AG"),
)


def _phone_exif(rng: random.Random) -> bytes:
    """What a phone writes into a photo, GPS position included (in France): the server
    must strip it before storage, so the population's photos carry it like real ones."""
    from PIL import Image

    exif = Image.Exif()
    make, model = rng.choice(PHONES)
    exif[0x010F], exif[0x0110] = make, model
    taken = datetime(2018, 1, 1) + timedelta(seconds=rng.randint(0, 8 * 365 * 86400))
    exif[0x0132] = taken.strftime("%Y:%m:%d %H:%M:%S")
    gps = exif.get_ifd(0x8825)
    lat, lon = rng.uniform(43.0, 50.5), rng.uniform(-1.5, 7.5)
    gps[1], gps[2] = "N", _dms(lat)
    gps[3], gps[4] = ("E", _dms(lon)) if lon >= 0 else ("W", _dms(-lon))
    return exif.tobytes()


def _dms(degrees: float) -> tuple[float, float, float]:
    minutes = (degrees % 1) * 60
    return (float(int(degrees)), float(int(minutes)), round((minutes % 1) * 60, 2))


@dataclass
class ScanPool:
    """Lazily rendered page images and their encodings, shared by a whole run."""

    seed: int
    size: int = POOL_PAGES
    _pages: dict[int, Any] = field(default_factory=dict)
    _cache: dict[tuple[str, int], Any] = field(default_factory=dict)

    def _page(self, slot: int) -> Any:
        slot %= self.size
        if slot not in self._pages:
            self._pages[slot] = render_page(self.seed, slot)
        return self._pages[slot]

    def _memo(self, kind: str, slot: int, make: Any) -> Any:
        key = (kind, slot % self.size)
        if key not in self._cache:
            self._cache[key] = make(self._page(slot))
        return self._cache[key]

    def warm(self) -> None:
        """Renders every page and encoding now (a run pays it once, up front)."""
        for slot in range(self.size):
            self.scan(slot)
            self.photo(slot)
            self.png(slot)
            self.tiff(slot)

    def scan(self, slot: int) -> ScanPage:
        """A grey JPEG page, as a document scanner writes it into a PDF."""

        def make(img: Any) -> ScanPage:
            buf = io.BytesIO()
            img.save(buf, "JPEG", quality=50)
            return ScanPage(buf.getvalue(), img.width, img.height, gray=True)

        result: ScanPage = self._memo("scan", slot, make)
        return result

    def photo(self, slot: int) -> bytes:
        """A phone photograph of the page: colour, tilted, on a table."""
        from PIL import Image

        def make(img: Any) -> bytes:
            rng = random.Random(f"{self.seed}:photo:{slot % self.size}")
            table = (rng.randint(90, 160), rng.randint(70, 120), rng.randint(40, 90))
            page = img.resize((int(SCAN_W * 0.82), int(SCAN_H * 0.82)), Image.Resampling.BILINEAR)
            warm = Image.merge(
                "RGB", (page, page.point(lambda v: v * 0.97), page.point(lambda v: v * 0.9))
            )
            # The page is already skewed: offset it on the table rather than rotate again.
            canvas = Image.new("RGB", (SCAN_W, SCAN_H), table)
            canvas.paste(
                warm,
                (
                    rng.randint(20, SCAN_W - warm.width - 20),
                    rng.randint(30, SCAN_H - warm.height - 30),
                ),
            )
            buf = io.BytesIO()
            canvas.save(buf, "JPEG", quality=60, exif=_phone_exif(rng))
            return buf.getvalue()

        result: bytes = self._memo("photo", slot, make)
        return result

    def png(self, slot: int) -> bytes:
        """A black and white scan saved as PNG (small, as scanning apps do for text)."""

        def make(img: Any) -> bytes:
            buf = io.BytesIO()
            img.point(lambda v: 255 if v > 150 else 0).convert("1").save(buf, "PNG")
            return buf.getvalue()

        result: bytes = self._memo("png", slot, make)
        return result

    def tiff(self, slot: int) -> bytes:
        """A fax: bilevel TIFF in CCITT group 4."""

        def make(img: Any) -> bytes:
            buf = io.BytesIO()
            img.point(lambda v: 255 if v > 150 else 0).convert("1").save(
                buf, "TIFF", compression="group4"
            )
            return buf.getvalue()

        result: bytes = self._memo("tiff", slot, make)
        return result
