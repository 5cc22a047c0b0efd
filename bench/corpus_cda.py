"""CDA R2 documents of the corpus: structured bodies and non-structured (embedded) ones.

Structured: one section per report section, its narrative (`<text>`: paragraphs and a
table whose rows carry IDs) and its coded entries, each pointing back to its narrative
row: `substanceAdministration` with an ATC code (CIS as translation) for medicines and
vaccines, `observation` with LOINC code, UCUM value and reference range for lab results,
CIM-10 problems, allergies. Non-structured: a `nonXMLBody` carrying the base64 of a PDF
(or, for some, of plain text). No DTD and no entity: the server refuses both.

Written with string templates rather than an XML library: a population writes hundreds
of thousands of these, and the tests parse every kind back with lxml.
"""

from __future__ import annotations

import base64
import random
import uuid
from datetime import date, datetime
from functools import lru_cache

from bench.corpus_text import (
    AllergyItem,
    Entry,
    LabResult,
    MedicationLine,
    Problem,
    Report,
    Section,
    VaccinationItem,
)

LOINC = "2.16.840.1.113883.6.1"
ATC = "2.16.840.1.113883.6.73"
CIS = "1.2.250.1.213.2.3.1"
CIM10 = "2.16.840.1.113883.6.3"
SNOMED = "2.16.840.1.113883.6.96"
INS_NIR = "1.2.250.1.213.1.4.8"
RPPS = "1.2.250.1.71.4.2.1"
FINESS = "1.2.250.1.71.4.2.2"


def x(text: str) -> str:
    """Escapes text for an element or a double-quoted attribute."""
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text or ">" in text:
        text = text.replace("<", "&lt;").replace(">", "&gt;")
    if '"' in text:
        text = text.replace('"', "&quot;")
    return text


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


@lru_cache(maxsize=4096)  # a document repeats its dates; strftime is slow
def _ts(when: datetime | date) -> str:
    if isinstance(when, datetime):
        return f"{when:%Y%m%d%H%M%S}+0000"
    return f"{when:%Y%m%d}"


def header(rng: random.Random, report: Report) -> str:
    ctx = report.ctx
    p = ctx.patient
    a = ctx.author
    doc_id = _uuid(rng)
    if a is None:
        author = (
            f'<author><time value="{_ts(ctx.when)}"/><assignedAuthor><id root="{INS_NIR}" '
            f'extension="{x(p.ins)}"/></assignedAuthor></author>'
        )
    else:
        org_id = f'<id root="{FINESS}" extension="1{x(a.finess)}"/>' if a.finess else ""
        if a.rpps:
            person = (
                f'<id root="{RPPS}" extension="{x(a.rpps)}"/><assignedPerson><name>'
                f"<given>{x(a.given)}</given><family>{x(a.family)}</family></name></assignedPerson>"
            )
        else:  # an organisation writes it (the insurer): no person to name
            person = '<id nullFlavor="UNK"/>'
        author = (
            f'<author><time value="{_ts(ctx.when)}"/><assignedAuthor>{person}'
            f"<representedOrganization>{org_id}<name>{x(a.organisation)}</name>"
            "</representedOrganization></assignedAuthor></author>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:pharm="urn:ihe:pharm" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n'
        '<realmCode code="FR"/><typeId root="2.16.840.1.113883.1.3" extension="POCD_HD000040"/>'
        '<templateId root="2.16.840.1.113883.2.8.2.1"/><templateId root="1.2.250.1.213.1.1.1.1"/>\n'
        f'<id root="1.2.250.1.999.2" extension="{doc_id}"/>'
        f'<code code="{x(report.type_code)}" codeSystem="{LOINC}" codeSystemName="LOINC" '
        f'displayName="{x(report.title)}"/>\n<title>{x(report.title)}</title>'
        f'<effectiveTime value="{_ts(ctx.when)}"/>'
        '<confidentialityCode code="N" codeSystem="2.16.840.1.113883.5.25"/>'
        '<languageCode code="fr-FR"/>'
        f'<setId root="1.2.250.1.999.2" extension="{_uuid(rng)}"/><versionNumber value="1"/>\n'
        f'<recordTarget><patientRole><id root="{INS_NIR}" extension="{x(p.ins)}"/><patient><name>'
        f'<given>{x(p.given)}</given><family qualifier="BR">{x(p.family)}</family></name>'
        f'<administrativeGenderCode code="{p.sex}" codeSystem="2.16.840.1.113883.5.1"/>'
        f'<birthTime value="{_ts(p.birth_date)}"/></patient></patientRole></recordTarget>\n'
        f"{author}\n"
        "<custodian><assignedCustodian><representedCustodianOrganization>"
        '<id root="1.2.250.1.213.4.1" '
        'extension="DMP"/><name>Dossier médical partagé</name></representedCustodianOrganization>'
        "</assignedCustodian></custodian>\n"
        "<documentationOf><serviceEvent>"
        f'<effectiveTime><low value="{_ts(ctx.when)}"/></effectiveTime>'
        "</serviceEvent></documentationOf>\n"
    )


