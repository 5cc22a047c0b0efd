"""JPEG, PNG and TIFF: checked with Pillow and stored without their metadata.

Patients photograph paper documents with their phones: EXIF carries where (GPS) and
with what the photograph was taken, XMP and comments anything. Every image is decoded,
turned upright by its EXIF orientation, and encoded again from its pixels alone, so
nothing but the picture (and its colour profile and resolution) is stored.
"""

from __future__ import annotations

import warnings
from io import BytesIO
from typing import Any

from PIL import Image, ImageOps, ImageSequence

from server.content.errors import ContentRefused
from server.content.limits import Budget
from server.content.reading import Reading
from server.content.sniff import Kind

PILLOW_FORMATS = {Kind.JPEG: "JPEG", Kind.PNG: "PNG", Kind.TIFF: "TIFF"}
JPEG_QUALITY = 90


def read(data: bytes, kind: Kind, budget: Budget) -> Reading:
    if kind is Kind.PNG:
        _check_png_chunks(data)
    image = _open(data, PILLOW_FORMATS[kind])
    frames = _upright_frames(image, budget)
    return Reading(kind, _encode(frames, PILLOW_FORMATS[kind], image.info), ocr=True)


def _open(data: bytes, pillow_format: str) -> Image.Image:
    # Pillow checks pixel counts against its own process-wide MAX_IMAGE_PIXELS (a warning,
    # then an error at twice that): both are refusals here. Our own, configurable, bound
    # is checked on every frame before it is decoded (`_upright_frames`).
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            return Image.open(BytesIO(data), formats=[pillow_format])
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise ContentRefused("image_too_large") from None
        except Exception:  # Pillow's plugins raise OSError, SyntaxError, struct.error...
            raise ContentRefused("content_corrupt") from None


def _check_png_chunks(data: bytes) -> None:
    """Every chunk's CRC and the end marker. Decoding alone accepts a PNG cut after its
    last pixels (no IEND, part of the last IDAT's checksum gone): the file the patient
    sent is not whole, and they are told so rather than given a silent copy."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # _open's refusal
            Image.open(BytesIO(data), formats=["PNG"]).verify()
    except Image.DecompressionBombError:
        return  # _open refuses it as too large
    except OSError as exc:
        truncated = "truncated" in str(exc).lower()
        raise ContentRefused("content_truncated" if truncated else "content_corrupt") from None
    except Exception:  # a bad checksum is a SyntaxError in Pillow
        raise ContentRefused("content_corrupt") from None


def _upright_frames(image: Image.Image, budget: Budget) -> list[Image.Image]:
    limits = budget.limits
    if getattr(image, "n_frames", 1) > limits.max_pages:
        raise ContentRefused("too_many_pages")
    frames, pixels = [], 0
    try:
        for frame in ImageSequence.Iterator(image):
            budget.check()
            pixels += frame.width * frame.height
            if pixels > limits.max_pixels:
                raise ContentRefused("image_too_large")
            frame.load()
            upright = ImageOps.exif_transpose(frame)
            upright.info = {}  # a copy: EXIF, XMP, comments stay behind
            frames.append(upright)
    except ContentRefused:
        raise
    except OSError as exc:
        truncated = "truncated" in str(exc)
        raise ContentRefused("content_truncated" if truncated else "content_corrupt") from None
    except Exception:  # a frame that does not decode
        raise ContentRefused("content_corrupt") from None
    return frames


def _encode(frames: list[Image.Image], pillow_format: str, info: dict[Any, Any]) -> bytes:
    params: dict[str, Any] = {}
    for kept in ("icc_profile", "dpi", "transparency"):
        if info.get(kept) is not None:
            params[kept] = info[kept]
    if pillow_format == "JPEG":
        params["quality"] = JPEG_QUALITY
    elif pillow_format == "TIFF":
        params.pop("transparency", None)
        params["compression"] = "tiff_deflate"
        params.update(save_all=True, append_images=frames[1:])
    out = BytesIO()
    try:
        frames[0].save(out, pillow_format, **params)
    except (OSError, ValueError):
        raise ContentRefused("content_corrupt") from None
    return out.getvalue()
