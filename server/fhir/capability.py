"""The CapabilityStatement: exactly what this server does, nothing it does not.

It claims neither the MHD Document Responder's nor PDSm's CapabilityStatement: XML, the
Patient resource, the conditional PATCH and the other MHD options are not served yet;
what is, ITI-65 and the PATCH it answers included, says where it departs (docs/fhir.md).
"""

from __future__ import annotations

from typing import Any

from server.fhir import codes, lists, params, summary

PUBLISHED = "2026-11-28"  # when this statement last changed

_TOKEN, _DATE, _STRING, _REFERENCE = "token", "date", "string", "reference"
SEARCH_PARAMS: list[tuple[str, str, str]] = [
    (
        "patient",
        _REFERENCE,
        "Patient/<dossier id> (the dossier's number in the JSON API); one patient per search",
    ),
    (
        "patient.identifier",
        _TOKEN,
        "INS: urn:oid:1.2.250.1.213.1.4.8 (NIR), .9 (NIA), .10 and .11 (test)|<matricule>",
    ),
    ("_id", _TOKEN, "logical id"),
    ("identifier", _TOKEN, "uniqueId, urn:uuid:<entryUUID> or urn:uuid:<logical id>"),
    ("status", _TOKEN, "current (archived included), superseded; entered-in-error finds none"),
    ("isArchived", _TOKEN, "PDSm: true or false"),
    ("category", _TOKEN, f"{codes.OWN_CATEGORY} or TRE_A03 where mapped"),
    ("type", _TOKEN, "LOINC"),
    ("format", _TOKEN, "urn:ihe:iti:xds:2017:mimeTypeSufficient for unstructured content"),
    ("security-label", _TOKEN, "N, MASQUE_PS, INVISIBLE_PATIENT, INVISIBLE_REPRESENTANTS_LEGAUX"),
    ("date", _DATE, "when the document was submitted; eq ne gt lt ge le"),
    ("creation", _DATE, "when the document was created"),
    ("period", _DATE, "service period"),
    ("period-start", _DATE, "PDSm: service start"),
    ("period-end", _DATE, "PDSm: service end"),
    ("author.given", _STRING, "professional author's given name; :exact, :contains"),
    ("author.family", _STRING, "professional author's family name; :exact, :contains"),
    ("relatesto", _REFERENCE, "DocumentReference this one replaces"),
    ("relation", _TOKEN, "replaces"),
    ("related", _REFERENCE, "not recorded: matches no document"),
    ("facility", _TOKEN, "not recorded: matches no document"),
    ("setting", _TOKEN, "not recorded: matches no document"),
    ("event", _TOKEN, "not recorded: matches no document"),
    (
        "_content",
        _STRING,
        "full text: the words of the document and its metadata, all required; case and "
        "accents ignored, French stems, a word also finds the words it begins (3 letters "
        'or more), a "quoted" word only itself; at most 8 words; no comma alternatives. '
        "Only documents the caller may read are searched (the JSON search, /api/v1)",
    ),
    ("_text", _STRING, "the same as _content (a DocumentReference has no narrative)"),
    ("_count", "number", f"page size, at most {params.MAX_COUNT} (default {params.DEFAULT_COUNT})"),
    ("_offset", "number", "where the page starts (the `next` links carry it)"),
]


TRANSACTION_DOC = (
    "ITI-65 Provide Document Bundle: POST [base] with a transaction Bundle of one "
    "SubmissionSet List (code MHDlistTypes#submissionset), DocumentReferences and their "
    "Binaries (fullUrl urn:uuid:, POST only, at most 20 documents). PDSm: author contained, "
    "custodian, date, attachment size, SHA-1 hash (checked against the Binary) and title "
    "mandatory; securityLabel N plus MASQUE_PS, INVISIBLE_PATIENT, "
    "INVISIBLE_REPRESENTANTS_LEGAUX. relatesTo replaces: a new version, the old one "
    "superseded. All or nothing; the JSON API's deposit decision and trace. The "
    "SubmissionSet is kept (201, List/{id})."
)
PATCH_DOC = (
    "FHIRPath Patch (application/fhir+json, a Parameters; PDSm's format) and "
    "application/json-patch+json (add, remove, replace, test) on securityLabel (the "
    "visibility codes), the PDSm isArchived extension (archive and un-archive) and PDSm's "
    "logical deletion (isDeleted true with status superseded, current version, author "
    "only) only; the JSON API's masking, visibility, archive and delete decisions and "
    "traces. FHIRPath Patch: add on DocumentReference (name securityLabel, or extension "
    "for isDeleted), delete on DocumentReference.securityLabel.where(coding.code='...'), "
    "replace on DocumentReference.extension.where(url='...').value and on "
    "DocumentReference.status; no other path, function, insert or move. If-Match: "
    'W/"<meta.versionId>" (the read\'s ETag) applies the patch to that version only, '
    "412 Precondition Failed if the document changed since."
)
DELETE_DOC = "Logical deletion, the document's author only (the JSON API's delete)."


