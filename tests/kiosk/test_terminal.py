"""The kiosk's state machine (kiosk/terminal.py) on its own: in-process readers with the
demo cards, a scripted records server, and an injected clock; no browser, no HTTP."""

from __future__ import annotations

import base64
import os
import queue
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from cardreader.emulator import cardfile
from cardreader.emulator.virtual import VirtualCard
from dmp.demo import PreparedPki
from kiosk.client import ApiResponse, Capabilities, ServerUnavailable
from kiosk.readers import DemoReaders
from kiosk.terminal import LOST_NOTE_SECONDS, LOST_NOTE_SHOWN_SECONDS, Dossier, DraftNote, Terminal
from kiosk.viewer import Fetched

PRO, PATIENT = DemoReaders.NAMES
PRO_CARD, PATIENT_CARD = "pharmacien-moreau", "patient-marie-durand"
IDLE, WARN = 120.0, 30.0


def _challenge() -> ApiResponse:
    return ApiResponse(200, {"challenge": base64.b64encode(os.urandom(32)).decode()})


@dataclass
class ScriptedServer:
    """The records server's answers, as the terminal sees them through its client."""

    kiosk_name: str = "borne-test"
    resign_within: int = 120
    resign_status: int = 200
    down: bool = False
    signed_in: list[str] = field(default_factory=list)  # card kinds, in order
    resigned: list[str] = field(default_factory=list)  # tokens
    ended: list[str] = field(default_factory=list)  # tokens the kiosk said were over

    def card_challenge(self) -> ApiResponse:
        return _challenge()

    def session_challenge(self, token: str) -> ApiResponse:
        if self.down:
            raise ServerUnavailable("down")
        return _challenge()

    def card_sign_in(self, proof: dict[str, str]) -> ApiResponse:
        self.signed_in.append(proof["kind"])
        if proof["kind"] == "professional":
            body = {"token": "pro-token", "resign_within_seconds": self.resign_within}
            return ApiResponse(201, body)
        return ApiResponse(201, {"pending_token": "pending"})

    def capabilities(self, token: str) -> Capabilities:
        return Capabilities(deposit_categories=frozenset({"dispensation"}), clinical_reading=True)

    def resign(self, token: str, proof: dict[str, str]) -> ApiResponse:
        assert proof["signature"]
        assert proof["certificate"]
        self.resigned.append(token)
        return ApiResponse(self.resign_status, {"resign_within_seconds": self.resign_within})

    def card_removed(self, token: str) -> ApiResponse:
        self.ended.append(token)
        return ApiResponse(200, {})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Rig:
    terminal: Terminal
    readers: DemoReaders
    server: ScriptedServer
    clock: Clock
    cards: dict[str, VirtualCard]
    events: queue.Queue[dict[str, Any]]

    def insert(self, reader: str, card: str) -> None:
        self.readers.insert(reader, card, self.cards[card])

    def pull(self, reader: str) -> None:
        self.readers.remove(reader)

    def went_to(self) -> list[str]:
        seen = []
        while not self.events.empty():
            event = self.events.get_nowait()
            if "go" in event:
                seen.append(event["go"])
        return seen

    def ended(self) -> list[str]:
        for thread in list(self.terminal._background):
            thread.join(5.0)
        return self.server.ended

    def pro_signs_in(self) -> None:
        self.insert(PRO, PRO_CARD)
        r = self.terminal.sign_in_professional("1234")
        assert r.status == 201

    def patient_signs_in(self) -> None:
        self.insert(PATIENT, PATIENT_CARD)
        assert self.terminal.start_patient_sign_in().status == 201
        self.terminal.finish_patient_sign_in("patient-token", 120.0)


@pytest.fixture
def rig(prepared_pki: PreparedPki) -> Iterator[Rig]:
    cards = {
        path.stem: VirtualCard(cardfile.load(path))
        for path in prepared_pki.cards
        if path.stem in (PRO_CARD, PATIENT_CARD)
    }
    readers, server, clock = DemoReaders(), ScriptedServer(), Clock()
    terminal = Terminal(
        readers,
        server,  # type: ignore[arg-type]  # the client's interface, scripted
        idle_seconds=IDLE,
        warn_seconds=WARN,
        clock=clock,
    )
    readers.start(terminal.on_reader_event)  # events only: no housekeeping thread
    events = terminal.subscribe()
    yield Rig(terminal, readers, server, clock, cards, events)
    terminal.clear(notify=False)


