"""RTF: its text, for search and reading, by striprtf (pure Python, a regular expression
tokenizer and a list as its group stack: no recursion, no file, no network).

RTF is 7-bit text: every other character is escaped (`\\'e9` in the document's code page,
`\\u233?`), so the bytes decode as Latin-1 without loss and striprtf resolves the escapes.
"""

from __future__ import annotations

from striprtf.striprtf import rtf_to_text

from server.content.limits import Budget
from server.content.reading import Reading
from server.content.sniff import Kind


def read(data: bytes, budget: Budget) -> Reading:
    """The RTF as sent, with its text (None when it holds none). About 0.25 s a megabyte
    here: a 5 MB patient upload stays within the reading's time limit, checked after."""
    found = text(data)
    budget.check()
    found = found[: budget.limits.max_text_chars]
    return Reading(Kind.RTF, data, found if found.strip() else None, "plain")


def text(data: bytes) -> str:
    found = rtf_to_text(data.decode("latin-1"), errors="replace")  # type: ignore[no-untyped-call]
    return str(found).replace("\r\n", "\n")
