"""CDA R2 (HL7 v3 XML), the DMP's own format.

A structured body gives sections (title, LOINC code, narrative as sanitised HTML) and
coded entries: medications (substanceAdministration, supply), vaccinations
(substanceAdministration in an immunisation section), and the observations of allergy,
problem and result sections. A non-structured body carries one embedded document
(base64 PDF, or text): its text is read like a deposit of its own.
"""

from __future__ import annotations

import base64
import binascii
import copy
import re
from collections.abc import Iterator
from typing import Any

from lxml import etree

from server.content import images, narrative, pdf, plain, rtf, xml
from server.content.errors import ContentRefused
from server.content.limits import Budget, TextSink
from server.content.reading import Entry, Reading, Section
from server.content.sniff import Kind, sniff

V3 = "urn:hl7-org:v3"
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
NS = {"v3": V3}

# Section codes (LOINC) whose observations are read as entries of one kind.
ALLERGY_SECTIONS = frozenset({"48765-2"})
PROBLEM_SECTIONS = frozenset({"11450-4", "11348-0", "29548-5", "46665-6"})
RESULT_SECTIONS = frozenset({"30954-2", "26436-6", "11502-2", "18719-5", "18723-7"})
VACCINATION_SECTIONS = frozenset({"11369-6", "10157-6"})
# Media types a non-structured body may embed (the CI-SIS list, less what we cannot read).
EMBEDDED = {
    "application/pdf": Kind.PDF,
    "text/plain": Kind.TEXT,
    "image/jpeg": Kind.JPEG,
    "image/tiff": Kind.TIFF,
    "text/rtf": Kind.RTF,
}
MAX_VALUE_CHARS = 1000
# The date part of an HL7 TS, as precise as given (ASCII digits: `\d` takes any script's).
_TS_DATE = re.compile(r"([0-9]{4})([0-9]{2})?([0-9]{2})?")

# CDA narrative elements and the HTML that shows them; the rest lose their tag (nh3).
_HTML_TAGS = {
    "text": "div",
    "paragraph": "p",
    "content": "span",
    "list": "ul",
    "item": "li",
    "linkHtml": "span",
    "footnote": "small",
    "renderMultiMedia": "span",
}
_CELL_ATTRIBUTES = ("colspan", "rowspan")


def read(data: bytes, budget: Budget) -> Reading:
    root = xml.parse(data, budget.limits.max_nesting)
    if root.tag != f"{{{V3}}}ClinicalDocument":
        raise ContentRefused("cda_invalid")
    title = _clean(root.findtext("v3:title", namespaces=NS))
    structured = root.find("v3:component/v3:structuredBody", NS)
    if structured is not None:
        sections, entries = _structured(root, structured, budget)
        return Reading(
            Kind.XML,
            data,
            compose_text(title, sections, entries, budget),
            "narrative",
            sections=sections,
            entries=entries,
        )
    embedded = _embedded(root)
    if embedded is None:
        raise ContentRefused("cda_invalid")
    content, kind = embedded
    if kind is Kind.PDF:
        text = pdf.text_layer(content, budget)
        if not text.strip():
            return Reading(Kind.XML, data, ocr=True)
        return Reading(Kind.XML, data, _with_title(title, text), "layer")
    if kind is Kind.TEXT:
        read_plain = plain.read(content, budget.limits)
        return Reading(Kind.XML, data, _with_title(title, read_plain.text or ""), "plain")
    if kind is Kind.RTF:
        rtf_text = rtf.text(content)[: budget.limits.max_text_chars]
        budget.check()
        return Reading(Kind.XML, data, _with_title(title, rtf_text), "plain")
    # An embedded scan, checked like a deposited one (pixels, truncation) for the OCR
    # worker's sake; it stays inside its CDA as sent.
    images.read(content, kind, budget)
    return Reading(Kind.XML, data, ocr=True)


