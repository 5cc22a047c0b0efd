"""A short passage around the first match, matched words wrapped in `[[` and `]]`.

Plain text, never HTML: the kiosk escapes it and turns the markers into highlighting.
Square brackets of the source become parentheses, so that a marker is always ours.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from itertools import islice

from server.search import normalise

BEFORE = 60  # characters of context before the first match
LENGTH = 200  # at most, before the ellipses
_WORD = normalise.WORD
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_BRACKETS = str.maketrans("[]", "()")


def passage(
    text: str, hit: Callable[[str], bool], rank: int | None = None, *, nfc: bool = False
) -> str | None:
    """The passage of `text` around its first word for which `hit(folded word)` holds,
    or None when no word of it does. `rank`: that word's rank when the caller found it in
    the folded text (folding may merge or split a rare word: then the words are scanned).
    `nfc`: the caller already put `text` in Unicode normal form C."""
    if not nfc:
        text = unicodedata.normalize("NFC", text)
    first = None
    if rank is not None:
        first = next(islice(_WORD.finditer(text), rank, None), None)
        if first is not None and not _hits(hit, first.group()):
            first = None
    if first is None:
        first = next((m for m in _WORD.finditer(text) if _hits(hit, m.group())), None)
    if first is None:
        return None
    start = max(0, first.start() - BEFORE)
    end = min(len(text), start + LENGTH)
    end = max(end, first.end())
    if start > 0:  # begin and end on whole words
        space = text.find(" ", start, first.start())
        start = space + 1 if space >= 0 else first.start()
    if end < len(text):
        space = text.rfind(" ", first.end(), end)
        end = space if space >= 0 else end
    window = text[start:end]
    originals = list(_WORD.finditer(window))
    folded = normalise.WORD.findall(normalise.fold(window))
    # Folding the window at once and pairing the words costs a tenth of folding each
    # word; a rare character that folding splits or merges breaks the pairing.
    if len(folded) == len(originals):
        hits = [hit(word) for word in folded]
    else:
        hits = [_hits(hit, m.group()) for m in originals]
    out, pos = [], 0
    for m, matched in zip(originals, hits, strict=True):
        if matched:
            out += [_clean(window[pos : m.start()]), "[[", m.group(), "]]"]
            pos = m.end()
    out.append(_clean(window[pos:]))
    body = " ".join("".join(out).split())
    return ("… " if start > 0 else "") + body + (" …" if end < len(text) else "")


def _hits(hit: Callable[[str], bool], word: str) -> bool:
    return any(hit(w) for w in normalise.words(word))


def _clean(piece: str) -> str:
    return _CONTROL.sub(" ", piece).translate(_BRACKETS)
