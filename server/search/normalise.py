"""French-aware normalisation: the one definition of a "word" for the index, the query,
the confirmation and the snippet, so that they can never disagree.

Case and accents are folded before stemming: a user types `hepatite` as often as
`hépatite`, and the Snowball French stemmer gives different stems to the accented and
unaccented spellings of the same word (`activité` -> `activ`, `activite` -> `activit`).
Stemming the folded form gives both spellings one stem, at the price of a few merges the
accents would have told apart.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable

import Stemmer  # PyStemmer: Snowball's own C stemmers

WORD = re.compile(r"[^\W_]+")
_MARKS = re.compile(r"[\u0300-\u036f]")  # combining diacritical marks, split off by NFKD
# Casefolding keeps these ligatures, NFKD does not split them, and French writes them.
# (str.replace, not str.translate: a translation table with multi-letter values costs
# about 10 us a call, more than all the rest of the folding.)
# Longer runs are identifiers, base64 or hashes, not words anyone types.
MAX_WORD = 40

# Snowball's French stop word list (snowballstem.org/algorithms/french/stop.txt), folded:
# words too frequent to tell documents apart. Kept as data, not code.
STOP_WORDS = frozenset(
    """
    au aux avec ce ces dans de des du elle en et eux il ils je la le les leur lui ma mais
    me meme mes moi mon ne nos notre nous on ou par pas pour qu que qui sa se ses son sur
    ta te tes toi ton tu un une vos votre vous c d j l a m n s t y ete etee etees etes
    etant etante etants etantes suis es est sommes sont serai seras sera serons serez
    seront serais serait serions seriez seraient etais etait etions etiez etaient fus fut
    fumes futes furent sois soit soyons soyez soient fusse fusses fussions fussiez
    fussent ayant ayante ayantes ayants eu eue eues eus ai as avons avez ont aurai auras
    aura aurons aurez auront aurais aurait aurions auriez auraient avais avait avions
    aviez avaient eut eumes eutes eurent aie aies ait ayons ayez aient eusse eusses eussions
    eussiez eussent ceci cela cet cette ici ils les leurs quel quels quelle quelles sans soi
    """.split()
)


def fold(text: str) -> str:
    """Lower case (Unicode casefolding), ligatures spelt out, accents removed."""
    lowered = text.casefold().replace("œ", "oe").replace("æ", "ae")
    return _MARKS.sub("", unicodedata.normalize("NFKD", lowered))


def words(text: str) -> list[str]:
    """Every folded word of `text`, in order, stop words included (the snippet needs the
    positions; `terms` drops them)."""
    return [w for w in WORD.findall(fold(text)) if len(w) <= MAX_WORD]


def terms(found: Iterable[str]) -> set[str]:
    """The distinct words worth indexing or asking for: no stop word."""
    return {w for w in found if w not in STOP_WORDS}


_local = threading.local()


def _stemmer() -> Stemmer.Stemmer:
    # A Stemmer object is not thread-safe (PyStemmer's documentation): one per thread.
    # No cache (maxCacheSize 0): a process-wide cache would keep words of every patient's
    # documents in memory between requests.
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = Stemmer.Stemmer("french", 0)
    return stemmer


def stems(folded: Iterable[str]) -> dict[str, str]:
    """The Snowball French stem of each folded word."""
    distinct = list(dict.fromkeys(folded))
    return dict(zip(distinct, _stemmer().stemWords(distinct), strict=True))


def stem(word: str) -> str:
    return str(_stemmer().stemWord(word))
