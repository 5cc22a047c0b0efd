"""The demo population: a few patients and professionals with some real activity.

Everything goes through the same use cases as the API, so the demo's documents, accesses
and denials leave genuine traces that `dmp audit verify` checks.
"""

from __future__ import annotations

import base64
import io
import json
from typing import Any

from sqlalchemy import func, select

from cardreader.emulator import demo as demo_cards
from cardreader.emulator.demo import slug
from server.alerts import scan as alert_rules
from server.app import build_runtime
from server.errors import DmpError
from server.identifiers import parse_national_id
from server.models import Patient, Professional, ServiceAccount
from server.policy import ActorKind
from server.receipt_signer import ReceiptSignerError
from server.services import access, directory, documents, dossiers, trace_log
from server.services.context import Ctx, Principal
from server.signin import sessions

MARIE, LUCIA, PAUL = "255081416802538", "253072B07300470", "162117511304567"

# The people are the card demo set's (`dmp card demo-set`), so that the cards a demo
# kiosk reads belong to the dossiers seeded here. One professional has no card in that
# set: occupational medicine (always refused by law).
EXTRA_PROFESSIONALS = [
    # national id, first name, last name, profession, specialty, FINESS, structure
    ("810007890121", "Marc", "Blanc", "medecin_travail", None, None, "Service de santé au travail"),
]
INSURER = "Assurance Maladie (injection des remboursements)"
THIRD_PARTY = "Mutuelle Exemple"


def seed(settings: dict[str, Any], *, if_empty: bool = False) -> str:
    rt = build_runtime(settings)
    try:
        if rt.receipt_signer is None:
            # The demo gives consents, and each needs its signed receipt (docs/receipts.md).
            raise ReceiptSignerError(
                "the demo records consents, whose receipts need the receipt signer: "
                "`dmp pki init var/pki && dmp pki issue-receipt-signer var/pki`, then set "
                "DMP_RECEIPT_SIGNER_KEY_FILE=var/pki/receipt-signers/receipts.key.pem and "
                "DMP_RECEIPT_SIGNER_CHAIN_FILE=var/pki/receipt-signers/receipts.chain.pem"
            )
        with rt.sessions() as session:
            ctx = rt.ctx(session)
            if if_empty and session.scalar(select(func.count()).select_from(Patient)):
                return "demo data already present: nothing loaded"
            pros = _professionals(ctx)
            # A newcomer finds a doctor by name (issue 14): a directory extract to choose
            # from, and the demo's own professionals in it.
            found = directory.load(ctx, directory.demo_extract())
            services = _services(ctx)
            session.commit()
            _activity(ctx, pros, services)
            # The demo's emergency access waits in the CHU officer's queue at once
            # rather than after the worker's first pass (docs/alerts.md).
            trace_log.run(rt)
            alert_rules.run(rt)
            return (
                f"loaded {len(pros)} professionals, {found.added} more in the directory, "
                f"{len(demo_cards.PATIENTS)} patients with their "
                "dossiers, documents and access traces. Open a session with "
                "`dmp db demo-session <INS or national id>`."
            )
    finally:
        rt.engine.dispose()


def open_demo_session(settings: dict[str, Any], who: str) -> str:
    rt = build_runtime(settings)
    try:
        with rt.sessions() as session:
            ctx = rt.ctx(session)
            kind, actor_id = _find_actor(ctx, who)
            token = sessions.open_session(ctx, kind, actor_id)
            session.commit()
            return token
    finally:
        rt.engine.dispose()


def _find_actor(ctx: Ctx, who: str) -> tuple[ActorKind, int]:
    pro = ctx.session.scalar(select(Professional.id).where(Professional.national_id == who))
    if pro is not None:
        return ActorKind.PROFESSIONAL, pro
    patient = ctx.session.scalar(select(Patient.id).where(Patient.ins == who))
    if patient is not None:
        return ActorKind.PATIENT, patient
    account = ctx.session.scalars(select(ServiceAccount).where(ServiceAccount.name == who)).first()
    if account is not None:
        return ActorKind(account.kind), account.id
    raise SystemExit(f"no demo actor {who!r} (give an INS, a national id or a service name)")


