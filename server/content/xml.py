"""XML parsed with everything that reaches outside the document turned off.

lxml (libxml2) with no network, no DTD loaded, no entity resolved and libxml2's own size
limits kept (no `huge_tree`). A DOCTYPE is refused outright, before the root element's
content is parsed: a CDA needs none, and the DTD is where external entities (XXE) and
entity expansion bombs ("billion laughs") live. Nesting is bounded while parsing.
"""

from __future__ import annotations

from io import BytesIO

from lxml import etree

from server.content.errors import ContentRefused


def parse(data: bytes, max_nesting: int) -> etree._Element:
    events = etree.iterparse(
        BytesIO(data),
        events=("start", "end"),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    depth = 0
    try:
        for event, element in events:
            if event == "end":
                depth -= 1
                continue
            if depth == 0 and element.getroottree().docinfo.doctype:
                raise ContentRefused("xml_doctype")
            depth += 1
            if depth > max_nesting:
                raise ContentRefused("content_too_deep")
    except etree.XMLSyntaxError as exc:
        # libxml2's own depth limit (256) answers a resource-limit error.
        deep = "depth" in str(exc).lower()
        raise ContentRefused("content_too_deep" if deep else "content_corrupt") from None
    root: etree._Element = events.root
    return root