def embedded(data: bytes, max_nesting: int = 64) -> tuple[bytes, Kind] | None:
    """The document a non-structured CDA body carries, for the OCR worker."""
    root = xml.parse(data, max_nesting)
    return _embedded(root)


def _embedded(root: etree._Element) -> tuple[bytes, Kind] | None:
    body = root.find("v3:component/v3:nonXMLBody/v3:text", NS)
    if body is None:
        return None
    kind = EMBEDDED.get((body.get("mediaType") or "text/plain").lower())
    if kind is None:
        raise ContentRefused("cda_body_unsupported")
    raw = "".join(body.itertext())
    if body.get("representation", "TXT").upper() == "B64":
        try:
            content = base64.b64decode("".join(raw.split()), validate=True)
        except (binascii.Error, ValueError):
            raise ContentRefused("content_corrupt") from None
    else:
        content = raw.encode()
    found = sniff(content)
    if found is not kind and not (kind is Kind.TEXT and found in (Kind.XML, Kind.JSON)):
        # The embedded document must be what its mediaType says, like any deposit.
        raise ContentRefused("content_type_mismatch")
    return content, kind


def compose_text(
    title: str | None, sections: list[Section], entries: list[Entry], budget: Budget
) -> str:
    """The searchable text of a structured document: title, each section's title and
    narrative, then one line per entry with those of its values (in the contract's
    order) the narrative does not already say. A narrative usually lists its entries
    ("Amlodipine 5 mg, 1 cp/j"): repeating them would show every medicine twice in
    snippets and diffs, while a coded value written nowhere else stays searchable."""
    sink = TextSink(budget.limits.max_text_chars)
    sink.add(title or "")
    said: list[str] = []
    for section in sections:
        if sink.full:
            break
        budget.check()
        sink.add(section.get("title") or "")
        text = narrative.text_of(section["html"])
        sink.add(text)
        said.append(text)
    known = " ".join(" ".join(said).split()).casefold()
    for entry in entries:
        values = [v for k, v in entry.items() if k not in ("kind", "section", "code") and v]
        code = entry.get("code") or {}
        unsaid = [
            value
            for value in dict.fromkeys([*map(str, values), code.get("display") or ""])
            if value and " ".join(value.split()).casefold() not in known
        ]
        sink.add(" ".join(unsaid))
    return sink.text()


def _with_title(title: str | None, text: str) -> str:
    return f"{title}\n{text}" if title else text


def _structured(
    root: etree._Element, body: etree._Element, budget: Budget
) -> tuple[list[Section], list[Entry]]:
    ids = {el.get("ID"): el for el in root.iter() if isinstance(el.tag, str) and el.get("ID")}
    sections: list[Section] = []
    entries: list[Entry] = []
    for section in body.iter(f"{{{V3}}}section"):
        budget.check()
        index = len(sections)
        code = section.find("v3:code", NS)
        section_code = code.get("code") if code is not None else None
        text = section.find("v3:text", NS)
        sections.append(
            {
                "title": _clean(section.findtext("v3:title", namespaces=NS)),
                "code": section_code,
                "html": _narrative_html(text) if text is not None else "",
            }
        )
        for entry in section.findall("v3:entry", NS):
            for act in entry:
                entries.extend(_entries(act, section_code or "", index, ids))
    return sections, entries


def _narrative_html(text: etree._Element) -> str:
    tree = copy.deepcopy(text)
    tree.tail = None
    for element in tree.iter():
        if not isinstance(element.tag, str):
            continue
        name = etree.QName(element).localname
        tag = _HTML_TAGS.get(name, name)
        if name == "list" and element.get("listType") == "ordered":
            tag = "ol"
        kept = {k: v for k in _CELL_ATTRIBUTES if (v := element.get(k))}
        element.attrib.clear()
        element.attrib.update(kept)
        element.tag = tag
    etree.cleanup_namespaces(tree)
    return narrative.sanitise(etree.tostring(tree, encoding="unicode", method="html"))


