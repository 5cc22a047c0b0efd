"""Smart-card access for dmp-kiosk: what a kiosk needs to talk to a real card and check
what it reads, over the open DMP card profile (docs/card-profile.md).

The library, layered as yubikey-manager is:

- `profile`: every constant card and host agree on (AIDs, ATRs, tags, status words);
- `connection`: moves bytes (atr, transmit, close); `pcsc` is the real transport, the
  only pyscard user (imported lazily); `monitor` watches readers and survives a pcscd
  restart;
- `apdu`, `tlv`, `protocol`: framing, 61xx / 6Cxx, status words mapped to `errors`;
  `redact` keeps PINs and personal data out of the APDU trace;
- `session`, `patient`, `professional`: the card applications; `records` (the data
  objects) and `identity` what they read; `certificate` the kiosk's early certificate
  checks; `signature` the message a card signs, shared with the server.

`emulator/` stands apart: the card emulator and the vpcd bridge, card files, the TEST
PKI, the demo set and the `dmp pki` / `dmp card` commands. The library never imports
it. No Flask, no database anywhere here.
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
