"""RTF: its text, for search and reading, by striprtf (pure Python, a regular expression
tokenizer and a list as its group stack: no recursion, no file, no network).

RTF is 7-bit text: every other character is escaped (`\\'e9` in the document's code page,
`\\u233?`), so the bytes decode as Latin-1 without loss and striprtf resolves the escapes.
A `\\uN` holds one UTF-16 code unit, a signed 16-bit number: a character beyond the
basic plane (an emoji, as Word writes one) is two of them, a surrogate pair that we join
after striprtf; a value out of range, or a lone half, becomes U+FFFD.
"""

from __future__ import annotations

import re

from striprtf.striprtf import rtf_to_text

from server.content.errors import ContentRefused
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


_UNICODE_ESCAPE = re.compile(r"\\u(-?[0-9]+)")
_REPLACEMENT = r"\u65533"


def _in_range(escape: re.Match[str]) -> str:
    """Leaves a 16-bit `\\uN` alone; anything larger (which striprtf passes to chr())
    becomes the replacement character."""
    digits = escape.group(1)
    return escape.group(0) if len(digits) <= 6 and -32768 <= int(digits) <= 65535 else _REPLACEMENT


def text(data: bytes) -> str:
    escaped = _UNICODE_ESCAPE.sub(_in_range, data.decode("latin-1"))
    try:
        found = str(rtf_to_text(escaped, errors="replace"))  # type: ignore[no-untyped-call]
    except (TypeError, ValueError, OverflowError, IndexError, LookupError):
        # striprtf trips on malformed control words (`\\uc` without its number, a
        # `\\ansicpg` naming no code page...): the file cannot be read as RTF.
        raise ContentRefused("content_corrupt") from None
    # striprtf gives each code unit as its own character: pairs joined, lone halves replaced.
    joined = found.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return joined.replace("\r\n", "\n")
