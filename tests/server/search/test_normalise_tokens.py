"""Words, stems and keyed tokens, without a database (server/search/normalise, tokens)."""

from __future__ import annotations

import os

import pytest

from server.crypto import Keyring
from server.search import normalise, snippet, tokens


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("HÉPATITE", ["hepatite"]),
        ("hépatite", ["hepatite"]),
        ("He\u0301patite", ["hepatite"]),  # decomposed accent: one word, not two
        ("Œdème", ["oedeme"]),
        ("l'allergie", ["l", "allergie"]),
        ("l’ALLERGIE, post-opératoire", ["l", "allergie", "post", "operatoire"]),
        ("créatinine 82 µmol/L", ["creatinine", "82", "μmol", "l"]),
        ("snake_case", ["snake", "case"]),
    ],
)
def test_words_are_folded_for_case_accents_and_ligatures(text: str, expected: list[str]) -> None:
    assert normalise.words(text) == expected


def test_stop_words_are_not_terms() -> None:
    assert normalise.terms(normalise.words("Le patient a été vu pour la douleur")) == {
        "patient",
        "vu",
        "douleur",
    }


# What the Snowball French stemmer truly gives on folded words (checked, not assumed):
# plural and adjective forms of these words share a stem; these do not.
@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("allergies", "allergique"),
        ("allergie", "allergiques"),
        ("hepatite", "hepatites"),
        ("medicament", "medicaments"),
        ("diabete", "diabetique"),
        ("renal", "renaux"),
    ],
)
def test_the_stemmer_joins(a: str, b: str) -> None:
    assert normalise.stem(a) == normalise.stem(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [("hypertension", "hypertendu"), ("cardiaque", "coeur"), ("hepatite", "hepatique")],
)
def test_the_stemmer_keeps_apart(a: str, b: str) -> None:
    assert normalise.stem(a) != normalise.stem(b)


def _tokens() -> tokens.DossierTokens:
    keyring = Keyring(os.urandom(32))
    return tokens.for_dossier(keyring, keyring.new_wrapped_key())


def test_two_dossiers_give_the_same_word_different_tokens() -> None:
    a, b = _tokens(), _tokens()
    for word in ("hepatite", "allerg", "hyp"):
        assert a.stem(word) != b.stem(word)
        assert a.prefix(word) != b.prefix(word)


def test_the_same_dossier_key_gives_the_same_tokens() -> None:
    keyring = Keyring(os.urandom(32))
    wrapped = keyring.new_wrapped_key()
    assert tokens.for_dossier(keyring, wrapped).for_document(["hepatite"]) == tokens.for_dossier(
        keyring, wrapped
    ).for_document(["hepatite"])


def test_stems_and_prefixes_are_separate_derivations() -> None:
    t = _tokens()
    # The same letters as a stem and a prefix: two unrelated tokens.
    assert t.stem("hyp") != t.prefix("hyp")


def test_tokens_are_truncated_to_the_column_width() -> None:
    t = _tokens()
    values = t.for_document(normalise.words("hypertension artérielle sévère " * 3))
    bound = 2 ** (tokens.TOKEN_BITS - 1)
    assert all(-bound <= v < bound for v in values)


def test_a_document_gives_its_stems_and_bounded_prefixes_not_its_words() -> None:
    t = _tokens()
    found = t.for_document(["hypertension"])
    prefixes = {t.prefix("hypertension"[:n]) for n in range(3, tokens.PREFIX_MAX + 1)}
    # No token of the word itself: a quoted word is looked up by its stem.
    assert found == {t.stem("hypertens"), *prefixes}
    assert t.for_term("hypertension", exact=True) == {t.stem("hypertens")}
    assert t.prefix("hyperte") not in found  # beyond the bound: confirmation decides
    assert t.for_term("hypert", exact=False) & found  # typing finds it
    assert t.for_term("hypertensions", exact=False) & found  # by its stem
    assert t.for_term("hypertension", exact=True) <= found
    assert not t.for_term("hypert", exact=True) & found  # quoted: that word only


def test_a_snippet_marks_every_match_in_a_short_passage() -> None:
    text = "Antécédents : " + "rien de notable. " * 20 + "HÉPATITE B en 2019 ; hépatites."
    out = snippet.passage(text, lambda w: w.startswith("hepatite"))
    assert out is not None
    assert out.startswith("… ")
    assert "[[HÉPATITE]] B en 2019 ; [[hépatites]]." in out
    assert len(out) <= snippet.LENGTH + 10
    assert snippet.passage("rien ici", lambda w: w == "hepatite") is None


def test_a_snippet_never_passes_on_brackets_of_the_source() -> None:
    out = snippet.passage("[[faux]] hépatite ]]", lambda w: w == "hepatite")
    assert out == "((faux)) [[hépatite]] ))"


ROOTS = ["hepat", "allerg", "cardi", "renal", "trait", "medic", "diabet", "public", "an", "ic"]
SUFFIXES = (
    "e es ique iques ite ites ement ements ation ations aux al ale ales euse eux ence ent "
    "ant amment emment ier iere ic isme iste ance able ible logie logies usion ution "
    "issement issements ateur atrice ateurs if ive ives eaux ee ees ais ait erions y"
).split()


@pytest.mark.parametrize("root", ROOTS)
def test_a_word_begins_with_its_stem_but_its_last_letters(root: str) -> None:
    """What the confirmation's pre-filter (query.STEM_TAIL) relies on: only words that
    begin with a term's stem but its last STEM_TAIL letters can share that stem."""
    from server.search.query import STEM_TAIL

    for word in [root] + [root + suffix for suffix in SUFFIXES]:
        stem = normalise.stem(word)
        assert word.startswith(stem[: max(0, len(stem) - STEM_TAIL)]), (word, stem)


def test_a_huge_upload_indexes_a_bounded_number_of_words() -> None:
    t = _tokens()
    found = [f"w{i}" for i in range(tokens.MAX_WORDS_PER_DOCUMENT + 5000)]
    indexed = t.for_document(found)
    assert t.stem("w0") in indexed
    assert t.stem(f"w{tokens.MAX_WORDS_PER_DOCUMENT + 10}") not in indexed
    assert len(indexed) <= tokens.MAX_WORDS_PER_DOCUMENT * (1 + tokens.PREFIX_MAX)
