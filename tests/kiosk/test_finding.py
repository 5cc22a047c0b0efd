"""The search results' highlighting: only the server's [[marks]] become markup."""

from __future__ import annotations

import pytest

from kiosk.pages.finding import highlighted


@pytest.mark.parametrize(
    ("snippet", "html"),
    [
        ("Suivi du [[traitement]].", "Suivi du <mark>traitement</mark>."),
        ("[[Hépatite]] B et [[hépatites]]", "<mark>Hépatite</mark> B et <mark>hépatites</mark>"),
        ("<script>alert(1)</script> [[x]]", "&lt;script&gt;alert(1)&lt;/script&gt; <mark>x</mark>"),
        ("[[<b>gras</b>]]", "<mark>&lt;b&gt;gras&lt;/b&gt;</mark>"),
        ("un [[ sans fin", "un [[ sans fin"),
        ("", ""),
    ],
)
def test_only_the_servers_marks_become_markup(snippet: str, html: str) -> None:
    assert str(highlighted(snippet)) == html