def _narrative(section: Section, sid: str) -> str:
    """Paragraphs and a table; row i (entry i's) has ID `{sid}r{i}`, and its posology
    cell, when the table has one, `{sid}r{i}p`: a medication's text points there."""
    parts = [f"<paragraph>{x(p)}</paragraph>" for p in section.paragraphs]
    if section.header:
        head = "".join(f"<th>{x(h)}</th>" for h in section.header)
        posology = section.header.index("Posologie") if "Posologie" in section.header else -1
        rows = "".join(
            f'<tr ID="{sid}r{i}">'
            + "".join(
                f'<td ID="{sid}r{i}p">{x(c)}</td>' if k == posology else f"<td>{x(c)}</td>"
                for k, c in enumerate(row)
            )
            + "</tr>"
            for i, row in enumerate(section.rows)
        )
        parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
    return "<text>" + "".join(parts) + "</text>"


def _ucum_unit(unit: str) -> str:
    """A UCUM annotation is ASCII: {boite}, {flacon}."""
    return "boite" if unit == "boîte" else unit


def _medication(
    rng: random.Random, line: MedicationLine, mood: str, when: datetime, ref: str
) -> str:
    m = line.medicine
    return (
        f'<substanceAdministration classCode="SBADM" moodCode="{mood}">'
        f'<templateId root="1.3.6.1.4.1.19376.1.5.3.1.4.7"/><id root="{_uuid(rng)}"/>'
        f'<text><reference value="#{ref}"/></text><statusCode code="completed"/>'
        f'<effectiveTime xsi:type="IVL_TS"><low value="{_ts(when)}"/></effectiveTime>'
        "<consumable><manufacturedProduct><manufacturedMaterial>"
        f'<code code="{m.atc}" codeSystem="{ATC}" codeSystemName="ATC" displayName="{x(m.dci)}">'
        f'<translation code="{m.cis}" codeSystem="{CIS}" codeSystemName="CIS"/></code>'
        f'<name>{x(m.name)}</name><pharm:formCode nullFlavor="OTH" displayName="{x(m.form)}"/>'
        "</manufacturedMaterial></manufacturedProduct></consumable>"
        f'<entryRelationship typeCode="COMP"><supply classCode="SPLY" moodCode="{mood}">'
        f'<quantity value="{line.quantity}" unit="{{{_ucum_unit(line.unit)}}}"/>'
        "</supply></entryRelationship>"
        '<entryRelationship typeCode="SUBJ" inversionInd="true">'
        '<act classCode="ACT" moodCode="INT">'
        '<code code="PINSTRUCT" codeSystem="1.3.6.1.4.1.19376.1.5.3.2"/>'
        f"<text>{x(line.posology)}</text></act></entryRelationship>"
        "</substanceAdministration>"
    )


def _lab(rng: random.Random, r: LabResult, when: datetime, ref: str) -> str:
    a = r.analyte
    return (
        '<observation classCode="OBS" moodCode="EVN"><templateId root="1.3.6.1.4.1.19376.1.3.1.6"/>'
        f'<id root="{_uuid(rng)}"/>'
        f'<code code="{a.loinc}" codeSystem="{LOINC}" codeSystemName="LOINC" '
        f'displayName="{x(a.label)}"/><text><reference value="#{ref}"/></text>'
        f'<statusCode code="completed"/><effectiveTime value="{_ts(when)}"/>'
        f'<value xsi:type="PQ" value="{r.value:.{a.decimals}f}" unit="{x(a.ucum)}"/>'
        f'<interpretationCode code="{r.flag}" codeSystem="2.16.840.1.113883.5.83"/>'
        '<referenceRange><observationRange><value xsi:type="IVL_PQ">'
        f'<low value="{a.low:.{a.decimals}f}" unit="{x(a.ucum)}"/>'
        f'<high value="{a.high:.{a.decimals}f}" unit="{x(a.ucum)}"/>'
        "</value></observationRange></referenceRange></observation>"
    )


def _problem(rng: random.Random, p: Problem, ref: str) -> str:
    d = p.disease
    return (
        '<observation classCode="OBS" moodCode="EVN">'
        '<templateId root="1.3.6.1.4.1.19376.1.5.3.1.4.5"/>'
        f'<id root="{_uuid(rng)}"/>'
        f'<code code="55607006" codeSystem="{SNOMED}" displayName="Problème"/>'
        f'<text><reference value="#{ref}"/></text><statusCode code="completed"/>'
        f'<effectiveTime><low value="{p.onset.replace("-", "")}"/></effectiveTime>'
        f'<value xsi:type="CD" code="{d.icd10}" codeSystem="{CIM10}" codeSystemName="CIM-10" '
        f'displayName="{x(d.label)}"/></observation>'
    )


