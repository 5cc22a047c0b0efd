"""The access history worded by the kiosk (kiosk/history_words.py), from the server's
codes and parameters: one date per day, the patient's own actions folded into visits,
repeated events folded with a count, emergencies and refusals marked, in French and in
English, with no internal words."""

from __future__ import annotations

import re
from typing import Any

import pytest

from kiosk import history_words
from kiosk.history_words import ACTIONS, REASONS

GP = {
    "kind": "professional",
    "name": "Jean DUPONT",
    "profession": "medecin_generaliste",
    "profession_label": {"fr": "Médecin généraliste", "en": "General practitioner"},
    "structure": "750100018",
}
MARIE = {"kind": "patient", "name": "Marie DURAND", "profession": None, "structure": None}


def line(at: str, action: str, actor: dict[str, Any] = GP, **more: Any) -> dict[str, Any]:
    entry = {
        "at": at,
        "actor": actor,
        "action": action,
        "mode": "none",
        "outcome": "allowed",
        "reason": "medecin_traitant",
        "category": None,
        "own": actor is MARIE,
        "params": {},
        "repeated": 0,
    }
    entry.update(more)
    return entry


def test_a_day_of_history_reads_as_the_patient_would_say_it() -> None:
    page = [  # newest first, as the server answers
        line("2026-11-28T13:05:00+00:00", "history:read", MARIE),
        line("2026-11-28T13:02:00+00:00", "dossier:read", MARIE),
        line("2026-11-28T13:01:00+00:00", "auth:card", MARIE),
        line("2026-11-28T10:15:00+00:00", "document:list", mode="medecin_traitant"),
        line("2026-11-28T10:14:00+00:00", "document:list", mode="medecin_traitant"),
        line("2026-11-28T10:13:00+00:00", "document:list", mode="medecin_traitant"),
        line(
            "2026-11-28T09:00:00+00:00",
            "emergency:bris_de_glace",
            mode="bris_de_glace",
            params={"reason": "Patiente inconsciente"},
        ),
        line(
            "2026-11-27T18:00:00+00:00",
            "document:list",
            outcome="denied",
            reason="professional_blocked",
            params={},
        ),
    ]
    [today, yesterday] = history_words.days(page, "fr")
    assert today.label == "samedi 28 novembre 2026"
    assert yesterday.label == "vendredi 27 novembre 2026"
    visit, listing, emergency = today.lines
    # Her own three actions: one line for the visit, the detail kept.
    assert (visit.kind, visit.time, visit.text) == (
        "own",
        "14:01",
        "Vous avez consulté votre dossier.",
    )
    assert visit.detail == [
        "14:05 Vous avez consulté l'historique des accès.",
        "14:02 Vous avez consulté le résumé de votre dossier.",
        "14:01 Vous avez présenté votre carte.",
    ]
    # A professional paging through the list: one line with a count, the detail kept.
    assert listing.text == (
        "Jean DUPONT (médecin généraliste) a consulté la liste de vos documents comme "
        "médecin traitant (3 fois)."
    )
    assert len(listing.detail) == 3
    assert listing.time == "11:13"  # Paris time, the first of them
    assert emergency.kind == "emergency"
    assert emergency.text == (
        "Jean DUPONT (médecin généraliste) a ouvert votre dossier en urgence (bris de "
        "glace), motif déclaré : « Patiente inconsciente »."
    )
    [refused] = yesterday.lines
    assert refused.kind == "denied"
    assert refused.text == (
        "Jean DUPONT (médecin généraliste) a tenté de consulter la liste de vos documents : "
        "accès refusé (vous aviez bloqué ce professionnel)."
    )
    every = " ".join(x.text + " ".join(x.detail) for d in (today, yesterday) for x in d.lines)
    for internal in ("au titre de", "INS", "750100018", "Résultat", "medecin_traitant"):
        assert internal not in every


