"""One error tree for everything that can go wrong with a card.

Callers catch `CardError`; the subclasses tell the kiosk what to show ("card pulled",
"wrong PIN, 2 tries left", "this card is not ours") without ever parsing messages.
"""

from __future__ import annotations


class CardError(Exception):
    """Base of every error raised by cardreader."""


class CardCommunicationError(CardError):
    """The transport failed: the command may or may not have reached the card."""


class CardRemovedError(CardCommunicationError):
    """The card left the reader (or was reset by someone else) during the session."""


class ReaderUnavailableError(CardCommunicationError):
    """The reader or the PC/SC service is gone (unplugged, pcscd stopped)."""


class ProtocolError(CardError):
    """The card broke APDU framing: short response, endless 61xx, repeated 6Cxx."""


class UnknownCardError(CardError):
    """Not a card of our profile: unknown ATR, or our application is not on it."""


class MalformedCardDataError(CardError):
    """A file or response of the card does not parse (TLV, certificate, FCI)."""


class TlvError(MalformedCardDataError):
    """BER-TLV that is truncated, over-long or otherwise not well formed."""


class UntrustedCardError(CardError):
    """The card's certificate is not issued by one of the expected CAs."""


class PinFormatError(CardError, ValueError):
    """A PIN or PUK typed by the user that the card would reject anyway (not digits)."""


class ApduError(CardError):
    """The card answered with a status word other than 9000."""

    def __init__(self, sw: int, message: str | None = None) -> None:
        self.sw = sw
        super().__init__(message or f"card returned status word {sw:04X}")


class SecurityStatusError(ApduError):
    """6982: the command needs a verification that has not happened."""


class PinRequiredError(SecurityStatusError):
    """6982 on a signature: the professional card wants its PIN first."""


class NotFoundError(ApduError):
    """6A82: file or application not found."""


class InvalidPinError(ApduError):
    """63Cx: the PIN was wrong; `tries_remaining` tries are left before blocking."""

    def __init__(self, sw: int, tries_remaining: int) -> None:
        self.tries_remaining = tries_remaining
        super().__init__(sw, f"wrong PIN, {tries_remaining} tries remaining")


class InvalidPukError(InvalidPinError):
    """63Cx on RESET RETRY COUNTER: the unblocking code was wrong."""

    def __init__(self, sw: int, tries_remaining: int) -> None:
        super().__init__(sw, tries_remaining)
        self.args = (f"wrong PUK, {tries_remaining} tries remaining",)


class PinBlockedError(ApduError):
    """6983 (or 63C0): the PIN is blocked; only the PUK can unblock it."""


class PukBlockedError(PinBlockedError):
    """6983 on RESET RETRY COUNTER: the PUK is used up too; the card is dead."""
