"""Narrative as sanitised HTML (nh3) and as plain text, for CDA and FHIR sections.

The kiosk shows a section's narrative under its CSP; nh3 (Ammonia) keeps only the
document-shaped tags below, with no script, style, link, image or event attribute.
"""

from __future__ import annotations

import re

import nh3
from lxml import etree, html

from server.content.errors import ContentRefused

ALLOWED_TAGS = frozenset(
    {
        *("p", "br", "div", "span", "pre", "blockquote"),
        *("h1", "h2", "h3", "h4", "h5", "h6"),
        *("ul", "ol", "li", "dl", "dt", "dd"),
        *("table", "caption", "colgroup", "col", "thead", "tbody", "tfoot", "tr", "th", "td"),
        *("b", "strong", "i", "em", "u", "sub", "sup", "small"),
    }
)
ALLOWED_ATTRIBUTES = {
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "col": {"span"},
    "colgroup": {"span"},
    "ol": {"start"},
}
# Blocks end a line of the text; cells are separated on their line.
_BLOCKS = frozenset(
    {"p", "br", "div", "pre", "blockquote", "li", "dt", "dd", "tr", "caption"}
    | {"h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "dl"}
)
_CELLS = frozenset({"td", "th"})
_SPACES = re.compile(r"[ \t\f\v\u00a0]+")


def sanitise(markup: str) -> str:
    return nh3.clean(
        markup,
        tags=set(ALLOWED_TAGS),
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        clean_content_tags={"script", "style"},
        strip_comments=True,
        link_rel=None,
        url_schemes=set(),
    ).strip()


def text_of(clean_html: str) -> str:
    """The text of sanitised HTML, one line per block, cells separated by " | "."""
    if not clean_html:
        return ""
    try:
        root = html.fragment_fromstring(clean_html, create_parent="div")
    except (etree.ParserError, etree.XMLSyntaxError, ValueError):
        # libxml2's HTML parser refuses what it cannot nest (depth beyond its limit).
        raise ContentRefused("content_too_deep") from None
    out: list[str] = []
    for event, element in etree.iterwalk(root, events=("start", "end")):
        tag = element.tag if isinstance(element.tag, str) else ""
        if event == "start":
            out.append(element.text or "")
            continue
        if tag in _BLOCKS:
            out.append("\n")
        elif tag in _CELLS:
            out.append(" | ")
        out.append(element.tail or "")
    return tidy("".join(out))


def tidy(text: str) -> str:
    """Runs of spaces to one, no blank or edge-padded lines."""
    lines = (_SPACES.sub(" ", line).strip(" |") for line in text.splitlines())
    return "\n".join(line.strip() for line in lines if line.strip())