def test_the_same_history_in_english() -> None:
    page = [
        line("2026-11-28T10:15:00+00:00", "document:list", params={"search": True, "matched": 3}),
        line("2026-11-28T10:00:00+00:00", "auth:card", MARIE),
        line("2026-11-28T09:00:00+00:00", "dossier:read", outcome="denied", reason="nope"),
    ]
    [day] = history_words.days(page, "en")
    assert day.label == "Saturday 28 November 2026"
    search, visit, refused = day.lines
    assert (
        search.text
        == "Jean DUPONT (General practitioner) searched your documents, 3 document(s) found."
    )
    assert visit.detail == ["11:00 You presented your card."]
    assert refused.text == (
        "Jean DUPONT (General practitioner) tried to view your record's summary: access "
        "refused (the request could not be completed)."
    )


def test_visits_apart_are_two_lines_and_the_first_of_the_month_reads_1er() -> None:
    page = [
        line("2026-12-01T15:00:00+00:00", "history:read", MARIE),
        line("2026-12-01T09:00:00+00:00", "auth:card", MARIE),
    ]
    [day] = history_words.days(page, "fr")
    assert day.label == "mardi 1er décembre 2026"
    assert [x.kind for x in day.lines] == ["own", "own"]


def test_every_action_and_reason_of_the_server_is_worded() -> None:
    from server.policy import Action
    from server.services.history import REASONS_FR, VERBS

    assert set(VERBS) <= set(ACTIONS)
    assert {a.value for a in Action} <= set(ACTIONS) | {"document:search"}
    # Every reason a refusal can give is worded; the reasons of allowed lines are not
    # shown (the line says how it was allowed: MODES).
    allowed_only = {
        "patient_own_dossier", "representative_of_minor", "medecin_traitant", "document_author",
        "care_team_member", "explicit_consent", "bris_de_glace_active", "centre_15_active",
        "emergency_granted", "creation_with_consent", "admissions_desk", "insurer_deposit",
        "identity_lookup", "card_signin", "card_first_factor", "password_valid", "password_set",
        "code_sent", "totp_enrolment_started", "totp_confirmed", "signin_card_code",
        "signin_card_totp", "signin_password_code", "signin_password_totp", "terminal_signin",
        "delegation_active",
    }  # fmt: skip
    assert set(REASONS_FR) - allowed_only <= set(REASONS)
    assert all(fr and en and fr != en for fr, en in REASONS.values())


def test_a_visit_at_the_counter_stays_one_line_around_the_pharmacists_lines() -> None:
    page = [
        line("2026-11-28T10:20:00+00:00", "history:read", MARIE),
        line("2026-11-28T10:15:00+00:00", "document:deposit", category="dispensation"),
        line("2026-11-28T10:14:00+00:00", "access:grant", MARIE),
        line("2026-11-28T10:12:00+00:00", "auth:card", MARIE),
    ]
    [day] = history_words.days(page, "fr")
    visit, deposit = day.lines
    assert (visit.kind, visit.time, len(visit.detail)) == ("own", "11:12", 3)
    assert deposit.text == (
        "Jean DUPONT (médecin généraliste) a ajouté un document de la catégorie « Dispensation »."
    )
    [day_en] = history_words.days(page, "en")
    assert day_en.lines[1].text == (
        "Jean DUPONT (General practitioner) added a document (Dispensing)."
    )


def test_her_own_refused_attempts_are_said_to_her_and_stand_out() -> None:
    page = [
        line("2026-11-28T10:03:00+00:00", "dossier:read", MARIE),
        line(
            "2026-11-28T10:02:00+00:00", "auth:otp", MARIE, outcome="denied", reason="otp_invalid"
        ),
        line("2026-11-28T10:01:00+00:00", "auth:card", MARIE),
    ]
    [day] = history_words.days(page, "fr")
    kinds = [x.kind for x in day.lines]
    assert kinds == ["own", "denied"]  # the refusal is not folded into the visit
    assert day.lines[1].text == (
        "Vous avez tenté de saisir un code de connexion : refusé (code de connexion incorrect)."
    )
    assert len(day.lines[0].detail) == 2
    [day_en] = history_words.days(page, "en")
    assert (
        day_en.lines[1].text == "You tried to enter a sign-in code: refused (wrong sign-in code)."
    )