def _allergy(rng: random.Random, item: AllergyItem, ref: str) -> str:
    a = item.allergy
    return (
        '<observation classCode="OBS" moodCode="EVN">'
        '<templateId root="1.3.6.1.4.1.19376.1.5.3.1.4.6"/>'
        f'<id root="{_uuid(rng)}"/><code code="ASSERTION" codeSystem="2.16.840.1.113883.5.4"/>'
        f'<text><reference value="#{ref}"/></text><statusCode code="completed"/>'
        f'<value xsi:type="CD" code="420134006" codeSystem="{SNOMED}" displayName="{x(a.label)}"/>'
        '<participant typeCode="CSM"><participantRole classCode="MANU">'
        '<playingEntity classCode="MMAT">'
        f'<code code="{a.code}" codeSystem="{SNOMED}" displayName="{x(a.substance)}"/>'
        "</playingEntity></participantRole></participant>"
        '<entryRelationship typeCode="MFST" inversionInd="true">'
        '<observation classCode="OBS" moodCode="EVN">'
        '<code code="ASSERTION" codeSystem="2.16.840.1.113883.5.4"/>'
        f'<value xsi:type="CD" nullFlavor="OTH" displayName="{x(item.reaction)}"/></observation>'
        '</entryRelationship><entryRelationship typeCode="SUBJ" inversionInd="true">'
        '<observation classCode="OBS" moodCode="EVN">'
        '<code code="SEV" codeSystem="2.16.840.1.113883.5.4"/>'
        f'<value xsi:type="CD" nullFlavor="OTH" displayName="{x(item.severity)}"/></observation>'
        "</entryRelationship></observation>"
    )


def _vaccination(rng: random.Random, v: VaccinationItem, ref: str) -> str:
    vac = v.vaccine
    return (
        '<substanceAdministration classCode="SBADM" moodCode="EVN">'
        f'<templateId root="1.3.6.1.4.1.19376.1.5.3.1.4.12"/><id root="{_uuid(rng)}"/>'
        f'<text><reference value="#{ref}"/></text><statusCode code="completed"/>'
        f'<effectiveTime value="{_ts(v.on)}"/>'
        "<consumable><manufacturedProduct><manufacturedMaterial>"
        f'<code code="{vac.atc}" codeSystem="{ATC}" codeSystemName="ATC" '
        f'displayName="{x(vac.label)}"/>'
        f"<name>{x(vac.product)}</name><lotNumberText>{x(v.lot)}</lotNumberText>"
        "</manufacturedMaterial></manufacturedProduct></consumable></substanceAdministration>"
    )


def _entry(rng: random.Random, entry: Entry, report: Report, section: Section, ref: str) -> str:
    when = report.ctx.when
    if isinstance(entry, MedicationLine):
        posology = f"{ref}p" if "Posologie" in section.header else ref
        body = _medication(rng, entry, report.medication_mood, when, posology)
    elif isinstance(entry, LabResult):
        body = _lab(rng, entry, when, ref)
    elif isinstance(entry, Problem):
        body = _problem(rng, entry, ref)
    elif isinstance(entry, AllergyItem):
        body = _allergy(rng, entry, ref)
    else:
        body = _vaccination(rng, entry, ref)
    return f"<entry>{body}</entry>"


def structured(rng: random.Random, report: Report) -> bytes:
    parts = [header(rng, report), "<component><structuredBody>\n"]
    for n, section in enumerate(report.sections):
        sid = f"s{n}"
        entries = "".join(
            _entry(rng, e, report, section, f"{sid}r{i}") for i, e in enumerate(section.entries)
        )
        parts.append(
            f'<component><section ID="{sid}"><code code="{section.code}" codeSystem="{LOINC}" '
            f'codeSystemName="LOINC"/><title>{x(section.title)}</title>'
            f"{_narrative(section, sid)}{entries}</section></component>\n"
        )
    parts.append("</structuredBody></component>\n</ClinicalDocument>\n")
    return "".join(parts).encode()


def non_structured(rng: random.Random, report: Report, body: bytes, media_type: str) -> bytes:
    """The CDA envelope around a PDF (or text) made elsewhere: the DMP's most common form."""
    encoded = base64.b64encode(body).decode()
    return (
        header(rng, report)
        + f'<component><nonXMLBody><text mediaType="{media_type}" representation="B64">{encoded}'
        "</text></nonXMLBody></component>\n</ClinicalDocument>\n"
    ).encode()
