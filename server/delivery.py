"""Delivery adapters for the outbox worker: e-mail over SMTP, SMS through an HTTP gateway.

Both implement `Sender`: one message to one recipient, raising DeliveryError (whose text
never carries the message or the address) when the far end does not take it.
"""

from __future__ import annotations

import json
import smtplib
import urllib.error
import urllib.request
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any, Protocol

TIMEOUT_SECONDS = 20  # well inside the worker's claim lease (outbox.LEASE_SECONDS)


class DeliveryError(Exception):
    """A refused or failed delivery; str() is safe to store as the message's last_error."""


class Sender(Protocol):
    def send(self, recipient: str, subject: str, body: str) -> None: ...


class SmtpSender:
    def __init__(self, host: str, port: int, from_addr: str) -> None:
        self.host, self.port, self.from_addr = host, port, from_addr

    def send(self, recipient: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"] = self.from_addr
        message["To"] = recipient
        message["Subject"] = subject
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain="dmp-kiosk.invalid")
        message.set_content(body)  # UTF-8, quoted-printable or base64 as needed
        try:
            with smtplib.SMTP(self.host, self.port, timeout=TIMEOUT_SECONDS) as smtp:
                smtp.send_message(message)
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(f"SMTP {exc.smtp_code}") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP {type(exc).__name__}") from None


class HttpSmsSender:
    """POSTs {"to", "text"} as JSON; any 2xx answer means the gateway took the message."""

    def __init__(self, url: str) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError("SMS_GATEWAY_URL must be an http(s) URL")
        self.url = url

    def send(self, recipient: str, subject: str, body: str) -> None:
        del subject  # an SMS has none
        data = json.dumps({"to": recipient, "text": body}, ensure_ascii=False).encode()
        request = urllib.request.Request(  # noqa: S310 - scheme checked in __init__
            self.url, data=data, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:  # noqa: S310
                answer.read()
        except urllib.error.HTTPError as exc:
            exc.close()
            raise DeliveryError(f"HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise DeliveryError(f"HTTP {type(exc).__name__}") from None


def senders_from_settings(settings: dict[str, Any]) -> dict[str, Sender]:
    """The channels this deployment can deliver; a channel without a sender waits."""
    senders: dict[str, Sender] = {
        "email": SmtpSender(
            settings["SMTP_HOST"], int(settings["SMTP_PORT"]), settings["SMTP_FROM"]
        )
    }
    if settings["SMS_GATEWAY_URL"]:
        senders["sms"] = HttpSmsSender(settings["SMS_GATEWAY_URL"])
    return senders