def test_a_professional_card_asks_for_the_pin_then_signs_in(rig: Rig) -> None:
    t = rig.terminal
    rig.insert(PRO, PRO_CARD)
    assert t.pro_reader == PRO
    assert t.token() is None
    assert rig.went_to() == ["/pin"]
    before = t.browser_key
    rig.terminal.sign_in_professional("1234")
    assert t.pro is not None
    assert t.pro_reader is None
    assert t.token() == "pro-token"
    assert t.pro.may.deposit_categories == {"dispensation"}  # the server's answer, kept
    assert t.browser_key != before  # a session starts: the browser secret changes


def test_pulling_the_professional_card_clears_everything(rig: Rig) -> None:
    rig.pro_signs_in()
    t = rig.terminal
    t.dossier = Dossier(7, {"patient": {"birth_name": "DURAND"}})
    rig.went_to()
    rig.pull(PRO)
    assert (t.pro, t.pro_reader, t.dossier, t.patient_card, t.patient) == (None,) * 5
    assert t.token() is None
    assert t.flash == "card_removed"
    assert rig.went_to() == ["/"]
    assert rig.ended() == ["pro-token"]  # the server hears it at once


def test_at_the_counter_the_patient_card_leaves_alone(rig: Rig) -> None:
    rig.pro_signs_in()
    t = rig.terminal
    rig.insert(PATIENT, PATIENT_CARD)
    assert rig.went_to()[-1] == "/patient-card"
    identity = t.read_patient_card()
    assert identity.ins
    t.dossier = Dossier(7)
    rig.pull(PATIENT)
    assert t.patient_card is None
    assert t.dossier is None  # the patient's identity and dossier leave the memory
    assert t.token() == "pro-token"  # the professional stays
    assert t.flash == "patient_card_removed"
    assert rig.went_to()[-1] == "/pro/"
    assert rig.ended() == []


def test_a_patient_alone_signs_in_and_pulling_the_card_ends_it(rig: Rig) -> None:
    t = rig.terminal
    rig.insert(PATIENT, PATIENT_CARD)
    assert t.patient_card is not None
    assert not t.in_session()  # a card in, nothing asked of the server yet
    assert t.start_patient_sign_in().status == 201
    assert t.in_session()
    assert t.patient is not None
    assert t.patient.pending_token == "pending"
    t.finish_patient_sign_in("patient-token", 120.0)
    assert t.token() == "patient-token"
    assert t.patient.pending_token is None
    rig.pull(PATIENT)
    assert (t.patient, t.patient_card, t.dossier) == (None, None, None)
    assert rig.ended() == ["patient-token"]


def test_a_professional_card_ends_a_patients_own_session(rig: Rig) -> None:
    rig.patient_signs_in()
    rig.insert(PRO, PRO_CARD)
    t = rig.terminal
    assert t.patient is None
    assert t.pro_reader == PRO
    assert rig.ended() == ["patient-token"]


def test_the_idle_warning_comes_before_the_timeout(rig: Rig) -> None:
    t = rig.terminal
    assert t.warn_seconds == WARN
    assert Terminal(rig.readers, rig.server, idle_seconds=40, warn_seconds=30).warn_seconds == 20  # type: ignore[arg-type]


def test_idle_timeout_ends_the_session_and_rearms_the_cards_still_in(rig: Rig) -> None:
    rig.pro_signs_in()
    t = rig.terminal
    rig.clock.advance(IDLE - 1)
    t.touch()  # a tap: the deadline moves
    rig.clock.advance(IDLE - 1)
    t.tick()
    assert t.token() == "pro-token"
    rig.clock.advance(1)
    t.tick()
    assert t.token() is None
    assert t.flash == "idle"
    assert t.pro_reader == PRO  # the card is still in: the PIN again
    assert rig.ended() == ["pro-token"]
    assert "/" in rig.went_to()


def test_the_card_re_signs_before_the_servers_deadline(rig: Rig) -> None:
    rig.server.resign_within = 120
    rig.pro_signs_in()
    t = rig.terminal
    rig.clock.advance(59)
    t.touch()
    t.tick()
    assert rig.server.resigned == []
    rig.clock.advance(1)  # half the server's 120 s: re-sign now
    t.tick()
    assert rig.server.resigned == ["pro-token"]
    rig.server.resign_within = 40  # the server's setting changed: follow it at once
    rig.clock.advance(60)
    t.touch()
    t.tick()
    assert rig.server.resigned == ["pro-token"] * 2
    rig.clock.advance(19)
    t.tick()
    assert len(rig.server.resigned) == 2
    rig.clock.advance(1)
    t.touch()
    t.tick()
    assert len(rig.server.resigned) == 3
    assert t.token() == "pro-token"


def test_an_unreachable_server_is_retried_soon_and_a_refusal_ends_the_session(rig: Rig) -> None:
    rig.pro_signs_in()
    t = rig.terminal
    rig.server.down = True
    rig.clock.advance(60)
    t.touch()
    t.tick()
    assert t.token() == "pro-token"  # kept: the server may be back in a moment
    rig.server.down = False
    rig.clock.advance(5)
    t.touch()
    rig.server.resign_status = 401
    t.tick()
    assert rig.server.resigned == ["pro-token"]
    assert t.token() is None
    assert t.flash == "session_ended"