def _professionals(ctx: Ctx) -> dict[str, Professional]:
    rows = [
        (
            p.identity.national_id,
            p.identity.first_name,
            p.identity.last_name,
            p.identity.profession,
            p.identity.specialty,
            p.identity.structure.identifier,
            p.identity.structure.name,
        )
        for p in demo_cards.PROFESSIONALS
    ]
    out = {}
    for nid, first, last, profession, specialty, finess, structure in rows + EXTRA_PROFESSIONALS:
        pro = Professional(
            national_id=parse_national_id(nid),
            first_name=first,
            last_name=last,
            profession=profession,
            specialty=specialty,
            structure_finess=finess,
            structure_name=structure,
            active=True,
        )
        ctx.session.add(pro)
        out[profession] = pro
    ctx.session.flush()
    return out


def _services(ctx: Ctx) -> dict[str, ServiceAccount]:
    insurer = ServiceAccount(name=INSURER, kind="insurer")
    third = ServiceAccount(name=THIRD_PARTY, kind="third_party")
    ctx.session.add_all([insurer, third])
    ctx.session.flush()
    return {"insurer": insurer, "third_party": third}


def _principal(ctx: Ctx, kind: ActorKind, actor_id: int) -> Principal:
    token = sessions.open_session(ctx, kind, actor_id, kiosk="demo")
    return sessions.resolve(ctx, token, "demo")


def _doc(category: str, type_code: str, title: str, text: str, **flags: bool) -> dict[str, Any]:
    return {
        "category": category,
        "type_code": type_code,
        "title": title,
        "mime_type": "text/plain",
        "content_base64": base64.b64encode(text.encode()).decode(),
        **flags,
    }


def _file(
    category: str, type_code: str, title: str, mime_type: str, content: bytes
) -> dict[str, Any]:
    return {
        "category": category,
        "type_code": type_code,
        "title": title,
        "mime_type": mime_type,
        "content_base64": base64.b64encode(content).decode(),
    }


def _fhir_document(
    code: str, title: str, section: str, narrative: str, resources: list[dict[str, Any]]
) -> bytes:
    """A small FHIR R4 document Bundle (Composition first, one section): the structured
    lines the server reads at deposit, which the patient summary (Synthèse) shows with
    the document they come from (issues 11 and 12)."""
    ids = [f"urn:uuid:6a1f0c2e-0000-4000-8000-{n:012d}" for n in range(len(resources) + 1)]
    composition = {
        "resourceType": "Composition",
        "status": "final",
        "type": {"coding": [{"system": "http://loinc.org", "code": code}]},
        "date": "2026-11-02T10:00:00+01:00",
        "title": title,
        "section": [
            {
                "title": section,
                "text": {
                    "status": "generated",
                    "div": f'<div xmlns="http://www.w3.org/1999/xhtml"><p>{narrative}</p></div>',
                },
                "entry": [{"reference": ref} for ref in ids[1:]],
            }
        ],
    }
    entries = [{"fullUrl": ids[0], "resource": composition}]
    entries += [{"fullUrl": ref, "resource": r} for ref, r in zip(ids[1:], resources, strict=True)]
    bundle = {
        "resourceType": "Bundle",
        "type": "document",
        "timestamp": "2026-11-02T10:00:00+01:00",
        "entry": entries,
    }
    return json.dumps(bundle, ensure_ascii=False).encode()


def _dispensation() -> bytes:
    return _fhir_document(
        "60593-1",
        "Délivrance du 2 novembre 2026",
        "Médicaments délivrés",
        "Amlodipine 5 mg, comprimé : 1 boîte, 1 comprimé par jour.",
        [
            {
                "resourceType": "MedicationDispense",
                "status": "completed",
                "medicationCodeableConcept": {"text": "Amlodipine 5 mg, comprimé"},
                "quantity": {"value": 1, "unit": "boîte"},
                "dosageInstruction": [
                    {
                        "text": "1 comprimé par jour",
                        "doseAndRate": [{"doseQuantity": {"value": 5, "unit": "mg"}}],
                    }
                ],
            }
        ],
    )


