"""Encoding and decoding of the card's data objects: the FCI and the identity files."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from . import tlv
from .errors import MalformedCardDataError
from .identity import PatientIdentity, ProfessionalIdentity, Sex, Structure
from .profile import (
    CARD_SERIAL_LENGTH,
    PROFILE_VERSION,
    TAG_BIRTH_DATE,
    TAG_BIRTH_NAME,
    TAG_BIRTH_PLACE,
    TAG_BIRTH_RANK,
    TAG_CARD_SERIAL,
    TAG_DF_NAME,
    TAG_FCI,
    TAG_FCI_PROPRIETARY,
    TAG_FIRST_NAME,
    TAG_IDENTITY,
    TAG_INS,
    TAG_LAST_NAME,
    TAG_NATIONAL_ID,
    TAG_OID,
    TAG_PRO_FIRST_NAME,
    TAG_PROFESSION,
    TAG_PROFILE_VERSION,
    TAG_SEX,
    TAG_SPECIALTY,
    TAG_STRUCTURE,
    TAG_STRUCTURE_ID,
    TAG_STRUCTURE_NAME,
    TAG_USAGE_NAME,
)


@dataclass(frozen=True)
class Fci:
    aid: bytes
    serial: bytes
    version: int


def encode_fci(aid: bytes, serial: bytes) -> bytes:
    proprietary = tlv.encode(TAG_CARD_SERIAL, serial) + tlv.encode(
        TAG_PROFILE_VERSION, bytes([PROFILE_VERSION])
    )
    return tlv.encode(
        TAG_FCI, tlv.encode(TAG_DF_NAME, aid) + tlv.encode(TAG_FCI_PROPRIETARY, proprietary)
    )


def decode_fci(data: bytes) -> Fci:
    root = tlv.parse_single(data)
    if root.tag != TAG_FCI:
        raise MalformedCardDataError(f"FCI template expected, got tag {root.tag:X}")
    fields = _one_each(root.children(), "FCI")
    proprietary = _one_each(tlv.parse(_require(fields, TAG_FCI_PROPRIETARY, "FCI")), "FCI A5")
    serial = _require(proprietary, TAG_CARD_SERIAL, "FCI")
    version = _require(proprietary, TAG_PROFILE_VERSION, "FCI")
    if len(serial) != CARD_SERIAL_LENGTH or len(version) != 1:
        raise MalformedCardDataError("FCI serial or version has the wrong size")
    return Fci(_require(fields, TAG_DF_NAME, "FCI"), serial, version[0])


def encode_oid(dotted: str) -> bytes:
    arcs = [int(part) for part in dotted.split(".")]
    if len(arcs) < 2 or arcs[0] > 2 or (arcs[0] < 2 and arcs[1] >= 40):
        raise ValueError(f"not an OID: {dotted}")
    out = bytearray()
    for arc in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out += bytes(reversed(chunk))
    return bytes(out)


def decode_oid(raw: bytes) -> str:
    if not raw or raw[-1] & 0x80:
        raise MalformedCardDataError("truncated OID")
    arcs: list[int] = []
    value = 0
    for byte in raw:
        if value == 0 and byte == 0x80:
            raise MalformedCardDataError("non-minimal OID arc")
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(str(arc) for arc in [first, arcs[0] - 40 * first, *arcs[1:]])


def encode_patient_identity(identity: PatientIdentity) -> bytes:
    body = tlv.encode(TAG_BIRTH_NAME, identity.birth_name.encode())
    body += b"".join(tlv.encode(TAG_FIRST_NAME, name.encode()) for name in identity.first_names)
    body += tlv.encode(TAG_BIRTH_DATE, identity.birth_date.strftime("%Y%m%d").encode())
    body += tlv.encode(TAG_SEX, identity.sex.value.encode())
    body += tlv.encode(TAG_BIRTH_RANK, bytes([identity.birth_rank]))
    if identity.birth_place is not None:
        body += tlv.encode(TAG_BIRTH_PLACE, identity.birth_place.encode())
    if identity.usage_name is not None:
        body += tlv.encode(TAG_USAGE_NAME, identity.usage_name.encode())
    body += tlv.encode(TAG_INS, identity.ins.encode())
    body += tlv.encode(TAG_OID, encode_oid(identity.ins_oid))
    return tlv.encode(TAG_IDENTITY, body)


def decode_patient_identity(data: bytes) -> PatientIdentity:
    groups = _identity_groups(data)
    fields = _single_fields(groups, exclude={TAG_FIRST_NAME})
    first_names = tuple(_text(raw) for raw in groups.get(TAG_FIRST_NAME, []))
    rank = _require(fields, TAG_BIRTH_RANK, "identity")
    if len(rank) != 1:
        raise MalformedCardDataError("birth rank is one byte")
    try:
        return PatientIdentity(
            birth_name=_text(_require(fields, TAG_BIRTH_NAME, "identity")),
            first_names=first_names,
            birth_date=_date(_require(fields, TAG_BIRTH_DATE, "identity")),
            sex=Sex(_text(_require(fields, TAG_SEX, "identity"))),
            birth_rank=rank[0],
            ins=_text(_require(fields, TAG_INS, "identity")),
            ins_oid=decode_oid(_require(fields, TAG_OID, "identity")),
            birth_place=_optional_text(fields, TAG_BIRTH_PLACE),
            usage_name=_optional_text(fields, TAG_USAGE_NAME),
        )
    except ValueError as exc:
        raise MalformedCardDataError(f"patient identity rejected: {exc}") from exc


def encode_professional_identity(identity: ProfessionalIdentity) -> bytes:
    body = tlv.encode(TAG_LAST_NAME, identity.last_name.encode())
    body += tlv.encode(TAG_PRO_FIRST_NAME, identity.first_name.encode())
    body += tlv.encode(TAG_NATIONAL_ID, identity.national_id.encode())
    body += tlv.encode(TAG_PROFESSION, identity.profession.encode())
    if identity.specialty is not None:
        body += tlv.encode(TAG_SPECIALTY, identity.specialty.encode())
    structure = tlv.encode(TAG_STRUCTURE_ID, identity.structure.identifier.encode())
    structure += tlv.encode(TAG_STRUCTURE_NAME, identity.structure.name.encode())
    body += tlv.encode(TAG_STRUCTURE, structure)
    return tlv.encode(TAG_IDENTITY, body)


def decode_professional_identity(data: bytes) -> ProfessionalIdentity:
    fields = _single_fields(_identity_groups(data), exclude=set())
    structure = _one_each(tlv.parse(_require(fields, TAG_STRUCTURE, "identity")), "structure")
    try:
        return ProfessionalIdentity(
            last_name=_text(_require(fields, TAG_LAST_NAME, "identity")),
            first_name=_text(_require(fields, TAG_PRO_FIRST_NAME, "identity")),
            national_id=_text(_require(fields, TAG_NATIONAL_ID, "identity")),
            profession=_text(_require(fields, TAG_PROFESSION, "identity")),
            specialty=_optional_text(fields, TAG_SPECIALTY),
            structure=Structure(
                identifier=_text(_require(structure, TAG_STRUCTURE_ID, "structure")),
                name=_text(_require(structure, TAG_STRUCTURE_NAME, "structure")),
            ),
        )
    except ValueError as exc:
        raise MalformedCardDataError(f"professional identity rejected: {exc}") from exc


def _identity_groups(data: bytes) -> dict[int, list[bytes]]:
    root = tlv.parse_single(data)
    if root.tag != TAG_IDENTITY:
        raise MalformedCardDataError(f"identity template expected, got tag {root.tag:X}")
    groups: dict[int, list[bytes]] = defaultdict(list)
    for item in root.children():
        groups[item.tag].append(item.value)
    return dict(groups)


def _single_fields(groups: dict[int, list[bytes]], exclude: set[int]) -> dict[int, bytes]:
    # Unknown tags are tolerated (a later profile version may add fields) but a known
    # field present twice is ambiguous, so malformed.
    fields: dict[int, bytes] = {}
    for tag, values in groups.items():
        if tag in exclude:
            continue
        if len(values) != 1:
            raise MalformedCardDataError(f"tag {tag:X} appears {len(values)} times")
        fields[tag] = values[0]
    return fields


def _one_each(items: list[tlv.Tlv], where: str) -> dict[int, bytes]:
    fields: dict[int, bytes] = {}
    for item in items:
        if item.tag in fields:
            raise MalformedCardDataError(f"tag {item.tag:X} repeated in {where}")
        fields[item.tag] = item.value
    return fields


def _require(fields: dict[int, bytes], tag: int, where: str) -> bytes:
    try:
        return fields[tag]
    except KeyError:
        raise MalformedCardDataError(f"{where}: mandatory tag {tag:X} missing") from None


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedCardDataError("text field is not UTF-8") from exc


def _optional_text(fields: dict[int, bytes], tag: int) -> str | None:
    return _text(fields[tag]) if tag in fields else None


def _date(raw: bytes) -> date:
    if len(raw) != 8 or not raw.isdigit():
        raise MalformedCardDataError("birth date is not YYYYMMDD")
    try:
        return datetime.strptime(raw.decode("ascii"), "%Y%m%d").date()
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedCardDataError("birth date is not YYYYMMDD") from exc
