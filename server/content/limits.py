"""How much work reading one content may cost (settings in server/config.py)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from server.content.errors import ContentRefused


@dataclass(frozen=True, slots=True)
class Limits:
    max_pages: int = 1000
    max_pixels: int = 50_000_000
    max_decompressed: int = 50 * 1024 * 1024
    max_text_chars: int = 2_000_000
    max_nesting: int = 64
    seconds: float = 10.0

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> Limits:
        return cls(
            max_pages=int(settings["MAX_DOCUMENT_PAGES"]),
            max_pixels=int(settings["MAX_IMAGE_PIXELS"]),
            max_decompressed=int(settings["MAX_DECOMPRESSED_BYTES"]),
            max_text_chars=int(settings["MAX_EXTRACTED_TEXT_CHARS"]),
            max_nesting=int(settings["MAX_CONTENT_NESTING"]),
            seconds=float(settings["CONTENT_READ_SECONDS"]),
        )


@dataclass(slots=True)
class Budget:
    """The time left to read one content, checked between units of work (pages): the
    parsers are not interruptible, so each unit is bounded by the other limits."""

    limits: Limits
    deadline: float = field(default=0.0)

    def __post_init__(self) -> None:
        self.deadline = time.monotonic() + self.limits.seconds

    def check(self) -> None:
        if time.monotonic() > self.deadline:
            raise ContentRefused("content_too_complex")


class TextSink:
    """Collects extracted text up to the size limit; the rest is dropped, not refused (a
    long report stays storable, only its tail is not searchable)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[str] = []
        self.size = 0

    @property
    def full(self) -> bool:
        return self.size >= self.limit

    def add(self, text: str) -> None:
        room = self.limit - self.size
        if room <= 0 or not text:
            return
        piece = text[:room]
        self.parts.append(piece)
        self.size += len(piece)

    def text(self) -> str:
        return "\n".join(self.parts)[: self.limit]