def statement(base: str, software_version: str) -> dict[str, Any]:
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": PUBLISHED,
        "publisher": "dmp-kiosk",
        "kind": "instance",
        "software": {"name": "dmp-kiosk", "version": software_version},
        "implementation": {
            "description": "Dossier médical partagé: IHE MHD Document Responder (ITI-65 "
            "Provide Document Bundle, ITI-67, ITI-68), DocumentReference and metadata "
            "updates (PATCH, DELETE) after the French PDSm profile",
            "url": base,
        },
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json"],
        # PDSm: FHIRPath Patch (its required format) and JSON Patch, declared here.
        "patchFormat": ["application/fhir+json", "application/json-patch+json"],
        "rest": [
            {
                "mode": "server",
                "security": {
                    "cors": False,
                    "description": "Authorization: Bearer <session token> of a professional "
                    "(card sign-in) or a patient; anonymous calls get 401. Every access is "
                    "decided and traced as in the JSON API (/api/v1). Software is a registered "
                    "terminal that signs every request with its own pinned key (X-DMP-Kiosk, "
                    "X-DMP-Date, X-DMP-Nonce, X-DMP-Signature; docs/integrators.md).",
                },
                "interaction": [{"code": "transaction", "documentation": TRANSACTION_DOC}],
                "resource": [
                    {
                        "type": "DocumentReference",
                        "interaction": [
                            {"code": "read"},
                            {"code": "search-type"},
                            {"code": "patch", "documentation": PATCH_DOC},
                            {"code": "delete", "documentation": DELETE_DOC},
                        ],
                        # meta.versionId is the metadata version (entryUUID), sent as the
                        # read's ETag; a PATCH with If-Match is applied to that version
                        # only (412 otherwise). No vread: past versions are not served.
                        "versioning": "versioned-update",
                        "readHistory": False,
                        "updateCreate": False,
                        "conditionalDelete": "not-supported",
                        "searchParam": [
                            {"name": name, "type": kind, "documentation": doc}
                            for name, kind, doc in SEARCH_PARAMS
                        ],
                    },
                    {
                        "type": "Binary",
                        "interaction": [{"code": "read"}],
                        "versioning": "no-version",
                        "readHistory": False,
                        "updateCreate": False,
                    },
                    {
                        "type": "AuditEvent",
                        "interaction": [{"code": "search-type"}],
                        "versioning": "no-version",
                        "readHistory": False,
                        "updateCreate": False,
                        "documentation": "The patient's access history, newest first; "
                        "decided and traced as reading the history (the patient, a "
                        "minor's representatives).",
                        "searchParam": [
                            {"name": "patient", "type": "reference"},
                            {"name": "_count", "type": "number"},
                            {
                                "name": "_before",
                                "type": "number",
                                "documentation": "paging: "
                                "entries before this sequence number (from the next link)",
                            },
                        ],
                    },
                    {
                        "type": "List",
                        "interaction": [{"code": "read"}, {"code": "search-type"}],
                        "versioning": "no-version",
                        "readHistory": False,
                        "updateCreate": False,
                        "documentation": "ITI-65 SubmissionSets, kept and read back (MHD "
                        "ITI-66 Find Document Lists, submission sets only; no folders): "
                        "decided as the document listing; an entry whose document the "
                        "caller may not read is left out, a List with none left is not "
                        "there.",
                        "searchParam": [
                            {"name": name, "type": kind, "documentation": doc}
                            for name, kind, doc in lists.SEARCH_PARAMS
                        ],
                    },
                    summary.capability(),  # IPS $summary (server/fhir/summary.py)
                ],
            }
        ],
    }
