"""Patient passwords for online sign-in: argon2id, NIST 800-63B length and deny-list rules.

Parameters follow the OWASP password storage cheat sheet's first argon2id line (19 MiB,
2 passes, 1 lane): about 20-40 ms here, slow enough for an offline attacker holding the
table, cheap enough for a sign-in. Hashes carry their parameters, so raising them later
rehashes each password at its next successful sign-in.
"""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from server.errors import InvalidInput
from server.models import PatientPassword
from server.services.context import Ctx

HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
MIN_LENGTH = 8  # NIST 800-63B §5.1.1.2; no composition rules, on purpose
MAX_LENGTH = 128  # bounds the hashing work one request can ask for
# A tiny deny-list of the passwords attackers try first (NIST asks for one). Compared
# case-insensitively; a real deployment would load a breached-passwords corpus.
DENIED = frozenset(
    {
        "password",
        "password1",
        "motdepasse",
        "12345678",
        "123456789",
        "1234567890",
        "azertyuiop",
        "azerty123",
        "qwertyuiop",
        "qwerty123",
        "iloveyou",
        "jetaime",
        "soleil123",
        "doudou123",
        "11111111",
        "00000000",
        "abc12345",
        "bonjour1",
        "marseille",
        "dossiermedical",
    }
)


@cache
def _dummy_hash() -> str:
    # Verified against for an unknown INS or a patient without a password, so that the
    # answer costs the same whether or not the account exists.
    return HASHER.hash("dmp-kiosk dummy password, never a real one")


def check_policy(password: str, ins: str) -> None:
    if len(password) < MIN_LENGTH:
        raise InvalidInput(
            "password_too_short", f"Le mot de passe doit compter au moins {MIN_LENGTH} caractères."
        )
    if len(password) > MAX_LENGTH:
        raise InvalidInput(
            "password_too_long", f"Le mot de passe doit compter au plus {MAX_LENGTH} caractères."
        )
    if password.strip().lower() in DENIED or ins in password:
        raise InvalidInput(
            "password_too_common",
            "Ce mot de passe est trop courant ou trop facile à deviner : choisissez-en un autre.",
        )


def set_password(ctx: Ctx, patient_id: int, ins: str, password: str) -> None:
    check_policy(password, ins)
    row = ctx.session.get(PatientPassword, patient_id)
    digest = HASHER.hash(password)
    if row is None:
        ctx.session.add(
            PatientPassword(patient_id=patient_id, argon2_hash=digest, changed_at=ctx.now)
        )
    else:
        row.argon2_hash, row.changed_at = digest, ctx.now


def verify(row: PatientPassword | None, password: str) -> bool:
    """True when the password matches; the same argon2 work happens when there is no row."""
    try:
        HASHER.verify(row.argon2_hash if row is not None else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False
    return row is not None


def rehash_if_needed(row: PatientPassword, password: str, ctx: Ctx) -> None:
    if HASHER.check_needs_rehash(row.argon2_hash):
        row.argon2_hash, row.changed_at = HASHER.hash(password), ctx.now