def _entries(
    act: etree._Element, section_code: str, index: int, ids: dict[Any, etree._Element]
) -> Iterator[Entry]:
    name = etree.QName(act).localname if isinstance(act.tag, str) else ""
    if name == "substanceAdministration":
        if section_code in VACCINATION_SECTIONS:
            yield _vaccination(act, index)
        else:
            yield _medication(act, index, ids)
    elif name == "supply":
        yield _medication(act, index, ids)
    elif name in ("observation", "act", "organizer"):
        for observation in _top_observations(act):
            if section_code in ALLERGY_SECTIONS:
                yield _allergy(observation, index)
            elif section_code in PROBLEM_SECTIONS:
                yield _problem(observation, index)
            elif section_code in RESULT_SECTIONS:
                yield _lab_result(observation, index)


def _top_observations(act: etree._Element) -> Iterator[etree._Element]:
    """The observations an entry states, through concern acts and result organizers, not
    those nested in an observation (an allergy's reaction, its severity)."""
    if etree.QName(act).localname == "observation":
        yield act
        return
    for child in act:
        name = etree.QName(child).localname if isinstance(child.tag, str) else ""
        if name == "observation":
            yield child
        elif name in ("entryRelationship", "component", "act", "organizer"):
            yield from _top_observations(child)


def _material(act: etree._Element) -> etree._Element | None:
    for path in (
        "v3:consumable/v3:manufacturedProduct/v3:manufacturedMaterial",
        "v3:product/v3:manufacturedProduct/v3:manufacturedMaterial",
    ):
        found = act.find(path, NS)
        if found is not None:
            return found
    return None


def _medication(act: etree._Element, index: int, ids: dict[Any, etree._Element]) -> Entry:
    material = _material(act)
    code = _code(material.find("v3:code", NS)) if material is not None else None
    form = None
    if material is not None:
        # The French profiles carry the form as pharm:formCode (IHE Pharmacy namespace).
        for child in material:
            if isinstance(child.tag, str) and etree.QName(child).localname == "formCode":
                form = _clean(child.get("displayName")) or _clean("".join(child.itertext()))
    quantity = act.find("v3:quantity", NS)
    if quantity is None:
        quantity = act.find("v3:entryRelationship/v3:supply/v3:quantity", NS)
    posology = _narrative_text(act, ids)
    if posology is None:
        nested = act.find("v3:entryRelationship/v3:substanceAdministration", NS)
        posology = _narrative_text(nested, ids) if nested is not None else None
    return {
        "kind": "medication",
        "section": index,
        "code": code,
        "name": _material_name(material, code),
        "dose": _quantity(act.find("v3:doseQuantity", NS)),
        "form": form,
        "quantity": _quantity(quantity),
        "posology": posology,
    }


def _vaccination(act: etree._Element, index: int) -> Entry:
    material = _material(act)
    code = _code(material.find("v3:code", NS)) if material is not None else None
    return {
        "kind": "vaccination",
        "section": index,
        "code": code,
        "name": _material_name(material, code),
        "date": _time(act.find("v3:effectiveTime", NS)),
        "lot": _clean(material.findtext("v3:lotNumberText", namespaces=NS))
        if material is not None
        else None,
    }


def _allergy(observation: etree._Element, index: int) -> Entry:
    value = observation.find("v3:value", NS)
    agent = observation.find("v3:participant/v3:participantRole/v3:playingEntity", NS)
    code = _code(agent.find("v3:code", NS)) if agent is not None else None
    code = code or _code(value)
    name = _clean(agent.findtext("v3:name", namespaces=NS)) if agent is not None else None
    reaction = severity = None
    for nested in observation.findall("v3:entryRelationship/v3:observation", NS):
        nested_code = nested.find("v3:code", NS)
        shown = _display(nested.find("v3:value", NS))
        if nested_code is not None and nested_code.get("code") == "SEV":
            severity = shown
        elif reaction is None:
            reaction = shown
    return {
        "kind": "allergy",
        "section": index,
        "code": code,
        "name": name or (code or {}).get("display"),
        "reaction": reaction,
        "severity": severity,
    }


