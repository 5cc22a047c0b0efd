"""Handing an export over without the kiosk keeping anything (docs/export.md).

The requester gets a download link: its token (256 random bits) is shown once, as a QR
code on the kiosk's screen, and sent to their address on file; the server keeps only
its SHA-256. The link opens only with a one-time code of 8 digits that goes to the
address on file and is never shown on the kiosk, so a photograph of the screen is not
enough. The link is valid 24 hours (EXPORT_LINK_HOURS), and once: a right code spends
it, and so do EXPORT_CODE_TRIES wrong ones. Asking for a new link ends the previous one.
Every download, and every refused try, is traced on the patient's chain.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from server.errors import Conflict, InvalidInput
from server.export import jobs
from server.frenchtime import PARIS, fr_datetime
from server.models import Dossier, DossierExport, OutboxMessage, Patient
from server.policy import Action
from server.services import audit, guard, lookup, views
from server.services.context import Ctx, Principal
from server.signin.sent_codes import contact, mask, seal_body

TOKEN_BYTES = 32
CODE_DIGITS = 8
LINK_TEXT = (
    "Bonjour, l'export de votre dossier médical partagé est prêt. Téléchargez-le ici, "
    "une seule fois, avant le {until} : {url} . Il vous sera demandé le code reçu dans "
    "un autre message. / Your record's export is ready: download it once, before "
    "{until_en} (Paris time), at the address above, with the code sent in another message."
)
CODE_TEXT = (
    "Bonjour, le code de téléchargement de votre export est {code}. Ne le communiquez à "
    "personne. / The download code of your export is {code}. Share it with no one."
)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def code_mac(ctx: Ctx, export_id: str, code: str) -> str:
    key = ctx.keyring.derive_key("export-code-mac")
    return hmac.new(key, f"{export_id}:{code}".encode(), hashlib.sha256).hexdigest()


def issue(ctx: Ctx, who: Principal, export_id: str, base_url: str) -> dict[str, Any]:
    """A new link for the caller's ready export (decided and traced): its address, for
    the QR code, once; the link and its code go to the caller's address on file."""
    job = jobs.own(ctx, who, export_id, lock=True)
    if job.status != "ready" or job.archive is None:
        raise Conflict("export_not_ready", "L'export n'est pas prêt.")
    row, patient = lookup.dossier(ctx, who, Action.DOSSIER_EXPORT, job.dossier_id)
    guard.authorize(
        ctx, who, Action.DOSSIER_EXPORT, row, patient, detail={"export": export_id, "step": "link"}
    )
    person = ctx.session.get(Patient, who.actor.id)
    email, phone = (person.email, person.phone) if person is not None else (None, None)
    if person is None or not (email or phone):
        raise InvalidInput(
            "no_contact", "Aucune adresse enregistrée : demandez de l'aide à l'accueil."
        )
    # The code by SMS when there is a phone, the link by e-mail when there is an address:
    # two channels where the patient has both.
    link_channel = "email" if email else "sms"
    code_channel = "sms" if phone else "email"
    token = secrets.token_urlsafe(TOKEN_BYTES)
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    until = min(ctx.now + timedelta(hours=ctx.settings["EXPORT_LINK_HOURS"]), job.expires_at)
    job.link_hash, job.link_expires_at, job.link_used_at = token_hash(token), until, None
    job.code_mac, job.code_tries = code_mac(ctx, export_id, code), 0
    url = f"{base_url.rstrip('/')}/export/{token}"
    _queue(
        ctx,
        person,
        "export_link",
        link_channel,
        LINK_TEXT.format(
            url=url,
            until=fr_datetime(until),
            until_en=until.astimezone(PARIS).strftime("%d/%m/%Y %H:%M"),
        ),
    )
    _queue(ctx, person, "export_code", code_channel, CODE_TEXT.format(code=code))
    return {
        "url": url,
        "expires_at": views.iso(until),
        "link_sent_to": mask(contact(person, link_channel) or "", link_channel),
        "code_sent_to": mask(contact(person, code_channel) or "", code_channel),
        "code_channel": code_channel,
    }


