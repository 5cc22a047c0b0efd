"""What reading one content gives: the bytes to store, its text and its structure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from server.content.sniff import Kind

# The JSON shapes of docs/documents.md ("Stored per document version").
Section = dict[str, Any]  # {"title", "code", "html"}
Entry = dict[str, Any]  # {"kind", "section", "code", "name", ...}


@dataclass(frozen=True, slots=True)
class Reading:
    """`text` is None when there is none yet: `ocr` says whether the worker must read it
    (a scan, a photograph), else the content holds none. `source`: layer (PDF text
    layer), narrative (CDA, FHIR), plain (text, RTF)."""

    kind: Kind
    body: bytes
    text: str | None = None
    source: str | None = None
    ocr: bool = False
    sections: list[Section] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)

    @property
    def text_status(self) -> str:
        if self.text is not None:
            return "ready"
        return "pending" if self.ocr else "none"