def test_a_summary_reads_as_a_read_of_the_documents_it_drew_on() -> None:
    """FHIR $summary: one trace entry naming the documents read (server/fhir/summary.py)."""
    page = [
        line("2026-11-28T10:15:00+00:00", "document:read", params={"summary": "ips", "read": 4}),
        line(
            "2026-11-28T10:00:00+00:00",
            "document:list",
            outcome="denied",
            reason="no_authorisation",
            params={"summary": "ips"},
        ),
    ]
    [day] = history_words.days(page, "fr")
    read, refused = day.lines
    assert read.text == (
        "Jean DUPONT (médecin généraliste) a consulté la synthèse de votre dossier, "
        "tirée de 4 document(s)."
    )
    assert "a tenté de consulter la synthèse de votre dossier : accès refusé" in refused.text
    [day] = history_words.days(page, "en")
    assert day.lines[0].text.endswith(
        "viewed your record's summary of care, drawn from 4 document(s)."
    )


def test_a_delegate_reads_as_a_delegate_and_operations_are_worded() -> None:
    paul = {"kind": "patient", "name": "Paul DURAND", "profession": None, "structure": None}
    read = line(
        "2026-11-28T10:00:00+00:00",
        "document:read",
        paul,
        mode="delegate",
        reason="delegation_active",
        category="compte_rendu",
    )
    assert history_words.sentence(read, "fr").startswith(
        "Paul DURAND (délégation) a ouvert un document de la catégorie"
    )
    assert history_words.sentence(read, "en").startswith("Paul DURAND (delegation) opened")
    refused = line(
        "2026-11-28T10:00:00+00:00",
        "document:read",
        paul,
        outcome="denied",
        reason="delegation_revoked",
    )
    assert "la délégation avait été révoquée" in history_words.sentence(refused, "fr")
    given = line("2026-11-28T10:00:00+00:00", "delegation:manage", MARIE, params={"op": "give"})
    assert history_words.sentence(given, "fr") == "Vous avez donné une délégation de lecture."
    assert history_words.sentence(given, "en") == "You gave a reading delegation."


def test_a_visit_in_which_she_changed_something_says_so() -> None:
    """Review #6: her block and grant are not folded under "consulté votre dossier"."""
    page = [
        line("2026-11-28T10:20:00+00:00", "history:read", MARIE),
        line("2026-11-28T10:16:00+00:00", "document:deposit", MARIE, receipt_id="r-dep2"),
        line("2026-11-28T10:15:00+00:00", "document:deposit", MARIE, receipt_id="r-dep1"),
        line("2026-11-28T10:14:00+00:00", "access:grant", MARIE, receipt_id="r-grant"),
        line("2026-11-28T10:13:00+00:00", "access:block", MARIE, receipt_id="r-block"),
        line("2026-11-28T10:12:00+00:00", "auth:card", MARIE),
    ]
    [day] = history_words.days(page, "fr")
    [visit] = day.lines
    assert visit.text == (
        "Vous avez consulté votre dossier, bloqué un professionnel, donné un accès à votre "
        "dossier et fait d'autres modifications."
    )
    assert visit.receipts == ["r-dep2", "r-dep1", "r-grant", "r-block"]
    assert visit.receipt_labels == [
        "document ajouté (1)",
        "document ajouté (2)",
        "accès donné",
        "professionnel bloqué",
    ]
    assert len(visit.detail) == 6  # nothing hidden
    [day_en] = history_words.days(page, "en")
    [visit_en] = day_en.lines
    assert visit_en.text == (
        "You consulted your record, blocked a professional, gave access to your record and "
        "made other changes."
    )
    assert visit_en.receipt_labels[2:] == ["access given", "professional blocked"]