def _queue(ctx: Ctx, person: Patient, kind: str, channel: str, text: str) -> None:
    message = OutboxMessage(
        patient_id=person.id,
        kind=kind,
        channel=channel,
        body="",
        created_at=ctx.now,
        recipient=contact(person, channel),
    )
    ctx.session.add(message)
    ctx.session.flush()  # the message id binds the sealed text to its row
    message.body = seal_body(ctx, f"outbox:{message.id}", text)


# ---- the download (public: the token and the code are the proof) ------------------------


@dataclass(frozen=True, slots=True)
class Download:
    body: bytes
    filename: str


class LinkRefused(Exception):
    """Why a link gives nothing: unknown, expired, used, code_invalid, spent."""

    def __init__(self, why: str, tries_left: int = 0) -> None:
        super().__init__(why)
        self.why, self.tries_left = why, tries_left


def find(ctx: Ctx, token: str, *, lock: bool = False) -> DossierExport:
    """The export a link names, if the link can still be used; raises LinkRefused."""
    if not token or len(token) > 100:
        raise LinkRefused("unknown")
    query = select(DossierExport).where(DossierExport.link_hash == token_hash(token))
    if lock:
        query = query.with_for_update()
    job = ctx.session.scalars(query).first()
    if job is None:
        raise LinkRefused("unknown")
    if job.link_used_at is not None:
        spent = job.code_tries >= ctx.settings["EXPORT_CODE_TRIES"]
        raise LinkRefused("spent" if spent else "used")
    if (
        job.link_expires_at is None
        or job.link_expires_at <= ctx.now
        or job.status != "ready"
        or job.archive is None
    ):
        raise LinkRefused("expired")
    return job


def download(ctx: Ctx, token: str, code: str) -> Download:
    """Spends the link with the right code and opens the archive; the caller commits in
    every case (a wrong try counts, and is traced, even though nothing is given)."""
    job = find(ctx, token, lock=True)
    who = jobs.requester(job)
    row, patient = lookup.dossier(ctx, who, Action.DOSSIER_EXPORT, job.dossier_id)
    well_formed = len(code) == CODE_DIGITS and code.isascii() and code.isdigit()
    if not well_formed or not hmac.compare_digest(
        code_mac(ctx, job.export_id, code), job.code_mac or ""
    ):
        job.code_tries += 1
        spent = job.code_tries >= ctx.settings["EXPORT_CODE_TRIES"]
        if spent:
            job.link_used_at = ctx.now
        _trace_refusal(
            ctx, who, patient.id, job, "export_link_spent" if spent else "export_code_invalid"
        )
        left = ctx.settings["EXPORT_CODE_TRIES"] - job.code_tries
        raise LinkRefused("spent" if spent else "code_invalid", tries_left=left)
    job.link_used_at = ctx.now  # once, whatever happens next
    # Decided again for the person who asked: a representative whose child came of age,
    # or a dossier purged since, gets nothing (the guard traces a refusal itself).
    guard.authorize(
        ctx,
        who,
        Action.DOSSIER_EXPORT,
        row,
        patient,
        detail={"export": job.export_id, "step": "download", "size": job.size},
    )
    dossier = ctx.session.get(Dossier, job.dossier_id)
    if dossier is None or dossier.wrapped_key is None or job.nonce is None or job.archive is None:
        raise LinkRefused("expired")
    body = ctx.keyring.decrypt(dossier.wrapped_key, job.nonce, job.archive, jobs.aad(job))
    day = (job.ready_at or ctx.now).strftime("%Y-%m-%d")
    return Download(body, f"export-dossier-medical-{day}.zip")


def _trace_refusal(
    ctx: Ctx, who: Principal, patient_id: int, job: DossierExport, reason: str
) -> None:
    audit.append(
        ctx.session,
        patient_id,
        audit.TraceEntry(
            at=ctx.now,
            actor_kind=who.actor.kind.value,
            actor_id=who.actor.id,
            actor_name=who.name,
            action=Action.DOSSIER_EXPORT,
            mode="none",
            outcome="denied",
            reason=reason,
            detail={"export": job.export_id, "step": "download"},
        ),
    )