def test_signing_out_clears_the_memory_and_tells_the_server(rig: Rig) -> None:
    rig.patient_signs_in()
    t = rig.terminal
    t.dossier = Dossier(3, {"patient": {}})
    rig.went_to()
    t.clear("signed_out", notify=False)
    assert (t.patient, t.dossier, t.token()) == (None, None, None)
    assert t.patient_card is None  # the card is stale: the welcome asks to take it
    assert t.present == {PATIENT: t.present[PATIENT]}
    assert rig.ended() == ["patient-token"]
    assert rig.went_to() == []  # notify=False: the request redirects by itself


def test_an_unknown_card_is_told_and_ignored(rig: Rig) -> None:
    from kiosk.readers import ReaderEvent

    rig.terminal.on_reader_event(ReaderEvent("inserted", PATIENT, b"\x3b\x00"))
    assert rig.terminal.flash == "unknown_card"
    assert rig.terminal.patient_card is None
    assert rig.went_to() == ["/"]


def test_a_pulled_card_leaves_a_note_of_what_was_not_saved_shown_briefly(rig: Rig) -> None:
    """Issue 11: an unsaved deposit is not lost silently; only its title, category and
    number of lines are noted, told on the page after the pull, and the next person sees
    nothing of it."""
    rig.pro_signs_in()
    t = rig.terminal
    t.dossier = Dossier(7)
    t.draft = DraftNote("Délivrance du 22 novembre", "dispensation", 2)
    fetched = Fetched("image/png", b"\x89PNG photo", image=(b"\x89PNG photo", "image/png"))
    t.dossier.viewed.put("doc-1", fetched)
    assert _reaches(t, fetched)  # the check below can fail
    rig.pull(PRO)
    assert t.draft is None
    assert t.pop_lost() == DraftNote("Délivrance du 22 novembre", "dispensation", 2)
    # The page after the pull may load twice at once; a few seconds later it is gone.
    assert t.pop_lost() == DraftNote("Délivrance du 22 novembre", "dispensation", 2)
    rig.clock.advance(LOST_NOTE_SHOWN_SECONDS + 1)
    assert t.pop_lost() is None
    assert not _reaches(t, fetched)
    # Not told after a sign-out (a choice), and forgotten when someone else comes.
    rig.pro_signs_in()
    t.draft = DraftNote("Ordonnance", "prescription", 1)
    t.clear("signed_out", notify=False)
    assert t.pop_lost() is None
    rig.pull(PRO)
    rig.pro_signs_in()
    t.draft = DraftNote("Ordonnance", "prescription", 1)
    rig.pull(PRO)
    rig.insert(PRO, PRO_CARD)  # the next card, before anyone read the note
    assert t.pop_lost() is None


def test_the_note_of_what_was_lost_expires_on_its_own(rig: Rig) -> None:
    rig.pro_signs_in()
    t = rig.terminal
    t.draft = DraftNote("Ordonnance", "prescription", 3)
    rig.pull(PRO)
    rig.clock.advance(LOST_NOTE_SECONDS + 1)
    t.tick()
    assert t.pop_lost() is None


def test_the_patients_card_leaving_the_counter_takes_the_opened_documents(rig: Rig) -> None:
    rig.pro_signs_in()
    t = rig.terminal
    rig.insert(PATIENT, PATIENT_CARD)
    t.dossier = Dossier(7)
    fetched = Fetched("application/pdf", b"%PDF-1.7 secret", pages=1)
    t.dossier.viewed.put("doc-1", fetched)
    t.draft = DraftNote("Dispensation", "dispensation", 1)
    rig.pull(PATIENT)
    assert t.dossier is None
    assert t.draft is None
    assert t.pop_lost() == DraftNote("Dispensation", "dispensation", 1)
    assert t.token() == "pro-token"
    # Nothing the terminal still holds leads to the document's bytes.
    assert not _reaches(t, fetched)


def _reaches(root: object, target: object, limit: int = 200_000) -> bool:
    """Whether `target` can be reached from `root` by following references (not through
    classes, modules and functions, which hold no session state)."""
    import gc
    import types

    opaque = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType)
    seen, todo = {id(root)}, [root]
    while todo:
        for ref in gc.get_referents(todo.pop()):
            if ref is target:
                return True
            if id(ref) not in seen and not isinstance(ref, opaque):
                seen.add(id(ref))
                todo.append(ref)
        assert len(seen) < limit, "the walk did not finish: the answer would mean nothing"
    return False
