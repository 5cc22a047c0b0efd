"""The server's error tree; the API maps each to a JSON {error, reason} answer."""

from __future__ import annotations

from werkzeug.exceptions import HTTPException


class DmpError(Exception):
    status = 400
    error = "bad_request"

    def __init__(self, reason: str, message: str = "") -> None:
        super().__init__(message or reason)
        self.reason = reason
        self.message = message or reason


class InvalidInput(DmpError):
    status = 422
    error = "invalid_input"


class MalformedRequest(DmpError):
    status = 400
    error = "malformed_request"


class NotFound(DmpError):
    status = 404
    error = "not_found"


class Conflict(DmpError):
    status = 409
    error = "conflict"


class PreconditionFailed(DmpError):
    """A conditional request (If-Match) whose condition no longer holds: nothing written."""

    status = 412
    error = "precondition_failed"


class TooLarge(DmpError):
    status = 413
    error = "too_large"


class TooManyRequests(DmpError):
    status = 429
    error = "too_many_requests"
    retry_after: int | None = None  # seconds, sent as Retry-After when known


class Unauthenticated(DmpError):
    status = 401
    error = "unauthenticated"


# The one answer to every failed authentication, whatever failed: the detail goes to the
# trace, never to the caller (it would tell an attacker which check to work on).
AUTH_FAILED = (
    "Identification impossible. Vérifiez vos informations ou demandez de l'aide à l'accueil."
)


def authentication_failed() -> Unauthenticated:
    return Unauthenticated("authentication_failed", AUTH_FAILED)


class AccessDenied(DmpError):
    """A policy denial. Its trace entry is already in the session and must be committed."""

    status = 403
    error = "forbidden"


class CopresenceRefused(DmpError):
    """A consent signed in person by two cards failed a check (the draft, either card, or
    who holds it). One message outward; the failed check is in the trace."""

    status = 403
    error = "forbidden"

    def __init__(self) -> None:
        super().__init__(
            "copresence_refused",
            "Les cartes n'ont pas pu être vérifiées pour ce consentement. "
            "Reprenez-les et réessayez.",
        )


# werkzeug's own answers (routing, method, size) in French: the API's messages are French,
# and the kiosk shows the server's message as it is.
_HTTP_FR = {
    400: "Requête invalide.",
    404: "Ressource introuvable.",
    405: "Méthode non autorisée pour cette ressource.",
    406: "Format de réponse non disponible.",
    408: "La requête a pris trop de temps.",
    411: "La longueur du corps de la requête est obligatoire.",
    413: "Requête trop volumineuse.",
    414: "Adresse (URL) trop longue.",
    415: "Type de contenu non pris en charge.",
    429: "Trop de requêtes : réessayez dans un instant.",
    431: "En-têtes de requête trop volumineux.",
}


def http_message(exc: HTTPException) -> str:
    """The French message of an HTTP error: ours when the code raised it with one, else the
    status's own words (werkzeug's default description is English)."""
    own = exc.description and exc.description != type(exc).description
    if own:
        return str(exc.description)
    return _HTTP_FR.get(exc.code or 500, "La requête n'a pas pu être traitée.")