def _medical_summary() -> bytes:
    return _fhir_document(
        "60591-5",
        "Synthèse médicale",
        "Antécédents et allergies",
        "Hypertension artérielle traitée. Allergie : pénicilline.",
        [
            {"resourceType": "Condition", "code": {"text": "Hypertension artérielle"}},
            {"resourceType": "AllergyIntolerance", "code": {"text": "Pénicilline"}},
        ],
    )


def _lab_report_pdf() -> bytes:
    """A one-page laboratory report with a text layer: read in the kiosk page as an
    image of its page, and found by its words (issue 11)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    page = canvas.Canvas(out, pagesize=A4)
    page.setTitle("Résultats d'analyses")
    page.setFont("Helvetica-Bold", 15)
    page.drawString(60, 780, "Laboratoire de biologie médicale - Résultats d'analyses")
    page.setFont("Helvetica", 11)
    lines = [
        "Patiente : Marie DURAND",
        "Prélèvement du 12 octobre 2026",
        "",
        "Créatinine : 82 µmol/L (45 - 104)",
        "Potassium : 4,1 mmol/L (3,5 - 5,0)",
        "Glycémie à jeun : 5,2 mmol/L (4,1 - 5,9)",
        "Sérologie hépatite B : anticorps anti-HBs positifs (vaccinée)",
        "",
        "Conclusion : bilan rénal normal sous amlodipine.",
    ]
    for n, line in enumerate(lines):
        page.drawString(60, 740 - 18 * n, line)
    page.showPage()
    page.save()
    return out.getvalue()


def _photographed_letter() -> bytes:
    """A paper letter the patient photographed: no text but in its pixels, so the
    demo's OCR worker reads it a few seconds after start (issue 11)."""
    from PIL import Image, ImageDraw, ImageFont

    lines = [
        "Centre de vaccination",
        "Rappel du vaccin contre le tétanos",
        "prévu en mars 2029.",
    ]
    image = Image.new("L", (1400, 120 + 90 * len(lines)), 255)
    draw = ImageDraw.Draw(image)
    try:
        font: Any = ImageFont.truetype("DejaVuSans.ttf", 56)
    except OSError:  # no DejaVu on this machine: Pillow's own font, still readable
        font = ImageFont.load_default(size=56)
    for n, line in enumerate(lines):
        draw.text((60, 60 + 90 * n), line, fill=0, font=font)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _activity(ctx: Ctx, pros: dict[str, Professional], services: dict[str, ServiceAccount]) -> None:
    def step(fn: Any, *args: Any) -> Any:
        # Denials are part of the story (they show in the history); they commit themselves.
        try:
            result = fn(*args)
        except DmpError:
            return None
        ctx.session.commit()
        ctx._now = None  # each step at its own instant
        return result

    def pro(profession: str) -> Principal:
        return _principal(ctx, ActorKind.PROFESSIONAL, pros[profession].id)

    admissions = pro("admissions")
    dossier: dict[str, int] = {}
    for holder in demo_cards.PATIENTS:
        who = holder.identity
        body: dict[str, Any] = {
            "patient": {
                "ins": who.ins,
                "ins_oid": who.ins_oid,
                "birth_name": who.birth_name,
                "first_names": " ".join(who.first_names),
                "birth_date": who.birth_date.isoformat(),
                "sex": who.sex.value,
                "birth_place": who.birth_place,
                "email": f"{slug(who.first_names[0])}.{slug(who.birth_name)}@example.org",
            },
            "consent": {"given": True, "terminal": "demo-accueil-cpam"},
            "representatives": list(holder.representatives),
        }
        if holder.medecin_traitant:
            body["medecin_traitant"] = holder.medecin_traitant
        if not holder.has_dossier:
            # Known to the insurer's beneficiary register (identity and contact), with no
            # dossier: the kiosk demo opens one.
            register = dossiers._patient_fields(ctx, body["patient"])
            ctx.session.add(Patient(**register, created_at=ctx.now))
            ctx.session.commit()
            continue
        dossier[who.ins] = step(dossiers.create, ctx, admissions, body)["dossier_id"]
    marie, lucia, paul = dossier[MARIE], dossier[LUCIA], dossier[PAUL]
    gp = pro("medecin_generaliste")
    step(
        documents.deposit,
        ctx,
        gp,
        marie,
        _doc(
            "compte_rendu",
            "11488-4",
            "Consultation du 3 mars",
            "Consultation de suivi. Tension 12/8. Poursuite du traitement.",
        ),
    )
    step(
        documents.deposit,
        ctx,
        gp,
        marie,
        _doc("prescription", "57833-6", "Ordonnance", "Amlodipine 5 mg, 1 cp/j, 3 mois."),
    )
    step(
        documents.deposit,
        ctx,
        gp,
        marie,
        {
            **_file(
                "synthese",
                "60591-5",
                "Synthèse médicale",
                "application/fhir+json",
                _medical_summary(),
            ),
            "masked_ps": True,
        },
    )
    insurer = _principal(ctx, ActorKind.INSURER, services["insurer"].id)
    step(
        documents.deposit,
        ctx,
        insurer,
        marie,
        _doc(
            "remboursement", "96173-0", "Remboursements 2026", "Consultations : 3 ; pharmacie : 2."
        ),
    )
    patient = _principal(ctx, ActorKind.PATIENT, _patient_id(ctx, MARIE))
    step(
        documents.deposit,
        ctx,
        patient,
        marie,
        _doc("depose_patient", "51855-5", "Carnet de vaccination", "DTP 2019, grippe 2025."),
    )
    step(
        documents.deposit,
        ctx,
        patient,
        marie,
        _file(
            "depose_patient",
            "51855-5",
            "Courrier du centre de vaccination (photo)",
            "image/png",
            _photographed_letter(),
        ),
    )
    step(
        documents.deposit,
        ctx,
        gp,
        marie,
        _file(
            "compte_rendu",
            "11502-2",
            "Résultats d'analyses du 12 octobre",
            "application/pdf",
            _lab_report_pdf(),
        ),
    )
    pharmacien = pro("pharmacien")
    step(access.grant_consent, ctx, patient, marie, {"national_id": pros["pharmacien"].national_id})
    step(documents.list_documents, ctx, pharmacien, marie)
    step(
        documents.deposit,
        ctx,
        pharmacien,
        marie,
        _file("dispensation", "60593-1", "Délivrance", "application/fhir+json", _dispensation()),
    )
    step(access.block, ctx, patient, marie, pros["infirmier"].national_id)
    step(documents.list_documents, ctx, pro("infirmier"), marie)  # denied: blocked
    step(access.join_care_team, ctx, admissions, paul)  # admission at the CHU
    step(
        documents.deposit,
        ctx,
        pro("medecin_specialiste"),
        paul,
        _doc(
            "compte_rendu",
            "34112-3",
            "Compte rendu d'hospitalisation",
            "Séjour en cardiologie.",
            invisible_patient=True,
        ),
    )
    urgentiste = pro("urgentiste")
    step(
        access.emergency_access,
        ctx,
        urgentiste,
        lucia,
        {"mode": "bris_de_glace", "reason": "Patiente inconsciente aux urgences"},
    )
    step(documents.list_documents, ctx, urgentiste, lucia)
    step(documents.list_documents, ctx, pro("medecin_travail"), marie)  # denied: never eligible
    step(
        documents.list_documents,
        ctx,
        _principal(ctx, ActorKind.THIRD_PARTY, services["third_party"].id),
        marie,
    )


def _patient_id(ctx: Ctx, ins: str) -> int:
    pid = ctx.session.scalar(select(Patient.id).where(Patient.ins == ins))
    if pid is None:
        raise SystemExit(f"demo patient {ins} missing")
    return pid
