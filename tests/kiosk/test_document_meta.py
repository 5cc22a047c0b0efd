"""A document's line of details (category · date · author): what is unknown is left out,
never shown as an empty place after a separator (issue 14)."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from flask import g, render_template_string

from kiosk.app import create_kiosk_app
from kiosk.client import ServerClient
from kiosk.readers import DemoReaders
from kiosk.terminal import Terminal

META = '{% from "_documents.html" import doc_meta with context %}{{ doc_meta(d) }}'
DOC = {
    "category": "CR",
    "category_label": "Comptes rendus",
    "created_at": "2026-03-03T10:00:00+00:00",
    "labels": [],
}


@pytest.fixture
def app() -> Any:
    client = ServerClient("http://127.0.0.1:9", "borne", ec.generate_private_key(ec.SECP256R1()))
    return create_kiosk_app(
        Terminal(DemoReaders(), client),
        {"COOKIE_SECURE": True, "DEFAULT_LANG": "fr", "HOST": "127.0.0.1"},
    )


def meta(app: Any, doc: dict[str, Any], lang: str = "fr") -> str:
    with app.test_request_context("/", headers={"Host": "127.0.0.1"}):
        g.lang = lang
        html = render_template_string(META, d=doc)
    return html.split('<span class="meta">')[1].split("</span>")[0]


@pytest.mark.parametrize(
    ("author", "expected"),
    [
        ({"kind": "professional", "name": "Jean DUPONT"}, "03/03/2026 · Jean DUPONT"),
        ({"kind": "patient"}, "03/03/2026 · le patient"),
        ({"kind": "professional", "name": ""}, "03/03/2026"),
        (None, "03/03/2026"),
    ],
)
def test_author_shown_only_when_known(app: Any, author: Any, expected: str) -> None:
    line = meta(app, {**DOC, "author": author})
    assert line.endswith(expected)
    assert not line.rstrip().endswith("·")
    assert "·  ·" not in line


def test_a_missing_date_leaves_no_separator(app: Any) -> None:
    line = meta(app, {**DOC, "created_at": None, "author": {"name": "Jean DUPONT"}})
    assert line.count("·") == 1


def test_versions_list_has_no_dot_after_an_unnamed_author(app: Any) -> None:
    with app.test_request_context("/", headers={"Host": "127.0.0.1"}):
        g.lang = "fr"
        html = render_template_string(
            '{% from "_documents.html" import author_name, dotted with context %}'
            '{{ dotted([_("déposée le {day}", day=day), author_name(a)]) }}',
            day="03/03/2026",
            a={"kind": "insurer", "name": ""},
        )
    assert html == "déposée le 03/03/2026"
