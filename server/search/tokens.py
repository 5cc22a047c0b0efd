"""Keyed token hashes: what the index stores instead of words.

Per dossier, a search key is derived (HKDF) from the dossier's data key, and from it one
HMAC-SHA256 key per kind of token, so that a stem and a prefix that happen to be the same
letters never give the same token. There is no token for the word itself: a word is found
through its stem (a quoted word looks its stem up, and the confirmation keeps only the
documents holding that very word), which spares a third of the index.

A token is the HMAC truncated to TOKEN_BITS bits (a signed 32-bit integer column):
truncation makes distinct words collide now and then, which the query's confirmation
against the decrypted text undoes (false positives, never false negatives).
docs/documents.md gives the sizing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from server.crypto import Keyring
from server.search import normalise

TOKEN_BITS = 32
# Prefixes from PREFIX_MIN letters (fewer would match half the dictionary) up to
# PREFIX_MAX: a longer typed prefix looks up its first PREFIX_MAX letters and the
# confirmation keeps only the words that really begin with all of it.
PREFIX_MIN = 3
PREFIX_MAX = 6
# Distinct words indexed per document, in order of first appearance: a clinical report
# has a few hundred; a 5 MB upload of random text would otherwise cost a million HMACs
# and postings (a deposit must stay cheap whatever the patient uploads).
MAX_WORDS_PER_DOCUMENT = 20_000
SEARCH_PURPOSE = "search-index-v1"
KINDS = ("stem", "prefix")


class _Keyed:
    """HMAC-SHA256 under one key, truncated to a signed TOKEN_BITS integer."""

    def __init__(self, key: bytes) -> None:
        self._base = hmac.HMAC(key, hashes.SHA256())

    def __call__(self, value: str) -> int:
        mac = self._base.copy()  # the key schedule is done once, not per token
        mac.update(value.encode())
        return int.from_bytes(mac.finalize()[: TOKEN_BITS // 8], "big", signed=True)


@dataclass(frozen=True, slots=True)
class DossierTokens:
    """The token functions of one dossier."""

    stem: _Keyed
    prefix: _Keyed

    def for_document(self, found: Iterable[str]) -> set[int]:
        """Every token a document's words give: each word's stem and prefixes."""
        distinct = list(dict.fromkeys(w for w in found if w not in normalise.STOP_WORDS))
        distinct = distinct[:MAX_WORDS_PER_DOCUMENT]
        stems = normalise.stems(distinct)
        # Each distinct stem and prefix is hashed once: many words share them ("hyp",
        # "hype", "hyper" for a whole family), and the HMACs are most of a deposit's
        # indexing time.
        prefixes = {
            # Shorter than the word itself: the whole word is found through its stem.
            word[:n]
            for word in distinct
            for n in range(PREFIX_MIN, min(len(word) - 1, PREFIX_MAX) + 1)
        }
        out = {self.stem(stem) for stem in set(stems.values())}
        out.update(self.prefix(prefix) for prefix in prefixes)
        return out

    def for_term(self, term: str, *, exact: bool) -> set[int]:
        """The tokens a query term looks up: any of them makes a candidate. `exact` (a
        quoted word): its stem only, no prefix; the confirmation wants the very word."""
        sure, unsure = self.lookup(term, exact=exact)
        return sure | unsure

    def lookup(self, term: str, *, exact: bool) -> tuple[set[int], set[int]]:
        """(sure, unsure): the tokens a query term looks up, split by what a match means.
        A document holding a sure token holds a word the term accepts (one with its
        stem, or one beginning with it), but for a 32-bit collision; an unsure one only
        narrows: a prefix cut at PREFIX_MAX letters, or the stem of a quoted word, which
        other words share. Only unsure matches need the text to be confirmed."""
        stem = {self.stem(normalise.stem(term))}
        if exact:
            return set(), stem
        if len(term) < PREFIX_MIN:
            return stem, set()
        prefix = {self.prefix(term[:PREFIX_MAX])}
        if len(term) <= PREFIX_MAX:
            return stem | prefix, set()
        return stem, prefix


def for_dossier(keyring: Keyring, wrapped_key: bytes) -> DossierTokens:
    search_key = keyring.dossier_key(wrapped_key, SEARCH_PURPOSE)
    keys = {
        kind: HKDFExpand(hashes.SHA256(), 32, info=kind.encode()).derive(search_key)
        for kind in KINDS
    }
    return DossierTokens(_Keyed(keys["stem"]), _Keyed(keys["prefix"]))
