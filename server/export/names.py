"""File names inside the export's archive."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

EXTENSIONS = {
    "application/pdf": ".pdf",
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/tiff": ".tif",
    "text/plain": ".txt",
    "text/rtf": ".rtf",
    "application/rtf": ".rtf",
    "text/xml": ".xml",
    "application/xml": ".xml",
    "application/fhir+json": ".json",
    "application/json": ".json",
}


def original_name(row: Any) -> str:
    """A readable, safe file name: date, title in ASCII, a piece of the logical id (two
    documents may share a title), the format's extension."""
    ascii_title = unicodedata.normalize("NFKD", row.title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^A-Za-z0-9]+", "-", ascii_title).strip("-")[:60] or "document"
    day = row.created_at.strftime("%Y-%m-%d")
    return f"{day}_{slug}_{row.logical_id[:8]}{EXTENSIONS.get(row.mime_type, '.bin')}"
