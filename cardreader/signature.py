"""What a card signs: pure helpers shared by the card, the kiosk and the server.

The card signs, with ECDSA P-256 / SHA-256, the message

    DOMAIN_PREFIX || len(aid) || aid || len(serial) || serial || challenge

with each length on one byte. The prefix keeps these signatures useless in any other
protocol; the AID keeps a patient-card signature from passing as a professional-card
one; the serial binds the signature to one card; the length bytes make the split
unambiguous. The server checks that `serial` equals `card_serial(certificate)`.

A consent given in person (docs/receipts.md, co-presence) is signed by both cards over a
challenge derived from the consent's canonical content: COPRESENCE_TAG || SHA-256(draft),
48 bytes. The tag keeps such a challenge from ever being a sign-in challenge (those are
46 bytes, `server/signin/challenges.py`) and says what the hash is of.
"""

from __future__ import annotations

import hashlib

from .profile import CARD_SERIAL_LENGTH, CHALLENGE_MAX, CHALLENGE_MIN

DOMAIN_PREFIX = b"DMP-KIOSK card authentication v1\x00"


def signed_message(aid: bytes, serial: bytes, challenge: bytes) -> bytes:
    if not 5 <= len(aid) <= 16:
        raise ValueError("an AID has 5 to 16 bytes")
    if len(serial) != CARD_SERIAL_LENGTH:
        raise ValueError(f"a card serial has {CARD_SERIAL_LENGTH} bytes")
    if not CHALLENGE_MIN <= len(challenge) <= CHALLENGE_MAX:
        raise ValueError(f"a challenge has {CHALLENGE_MIN} to {CHALLENGE_MAX} bytes")
    return DOMAIN_PREFIX + bytes([len(aid)]) + aid + bytes([len(serial)]) + serial + challenge


COPRESENCE_TAG = b"DMP-COPRESENCE/1"  # 16 bytes


def copresence_challenge(draft: bytes) -> bytes:
    """What both cards sign for a consent given in person: the tag, then the SHA-256 of
    the draft's exact bytes (so a signature proves the card was shown that content)."""
    return COPRESENCE_TAG + hashlib.sha256(draft).digest()


def card_serial(certificate_serial_number: int) -> bytes:
    """The card serial is its certificate's serial number, 16 bytes big-endian."""
    return certificate_serial_number.to_bytes(CARD_SERIAL_LENGTH, "big")