def _problem(observation: etree._Element, index: int) -> Entry:
    value = observation.find("v3:value", NS)
    code = _code(value)
    return {
        "kind": "problem",
        "section": index,
        "code": code,
        "name": _display(value),
        "onset": _time(observation.find("v3:effectiveTime", NS)),
    }


def _lab_result(observation: etree._Element, index: int) -> Entry:
    code = _code(observation.find("v3:code", NS))
    value = observation.find("v3:value", NS)
    shown = unit = None
    if value is not None:
        if value.get("value") is not None:
            shown, unit = _clean(value.get("value")), _clean(value.get("unit"))
        else:
            shown = _display(value) or _clean("".join(value.itertext()))
    if unit == "1":
        unit = None
    return {
        "kind": "lab_result",
        "section": index,
        "code": code,
        "name": (code or {}).get("display")
        or _clean(observation.findtext("v3:code/v3:originalText", namespaces=NS)),
        "value": shown,
        "unit": unit,
        "reference_range": _range(observation.find("v3:referenceRange/v3:observationRange", NS)),
        "date": _time(observation.find("v3:effectiveTime", NS)),
    }


def _range(observation_range: etree._Element | None) -> str | None:
    if observation_range is None:
        return None
    text = _clean(observation_range.findtext("v3:text", namespaces=NS))
    if text:
        return text
    low = observation_range.find("v3:value/v3:low", NS)
    high = observation_range.find("v3:value/v3:high", NS)
    bounds = [b.get("value") for b in (low, high) if b is not None and b.get("value")]
    return _clean("-".join(bounds)) if bounds else None


def _code(element: etree._Element | None) -> dict[str, str | None] | None:
    if element is None or not element.get("code"):
        return None
    system = element.get("codeSystem")
    return {
        "system": f"urn:oid:{system}" if system else None,
        "code": _clean(element.get("code")),
        "display": _clean(element.get("displayName")),
    }


def _display(element: etree._Element | None) -> str | None:
    if element is None:
        return None
    return _clean(element.get("displayName")) or _clean(
        element.findtext("v3:originalText", namespaces=NS)
    )


def _material_name(
    material: etree._Element | None, code: dict[str, str | None] | None
) -> str | None:
    name = _clean(material.findtext("v3:name", namespaces=NS)) if material is not None else None
    return name or (code or {}).get("display")


def _quantity(element: etree._Element | None) -> str | None:
    if element is None or element.get("value") is None:
        return None
    value, unit = element.get("value"), element.get("unit")
    return _clean(f"{value} {unit}" if unit and unit != "1" else value)


def _narrative_text(act: etree._Element, ids: dict[Any, etree._Element]) -> str | None:
    """An act's text: inline, or a reference to the narrative ("#id")."""
    text = act.find("v3:text", NS)
    if text is None:
        return None
    reference = text.find("v3:reference", NS)
    if reference is not None:
        target = ids.get((reference.get("value") or "").removeprefix("#"))
        if target is not None:
            return _clean("".join(target.itertext()))
    return _clean("".join(text.itertext()))


def _time(element: etree._Element | None) -> str | None:
    """An HL7 TS (yyyymmddhhmmss+zzzz, any precision) as an ISO date, to the day."""
    if element is None:
        return None
    value = element.get("value")
    if value is None:
        low = element.find("v3:low", NS)
        value = low.get("value") if low is not None else None
    found = _TS_DATE.match(value or "")
    return "-".join(part for part in found.groups() if part) if found else None


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    text = " ".join(value.split())[:MAX_VALUE_CHARS]
    return text or None
