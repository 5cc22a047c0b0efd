"""Images are checked (pixels, truncation) and stored without their metadata."""

from __future__ import annotations

import io

import pytest
from PIL import ExifTags, Image

from server.content.errors import ContentRefused
from server.content.limits import Limits
from server.content.understand import understand
from tests.server import content_samples as samples

LIMITS = Limits()
MIME = {"JPEG": "image/jpeg", "PNG": "image/png", "TIFF": "image/tiff"}


def stored(data: bytes, kind: str, limits: Limits = LIMITS) -> Image.Image:
    reading = understand(data, MIME[kind], limits)
    assert (reading.text, reading.text_status) == (None, "pending")  # for the OCR worker
    image = Image.open(io.BytesIO(reading.body))
    assert image.format == kind
    return image


@pytest.mark.parametrize("kind", ["JPEG", "PNG", "TIFF"])
def test_metadata_is_gone_and_the_picture_is_upright(kind: str) -> None:
    original = samples.photo(kind, (40, 20), orientation=6)
    before = Image.open(io.BytesIO(original))
    if kind != "TIFF":
        assert before.getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the sample has a position
    image = stored(original, kind)
    reading = understand(original, MIME[kind], LIMITS)
    assert image.size == (20, 40)  # turned by its orientation, which is then dropped
    # Description, maker, orientation, GPS, XMP (a TIFF keeps its structural tags).
    assert not {270, 271, 274, 34853, 700}.intersection(image.getexif())
    assert not image.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    for trace in (b"PhoneMaker", b"12 rue des Lilas", b"Exif", b"GPS"):
        assert trace not in reading.body
    assert "comment" not in image.info
    assert image.getpixel((10, 20))[:3] == pytest.approx((200, 30, 30), abs=8)


def test_a_multi_page_tiff_keeps_its_pages() -> None:
    out = io.BytesIO()
    pages = [Image.new("1", (30, 40), n) for n in (0, 1)]
    pages[0].save(out, "TIFF", save_all=True, append_images=pages[1:], tiffinfo={270: "chez moi"})
    image = stored(out.getvalue(), "TIFF")
    assert image.n_frames == 2
    assert 270 not in image.tag_v2


@pytest.mark.parametrize(
    ("mode", "kind"),
    [("P", "PNG"), ("RGBA", "PNG"), ("I;16", "PNG"), ("CMYK", "JPEG"), ("L", "JPEG")],
)
def test_other_image_modes_are_stored_too(mode: str, kind: str) -> None:
    out = io.BytesIO()
    extra = {"transparency": 0} if mode == "P" else {}
    Image.new(mode, (16, 8)).save(out, kind, **extra)
    image = stored(out.getvalue(), kind)
    assert (image.mode, image.size) == (mode, (16, 8))


@pytest.mark.parametrize(
    ("data", "kind", "limits", "reason"),
    [
        (samples.pixel_bomb_png(), "PNG", LIMITS, "image_too_large"),
        (samples.photo("PNG", (40, 20)), "PNG", Limits(max_pixels=799), "image_too_large"),
        (samples.photo("JPEG", (400, 300))[:-600], "JPEG", LIMITS, "content_truncated"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 50, "PNG", LIMITS, "content_corrupt"),
        (samples.photo("TIFF")[:8] + b"\xff" * 40, "TIFF", LIMITS, "content_corrupt"),
    ],
    ids=["pixel-bomb", "pixel-setting", "truncated", "corrupt-png", "corrupt-tiff"],
)
def test_hostile_images_are_refused(data: bytes, kind: str, limits: Limits, reason: str) -> None:
    with pytest.raises(ContentRefused) as caught:
        understand(data, MIME[kind], limits)
    assert caught.value.reason == reason


def test_the_pixel_limit_counts_every_page_of_a_tiff() -> None:
    out = io.BytesIO()
    pages = [Image.new("L", (20, 20)) for _ in range(3)]
    pages[0].save(out, "TIFF", save_all=True, append_images=pages[1:])
    with pytest.raises(ContentRefused) as caught:
        understand(out.getvalue(), "image/tiff", Limits(max_pixels=1000))
    assert caught.value.reason == "image_too_large"
    with pytest.raises(ContentRefused) as caught:
        understand(out.getvalue(), "image/tiff", Limits(max_pages=2))
    assert caught.value.reason == "too_many_pages"
