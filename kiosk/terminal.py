"""What the kiosk holds while someone uses it, in memory only, and how it ends.

One kiosk is one screen with its readers, so the state is one `Terminal` per process.
It holds the server session tokens, the card sessions needed to re-sign, and, while a
patient card is in, the identity read from it. Nothing is ever written to disk. When a
card is pulled, the idle timeout passes, or the user signs out, `clear()` drops every
reference at once (Python cannot wipe memory in place; dropping the only references is
what it can do) and the page is told to go back to the welcome screen through the
card-event stream.

Re-signature: a card-bound session dies on the server if the card does not sign a fresh
challenge every RESIGN_SECONDS (120 s by default). The housekeeping thread re-signs
every half of that, so a kiosk that still holds the card keeps its session, and a kiosk
that lost the card cannot.
"""

from __future__ import annotations

import base64
import logging
import queue
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cardreader.connection import Connection
from cardreader.errors import CardError
from cardreader.identity import PatientIdentity, ProfessionalIdentity
from cardreader.patient import PatientReading, PatientSession, read_patient_card
from cardreader.professional import (
    PinStatus,
    ProfessionalReading,
    ProfessionalSession,
    read_professional_card,
)
from cardreader.profile import CardKind
from cardreader.session import CardAuthentication, CardSession, card_kind
from cardreader.signature import copresence_challenge

from .client import ApiResponse, Capabilities, ServerClient, ServerUnavailable
from .readers import CardReaders, ReaderEvent
from .viewer import Shelf

log = logging.getLogger("dmp.kiosk.terminal")
# Where the desk names a minor's representative with their card (kiosk/pages/representatives.py).
REPRESENTATIVE_CARD_PAGE = "/pro/dossier/representatives/card"


def proof(auth: CardAuthentication) -> dict[str, str]:
    return {
        "challenge": base64.b64encode(auth.challenge).decode(),
        "serial": auth.serial.hex(),
        "certificate": base64.b64encode(auth.certificate_der).decode(),
        "signature": base64.b64encode(auth.signature).decode(),
    }


@dataclass
class Professional:
    token: str
    identity: ProfessionalIdentity
    reader: str
    card: ProfessionalSession  # kept to re-sign without asking the PIN again
    resign_every: float
    may: Capabilities = field(default_factory=Capabilities)  # the server's answer

    @property
    def profession(self) -> str:
        return self.identity.profession


@dataclass
class PatientCard:
    reader: str
    identity: PatientIdentity | None = None
    card: PatientSession | None = None


@dataclass
class PatientSignIn:
    pending_token: str | None = None
    destination: str | None = None
    # What the server said when it sent the code: the channel used, the channels this
    # patient can be reached by, and the wrong tries this code allows (counted down here
    # as refusals come back, only to tell the patient: the server keeps the real count).
    channel: str | None = None
    channels: tuple[str, ...] = ()
    tries: int | None = None
    token: str | None = None
    resign_every: float = 60.0


@dataclass
class Dossier:
    dossier_id: int
    summary: dict[str, Any] = field(default_factory=dict)
    # A card holder acting for someone else (issue 13): "representative" or "delegate",
    # with the name of the person whose dossier it is; None on one's own dossier.
    acting: str | None = None
    acting_for: str = ""
    emergency: str | None = None  # the reason given, while bris de glace lasts
    # A professional's secret connection with this minor (issue 13), as the server says.
    secret: bool = False
    # The documents opened in this session, to show their pages and images from memory;
    # they leave with the dossier (patient card pulled) or with the session.
    viewed: Shelf = field(default_factory=Shelf)
    # « Exporter puis fermer » under way: the closure chosen, waiting for the export's
    # handover. Memory only, it leaves with the dossier: a pulled card closes nothing.
    closing: PendingClosure | None = None
    # A consent just given at the counter: its receipt's id, told once on the dossier's
    # page ("" when the server named none).
    consent_receipt: str | None = None


@dataclass(frozen=True)
class PendingClosure:
    choice: str  # "keep" or "delete" (kiosk/pages/closure.py CHOICES)
    export_id: str


@dataclass(frozen=True)
class DraftNote:
    """A deposit being typed and not saved: only what tells its author what was lost
    (never the text nor the lines themselves)."""

    title: str
    kind: str  # a category code
    lines: int  # medication or vaccination lines typed


