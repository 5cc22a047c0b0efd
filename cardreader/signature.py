"""What a card signs: pure helpers shared by the card, the kiosk and the server.

The card signs, with ECDSA P-256 / SHA-256, the message

    DOMAIN_PREFIX || len(aid) || aid || len(serial) || serial || challenge

with each length on one byte. The prefix keeps these signatures useless in any other
protocol; the AID keeps a patient-card signature from passing as a professional-card
one; the serial binds the signature to one card; the length bytes make the split
unambiguous. The server checks that `serial` equals `card_serial(certificate)`.
"""

from __future__ import annotations

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


def card_serial(certificate_serial_number: int) -> bytes:
    """The card serial is its certificate's serial number, 16 bytes big-endian."""
    return certificate_serial_number.to_bytes(CARD_SERIAL_LENGTH, "big")
