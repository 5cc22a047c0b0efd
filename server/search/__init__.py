"""Searching a dossier's documents by words without a readable index at rest (issue #11).

`normalise` turns French text into the words that are compared, `tokens` turns words into
keyed, truncated hashes under a key derived from the dossier's own data key, `index`
stores those hashes per document, `query` answers a search: candidates from the index,
confirmed against the decrypted text, filtered by the same policy answer as the listing,
with a snippet (`snippet`). docs/documents.md, "Search", gives the design and its leakage.
"""
