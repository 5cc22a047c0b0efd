"""The card file: everything an emulated card holds, as JSON on disk.

The file is the card's secure element: it holds the private key, so it is written
with mode 0600, and the PIN/PUK only as salted hashes. Try counters are saved on every
change, atomically (temp file + os.replace), so that killing the emulator between the
decrement and the comparison still costs the try ("keep the counter across restarts").
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes

from ..identity import PatientIdentity, ProfessionalIdentity, Sex, Structure
from ..profile import KIND_AIDS, CardKind

FORMAT = "dmp-kiosk-card/1"
_SALT_BYTES = 16


class CardFileError(ValueError):
    """A card file that cannot be loaded (missing field, bad JSON, bad identity)."""


def hash_secret(salt: bytes, secret: bytes) -> bytes:
    digest = hashes.Hash(hashes.SHA256())
    digest.update(salt)
    digest.update(secret)
    return digest.finalize()


@dataclass
class ReferenceData:
    """A PIN or PUK as the card stores it: salted hash and try counter."""

    salt: bytes
    digest: bytes
    tries_remaining: int
    max_tries: int

    @classmethod
    def create(cls, secret: str, max_tries: int) -> ReferenceData:
        salt = secrets.token_bytes(_SALT_BYTES)
        return cls(salt, hash_secret(salt, secret.encode("ascii")), max_tries, max_tries)

    def replace_secret(self, secret: bytes) -> None:
        self.salt = secrets.token_bytes(_SALT_BYTES)
        self.digest = hash_secret(self.salt, secret)

    def to_json(self) -> dict[str, Any]:
        return {
            "salt": self.salt.hex(),
            "sha256": self.digest.hex(),
            "tries_remaining": self.tries_remaining,
            "max_tries": self.max_tries,
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ReferenceData:
        return cls(
            bytes.fromhex(raw["salt"]),
            bytes.fromhex(raw["sha256"]),
            int(raw["tries_remaining"]),
            int(raw["max_tries"]),
        )


Identity = PatientIdentity | ProfessionalIdentity


@dataclass
class CardFile:
    kind: CardKind
    serial: bytes
    identity: Identity
    private_key_pem: bytes
    certificate_pem: bytes
    chain_pem: list[bytes] = field(default_factory=list)
    pin: ReferenceData | None = None
    puk: ReferenceData | None = None
    demo: bool = False
    notice: str = ""

    @property
    def aid(self) -> bytes:
        return KIND_AIDS[self.kind]

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "format": FORMAT,
            "demo": self.demo,
            "notice": self.notice,
            "kind": self.kind.value,
            "aid": self.aid.hex().upper(),
            "serial": self.serial.hex().upper(),
            "identity": identity_to_json(self.identity),
            "certificate_pem": self.certificate_pem.decode(),
            "chain_pem": [pem.decode() for pem in self.chain_pem],
            "private_key_pem": self.private_key_pem.decode(),
        }
        if self.pin is not None:
            data["pin"] = self.pin.to_json()
        if self.puk is not None:
            data["puk"] = self.puk.to_json()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CardFile:
        try:
            if data.get("format") != FORMAT:
                raise CardFileError(f"not a {FORMAT} file")
            kind = CardKind(data["kind"])
            card = cls(
                kind=kind,
                serial=bytes.fromhex(data["serial"]),
                identity=identity_from_json(kind, data["identity"]),
                private_key_pem=data["private_key_pem"].encode(),
                certificate_pem=data["certificate_pem"].encode(),
                chain_pem=[pem.encode() for pem in data.get("chain_pem", [])],
                pin=ReferenceData.from_json(data["pin"]) if "pin" in data else None,
                puk=ReferenceData.from_json(data["puk"]) if "puk" in data else None,
                demo=bool(data.get("demo", False)),
                notice=str(data.get("notice", "")),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise CardFileError(f"bad card file: {exc}") from exc
        if kind is CardKind.PROFESSIONAL and (card.pin is None or card.puk is None):
            raise CardFileError("a professional card file needs a PIN and a PUK")
        return card


def identity_to_json(identity: Identity) -> dict[str, Any]:
    if isinstance(identity, PatientIdentity):
        return {
            "birth_name": identity.birth_name,
            "first_names": list(identity.first_names),
            "birth_date": identity.birth_date.isoformat(),
            "sex": identity.sex.value,
            "birth_rank": identity.birth_rank,
            "ins": identity.ins,
            "ins_oid": identity.ins_oid,
            "birth_place": identity.birth_place,
            "usage_name": identity.usage_name,
        }
    return {
        "last_name": identity.last_name,
        "first_name": identity.first_name,
        "national_id": identity.national_id,
        "profession": identity.profession,
        "specialty": identity.specialty,
        "structure": {"finess": identity.structure.identifier, "name": identity.structure.name},
    }


def identity_from_json(kind: CardKind, raw: dict[str, Any]) -> Identity:
    if CardKind(kind) is CardKind.PATIENT:
        return PatientIdentity(
            birth_name=raw["birth_name"],
            first_names=tuple(raw["first_names"]),
            birth_date=date.fromisoformat(raw["birth_date"]),
            sex=Sex(raw["sex"]),
            birth_rank=int(raw.get("birth_rank", 1)),
            ins=raw["ins"],
            ins_oid=raw["ins_oid"],
            birth_place=raw.get("birth_place"),
            usage_name=raw.get("usage_name"),
        )
    return ProfessionalIdentity(
        last_name=raw["last_name"],
        first_name=raw["first_name"],
        national_id=raw["national_id"],
        profession=raw["profession"],
        specialty=raw.get("specialty"),
        structure=Structure(raw["structure"]["finess"], raw["structure"]["name"]),
    )


def load(path: Path) -> CardFile:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CardFileError(f"cannot read card file {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise CardFileError("a card file is a JSON object")
    return CardFile.from_json(data)


def write_private_json(path: Path, data: dict[str, Any]) -> None:
    """Atomically replace `path` with `data`, readable by the owner only."""
    path = Path(path)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=2, ensure_ascii=False)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def save(card: CardFile, path: Path) -> None:
    write_private_json(path, card.to_json())