@pytest.mark.parametrize(
    ("own", "fr", "en"),
    [
        (
            [("access:block", {})],
            "Vous avez consulté votre dossier et bloqué un professionnel.",
            "You consulted your record and blocked a professional.",
        ),
        (
            [("document:deposit", {}), ("document:deposit", {})],
            "Vous avez consulté votre dossier et ajouté des documents.",
            "You consulted your record and added documents.",
        ),
        (
            [("delegation:manage", {"op": "give"}), ("dossier:close", {})],
            "Vous avez consulté votre dossier, fermé votre dossier et donné une délégation "
            "de lecture.",
            "You consulted your record, closed your record and gave a reading delegation.",
        ),
        (
            [("delegation:manage", {"op": "list"}), ("dossier:export", {})],
            "Vous avez consulté votre dossier.",
            "You consulted your record.",
        ),
    ],
)
def test_a_visit_names_its_most_significant_changes(
    own: list[tuple[str, dict[str, Any]]], fr: str, en: str
) -> None:
    page = [
        line(f"2026-11-28T10:{20 - i:02d}:00+00:00", action, MARIE, params=params)
        for i, (action, params) in enumerate(own)
    ] + [line("2026-11-28T10:00:00+00:00", "auth:card", MARIE)]
    assert history_words.days(page, "fr")[0].lines[0].text == fr
    assert history_words.days(page, "en")[0].lines[0].text == en


def test_a_visit_of_changes_only_does_not_claim_a_consultation() -> None:
    page = [line("2026-11-28T10:00:00+00:00", "access:block", MARIE, receipt_id="r")]
    [[visit]] = [d.lines for d in history_words.days(page, "fr")]
    assert visit.text == "Vous avez bloqué un professionnel."
    assert visit.receipt_labels == ["professionnel bloqué"]


def test_every_change_is_an_action_the_history_knows() -> None:
    known = set(ACTIONS) | {f"{a}:{op}" for a, op in history_words.OPERATIONS}
    assert set(history_words.CHANGES) <= known
    for (fr, fr_more, en, en_more), (proof_fr, proof_en) in history_words.CHANGES.values():
        assert all((fr, fr_more, en, en_more, proof_fr, proof_en))
        assert proof_fr != proof_en


FORMS = (
    list(ACTIONS.values())
    + list(history_words.OPERATIONS.values())
    + [history_words.SEARCH, history_words.SUMMARY]
)
NOT_ELIDED = re.compile(r"\bde [aeiouhàâäéèêëîïôöùûüœ]", re.IGNORECASE)


@pytest.mark.parametrize("forms", FORMS, ids=[f[1] for f in FORMS])
def test_a_refusal_elides_de_before_every_verb(forms: tuple[str, str, str, str]) -> None:
    """Review #9: "tenté d'exporter", "a tenté d'examiner", never "de exporter"."""
    action, params = "document:list", {}
    if forms is history_words.SEARCH:
        params = {"search": True}
    elif forms is history_words.SUMMARY:
        params = {"summary": "ips"}
    elif forms in history_words.OPERATIONS.values():
        [(action, op)] = [k for k, f in history_words.OPERATIONS.items() if f == forms]
        params = {"op": op}
    else:
        [action] = [a for a, f in ACTIONS.items() if f == forms]
    infinitive = forms[1]
    for actor in (MARIE, GP):
        entry = line(
            "2026-11-28T10:00:00+00:00",
            action,
            actor,
            outcome="denied",
            reason="default_deny",
            params=params,
        )
        text = history_words.sentence(entry, "fr")
        assert not NOT_ELIDED.search(text), text
        tried = "tenté d'" if infinitive[0] in "aeiouéèêàâîôûh" else "tenté de "
        assert tried in text, text


def test_the_reviewed_refusals_elide() -> None:
    refused_export = line(
        "2026-11-28T10:00:00+00:00",
        "dossier:export",
        MARIE,
        outcome="denied",
        reason="export_code_invalid",
    )
    assert history_words.sentence(refused_export, "fr") == (
        "Vous avez tenté d'exporter votre dossier : refusé (code de téléchargement incorrect)."
    )
    officer = {"kind": "professional", "name": "Sophie LAMBERT", "profession": None}
    refused_review = line(
        "2026-11-28T10:00:00+00:00",
        "review:read",
        officer,
        outcome="denied",
        reason="other_establishment",
    )
    assert history_words.sentence(refused_review, "fr").startswith(
        "Sophie LAMBERT a tenté d'examiner un accès signalé"
    )
    assert history_words.de("Anne") == "d'Anne"
    assert history_words.de("Hélène") == "d'Hélène"
    assert history_words.de("Paul") == "de Paul"