# Reasons to end a session after which a professional is told what was not saved; signing
# out is a choice, not a loss.
LOSSES = frozenset({"card_removed", "idle", "session_ended"})
# The note of what was lost is shown on the page after the pull, and not kept longer than
# this (the next person must not read it).
LOST_NOTE_SECONDS = 60.0
# That page may load twice in a row (the card event and the demo panel's redirect both
# reload it): the note stays this long after it was first shown, then goes.
LOST_NOTE_SHOWN_SECONDS = 5.0


class SignInFailed(Exception):
    """The server refused a sign-in; the message is the server's generic one."""


class Terminal:
    def __init__(
        self,
        readers: CardReaders,
        client: ServerClient,
        *,
        idle_seconds: float = 120.0,
        warn_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.readers = readers
        self.client = client
        self.idle_seconds = idle_seconds
        self.warn_seconds = min(warn_seconds, idle_seconds / 2)
        self.clock = clock
        self.lock = threading.RLock()
        self._subscribers: list[queue.Queue[dict[str, Any]]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._background: list[threading.Thread] = []
        self.readers_down = False
        self.present: dict[str, CardKind] = {}  # what the readers hold, whatever the session
        # Bumped at each event; a page rendered before an event it missed (it was loading)
        # sees a newer version when its stream connects, and goes where it should.
        self.version = 0
        # The secret of the browser this kiosk serves (kiosk/guard.py): replaced when a
        # session starts, so that only the browser that started it holds the new one.
        self.browser_key = secrets.token_urlsafe(32)
        self._reset_state()

    # ---- state -------------------------------------------------------------------
    def _reset_state(self) -> None:
        self.pro_reader: str | None = None  # a professional card is in, PIN not yet given
        self.pro: Professional | None = None
        self.patient_card: PatientCard | None = None
        self.patient: PatientSignIn | None = None
        self.dossier: Dossier | None = None
        # At the desk, a minor's representative is being named with their own card: the
        # minor's card leaves the patient reader and the representative's goes in, the
        # minor's dossier kept meanwhile (only its id). Set by the desk, for that only:
        # "out" while the minor's card is still in, "in" once it has left.
        self.representative_swap: str | None = None
        self.flash: str | None = None
        self.draft: DraftNote | None = None
        self.lost: DraftNote | None = None
        self._lost_until = 0.0
        self.last_activity = self.clock()
        self._next_resign = self.clock() + 3600.0

    def clear(self, reason: str = "", *, rearm: bool = False, notify: bool = True) -> None:
        """End everything: server sessions (in the background), memory, the screen.

        With `rearm` (idle timeout), cards still in the readers start over: the
        professional types the PIN again, the patient signs in again. Otherwise cards
        left in are stale and the welcome screen asks to take them out."""
        with self.lock:
            tokens = [
                t for t in (self.pro and self.pro.token, self.patient and self.patient.token) if t
            ]
            card_readers = [r for r in (self.pro and self.pro.reader, self.pro_reader) if r]
            draft = self.draft
            self._reset_state()
            if reason:
                self.flash = reason
            if draft is not None and reason in LOSSES:
                self._note_lost(draft)
            if rearm:
                for reader, kind in self.present.items():
                    if kind is CardKind.PROFESSIONAL:
                        self.pro_reader = reader
                    else:
                        self.patient_card = PatientCard(reader)
        for reader in card_readers:
            self.readers.release(reader)
        if tokens:
            self._spawn(self._end_server_sessions, tokens)
        if notify:  # a request that clears redirects by itself; no second navigation
            self.publish({"go": "/"})

    def _spawn(self, target: Callable[[list[str]], None], tokens: list[str]) -> None:
        thread = threading.Thread(target=target, args=(tokens,), daemon=True)
        with self.lock:
            self._background = [t for t in self._background if t.is_alive()] + [thread]
        thread.start()

    def _end_server_sessions(self, tokens: list[str]) -> None:
        for token in tokens:
            try:
                self.client.card_removed(token)
            except ServerUnavailable:
                # The server ends it anyway when the re-signature does not come.
                log.info("could not tell the server a session ended; it will expire")

    def _note_lost(self, draft: DraftNote) -> None:
        self.lost = draft
        self._lost_until = self.clock() + LOST_NOTE_SECONDS

    def pop_lost(self) -> DraftNote | None:
        """What was not saved, for the page(s) shown right after the loss; forgotten
        LOST_NOTE_SHOWN_SECONDS after it was first shown."""
        with self.lock:
            if self.lost is None:
                return None
            now = self.clock()
            shown_until = now + LOST_NOTE_SHOWN_SECONDS
            if self._lost_until > shown_until:
                self._lost_until = shown_until  # first shown now: a few seconds more
            elif now >= self._lost_until:
                self.lost = None
            return self.lost

    def token(self) -> str | None:
        if self.pro is not None:
            return self.pro.token
        if self.patient is not None:
            return self.patient.token
        return None

    def touch(self) -> None:
        self.last_activity = self.clock()

    def holder_ins(self) -> str | None:
        """The signed-in patient's INS, as read from the card (online: as typed at
        sign-in, kiosk/online.py)."""
        card = self.patient_card
        return card.identity.ins if card is not None and card.identity is not None else None

    def in_session(self) -> bool:
        """A server session, or a patient's sign-in under way, is held for someone."""
        return self.token() is not None or self.patient is not None

    def new_browser_key(self) -> str:
        with self.lock:
            self.browser_key = secrets.token_urlsafe(32)
            return self.browser_key

    # ---- events ------------------------------------------------------------------
    def subscribe(self) -> queue.Queue[dict[str, Any]]:
        q: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=100)
        with self.lock:
            self._subscribers.append(q)
        return q

    def unsubscribe(self, q: queue.Queue[dict[str, Any]]) -> None:
        with self.lock:
            if q in self._subscribers:
                self._subscribers.remove(q)

    def publish(self, event: dict[str, Any]) -> None:
        with self.lock:
            self.version += 1
            event = {**event, "version": self.version}
            subscribers = list(self._subscribers)
        for q in subscribers:
            try:
                q.put_nowait(event)
            except queue.Full:
                pass  # a page that stopped listening; it reloads on its own

    def on_reader_event(self, event: ReaderEvent) -> None:
        if event.kind == "service_lost":
            self.readers_down = True
            self.publish({"go": "/"})
            return
        if event.kind == "service_restored":
            self.readers_down = False
            self.publish({"go": "/"})
            return
        if event.kind == "inserted":
            self._inserted(event)
        elif event.kind == "removed":
            self._removed(event.reader)

    def _inserted(self, event: ReaderEvent) -> None:
        try:
            kind = card_kind(event.atr)
        except CardError:
            with self.lock:
                self.flash = "unknown_card"
            self.publish({"go": "/"})
            return
        with self.lock:
            self.present[event.reader] = kind
            self.lost = None  # someone else may be at the kiosk now
            self.touch()
            if kind is CardKind.PROFESSIONAL:
                if self.pro is not None or self.pro_reader is not None:
                    return  # one professional at a time; the second card is ignored
                if self.patient is not None:
                    self.clear()  # a patient's own session never mixes with a professional's
                self.pro_reader = event.reader
                self.publish({"go": "/pin"})
                return
            if self.patient_card is not None:
                return
            self.patient_card = PatientCard(event.reader)
            if self.pro is not None and self.representative_swap == "in":
                self.publish({"go": REPRESENTATIVE_CARD_PAGE})
                return
            self.publish({"go": "/patient-card"})

    def _removed(self, reader: str) -> None:
        with self.lock:
            self.present.pop(reader, None)
            if reader in (self.pro_reader, self.pro and self.pro.reader):
                self.clear("card_removed")
                return
            if self.patient_card is not None and self.patient_card.reader == reader:
                if self.pro is None:
                    self.clear("card_removed")
                    return
                self.patient_card = None
                if self.representative_swap == "out" and self.dossier is not None:
                    # The desk asked for the representative's card: the minor's card
                    # leaves, the minor's dossier stays (its id; nothing read is kept).
                    self.dossier = Dossier(self.dossier.dossier_id)
                    self.representative_swap = "in"
                    self.publish({"go": REPRESENTATIVE_CARD_PAGE})
                    return
                # At the counter, the patient's card leaves: the professional stays, the
                # patient's identity and dossier leave the kiosk's memory.
                self.representative_swap = None
                self.dossier = None
                self.flash = "patient_card_removed"
                if self.draft is not None:
                    self._note_lost(self.draft)
                    self.draft = None
                self.publish({"go": "/pro/"})

    # ---- card work ---------------------------------------------------------------
    def _challenge(self, token: str | None = None) -> bytes:
        """A sign-in challenge, or with `token` a re-signature challenge of that session."""
        r = self.client.card_challenge() if token is None else self.client.session_challenge(token)
        if not r.ok:
            raise SignInFailed(r.message)
        return base64.b64decode(r.body["challenge"])

    def pin_status(self) -> PinStatus | None:
        reader = self.pro_reader
        if reader is None:
            return None
        return self.readers.run(reader, lambda c: ProfessionalSession(c).pin_status())

    def sign_in_professional(self, pin: str) -> ApiResponse:
        """PIN to the card (never to the server), the card signs, the server decides."""
        with self.lock:
            reader = self.pro_reader
        if reader is None:
            raise SignInFailed("no_card")
        challenge = self._challenge()

        def job(connection: Connection) -> tuple[ProfessionalReading, ProfessionalSession]:
            session = ProfessionalSession(connection)
            return read_professional_card(session, pin, challenge), session

        reading, session = self.readers.run(reader, job)
        body = {"kind": CardKind.PROFESSIONAL.value, **proof(reading.authentication)}
        r = self.client.card_sign_in(body)
        if r.status != 201:
            return r
        # What to offer this professional is the server's answer, asked once per session.
        try:
            may = self.client.capabilities(r.body["token"])
        except ServerUnavailable:
            self._spawn(self._end_server_sessions, [r.body["token"]])
            raise
        with self.lock:
            if self.pro_reader != reader:
                # The card left while the server answered: that session must not live.
                self._spawn(self._end_server_sessions, [r.body["token"]])
                raise SignInFailed("card_removed")
            every = float(r.body.get("resign_within_seconds", 120)) / 2
            self.pro = Professional(r.body["token"], reading.identity, reader, session, every, may)
            self.pro_reader = None
            self.new_browser_key()
            self._next_resign = self.clock() + every
            self.touch()
        return r

    def unblock_pin(self, puk: str, new_pin: str) -> None:
        reader = self.pro_reader
        if reader is None:
            raise SignInFailed("no_card")
        self.readers.run(reader, lambda c: ProfessionalSession(c).unblock_pin(puk, new_pin))

    def _patient_card(self) -> PatientCard:
        with self.lock:
            card = self.patient_card
        if card is None:
            raise SignInFailed("no_card")
        return card

    def _patient_signs(self, card: PatientCard) -> tuple[PatientReading, PatientSession]:
        """The patient's card signs a fresh sign-in challenge of this kiosk."""
        challenge = self._challenge()

        def job(connection: Connection) -> tuple[PatientReading, PatientSession]:
            session = PatientSession(connection)
            return read_patient_card(session, challenge), session

        return self.readers.run(card.reader, job)

    def read_patient_card(self) -> PatientIdentity:
        """At the counter: the identity on the patient's card (the patient is present)."""
        card = self._patient_card()
        if card.identity is None:
            card.identity = self.readers.run(
                card.reader, lambda c: PatientSession(c).read_identity()
            )
        return card.identity

    def copresence(self, made: dict[str, Any]) -> dict[str, Any]:
        """Both cards sign a consent's draft (docs/receipts.md, co-presence): the card in
        the patient reader (the patient's, or a representative's) and the professional's,
        whose PIN was verified at sign-in. The challenge is computed here from the draft
        the server made, not taken from its answer: the cards sign what the draft says."""
        draft = base64.b64decode(str(made["draft"]), validate=True)
        challenge = copresence_challenge(draft)
        card = self._patient_card()
        with self.lock:
            pro = self.pro
        if pro is None:
            raise SignInFailed("no_card")
        reading = self.readers.run(
            card.reader, lambda c: read_patient_card(PatientSession(c), challenge)
        )
        pro_card = pro.card
        signature = self.readers.run(pro.reader, lambda _c: pro_card.authenticate(challenge))
        certificate = self._certificate(pro.reader, pro_card)
        signed = reading.authentication
        return {
            "draft": made["draft"],
            "tag": made["tag"],
            "patient_card": {
                "serial": signed.serial.hex(),
                "certificate": base64.b64encode(signed.certificate_der).decode(),
                "signature": base64.b64encode(signed.signature).decode(),
            },
            "professional_card": {
                "serial": pro_card.serial.hex(),
                "certificate": base64.b64encode(certificate).decode(),
                "signature": base64.b64encode(signature).decode(),
            },
        }

    def start_patient_sign_in(self) -> ApiResponse:
        """Alone at the kiosk: the card signs, then a one-time code opens the session."""
        card = self._patient_card()
        reading, session = self._patient_signs(card)
        r = self.client.card_sign_in(
            {"kind": CardKind.PATIENT.value, **proof(reading.authentication)}
        )
        if r.status == 201:
            with self.lock:
                if self.patient_card is not card:
                    raise SignInFailed("card_removed")
                card.identity = reading.identity
                card.card = session
                self.patient = PatientSignIn(pending_token=r.body["pending_token"])
                self.new_browser_key()
        return r

    def finish_patient_sign_in(self, token: str, resign_within: float) -> None:
        with self.lock:
            if self.patient is None:
                raise SignInFailed("no_card")
            self.patient.token = token
            self.patient.pending_token = None
            self.patient.resign_every = resign_within / 2
            self._next_resign = self.clock() + self.patient.resign_every
            self.touch()

    def _resign(self) -> None:
        session: CardSession | None
        with self.lock:
            token = self.token()
            if self.pro is not None:
                reader, session, every = self.pro.reader, self.pro.card, self.pro.resign_every
            elif self.patient is not None and self.patient.token and self.patient_card:
                reader, session = self.patient_card.reader, self.patient_card.card
                every = self.patient.resign_every
            else:
                return
            self._next_resign = self.clock() + every
        if token is None or session is None:
            return
        card_session: CardSession = session
        try:
            challenge = self._challenge(token)
            signature = self.readers.run(reader, lambda _c: card_session.authenticate(challenge))
            body = {
                "challenge": base64.b64encode(challenge).decode(),
                "serial": card_session.serial.hex(),
                "certificate": base64.b64encode(self._certificate(reader, card_session)).decode(),
                "signature": base64.b64encode(signature).decode(),
            }
            r = self.client.resign(token, body)
        except ServerUnavailable:
            with self.lock:
                self._next_resign = self.clock() + 5.0  # try again soon
            return
        except (CardError, SignInFailed):
            self.clear("card_removed")
            return
        if not r.ok:
            self.clear("session_ended")
            return
        within = r.body.get("resign_within_seconds") if isinstance(r.body, dict) else None
        if isinstance(within, int) and within > 0:
            with self.lock:  # follow the server's setting from now on, this round included
                if self.pro is not None:
                    self.pro.resign_every = within / 2
                elif self.patient is not None:
                    self.patient.resign_every = within / 2
                self._next_resign = min(self._next_resign, self.clock() + within / 2)

    def _certificate(self, reader: str, session: CardSession) -> bytes:
        from cryptography.hazmat.primitives.serialization import Encoding

        return self.readers.run(
            reader, lambda _c: session.read_certificate().public_bytes(Encoding.DER)
        )

    # ---- housekeeping --------------------------------------------------------------
    def start(self) -> None:
        self.readers.start(self.on_reader_event)
        self._thread = threading.Thread(
            target=self._housekeeping, name="kiosk-housekeeping", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
        self.clear()
        for thread in list(self._background):
            thread.join(5.0)  # the server hears that the sessions ended
        self.readers.stop()

    def idle_deadline(self) -> float:
        return self.last_activity + self.idle_seconds

    def signed_in(self) -> bool:
        return (
            self.token() is not None or self.pro_reader is not None or self.patient_card is not None
        )

    def tick(self) -> None:
        """One round of housekeeping at `clock()`: the idle timeout, then the card's
        re-signature when it is due."""
        now = self.clock()
        if self.lost is not None and now >= self._lost_until:
            self.lost = None
        if self.signed_in() and now >= self.idle_deadline():
            self.clear("idle", rearm=True)
            return
        if self.token() is not None and now >= self._next_resign:
            self._resign()

    def _housekeeping(self) -> None:
        while not self._stop.wait(0.25):
            self.tick()
