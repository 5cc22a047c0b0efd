"""Smart-card access for dmp-kiosk: the open DMP card profile, host and card sides.

Layers (yubikey-manager's shape): `connection` moves bytes, `protocol` frames APDUs and
maps status words to `errors`, `patient` / `professional` are the card applications.
`pcsc` (the only pyscard user, imported lazily) and `virtual` / `vpcd` (the emulator)
are transports; `pki` is the TEST PKI. No Flask, no database here.
"""

from .errors import (
    ApduError,
    CardError,
    CardRemovedError,
    InvalidPinError,
    MalformedCardDataError,
    PinBlockedError,
    UnknownCardError,
)
from .signature import DOMAIN_PREFIX, card_serial, signed_message

__all__ = [
    "DOMAIN_PREFIX",
    "ApduError",
    "CardError",
    "CardRemovedError",
    "InvalidPinError",
    "MalformedCardDataError",
    "PinBlockedError",
    "UnknownCardError",
    "card_serial",
    "signed_message",
]
