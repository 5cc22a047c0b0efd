"""All tables; importing this package registers them on `Base.metadata`."""

from server.models.audit import AuditEntry, AuditHead, DenialRepeat
from server.models.auth import (
    AuthThrottle,
    CardBinding,
    CardChallenge,
    Kiosk,
    OneTimeCode,
    PatientPassword,
    PendingSignIn,
    TotpCredential,
)
from server.models.base import Base, UTCDateTime, table_of
from server.models.delegation import Delegation
from server.models.directory import DirectoryEntry, DirectoryWord, SecretConnection
from server.models.document import (
    Document,
    DocumentContent,
    DocumentEntry,
    DocumentStructure,
    DocumentText,
)
from server.models.dossier import Block, CareTeamMember, ConsultationConsent, Dossier
from server.models.export import DossierExport
from server.models.keycheck import KEY_CHECK_ID, MasterKeyCheck
from server.models.people import Patient, Professional, RepresentativeLink, ServiceAccount
from server.models.receipt import Receipt
from server.models.replay import KioskRequestSeen
from server.models.review import AlertCursor, AlertSeen, DepositDigest, ReviewCase
from server.models.search import SearchPosting
from server.models.session import (
    ApiSession,
    EmergencyAccess,
    FirstAccess,
    IdempotencyRecord,
    OutboxMessage,
)
from server.models.submission import SubmissionSet, SubmissionSetEntry
from server.models.summary import SummaryCache
from server.models.tlog import LogCheckpoint, LogLeaf, LogNode

__all__ = [
    "KEY_CHECK_ID",
    "AlertCursor",
    "AlertSeen",
    "ApiSession",
    "AuditEntry",
    "AuditHead",
    "AuthThrottle",
    "Base",
    "Block",
    "CardBinding",
    "CardChallenge",
    "CareTeamMember",
    "ConsultationConsent",
    "Delegation",
    "DenialRepeat",
    "DepositDigest",
    "DirectoryEntry",
    "DirectoryWord",
    "Document",
    "DocumentContent",
    "DocumentEntry",
    "DocumentStructure",
    "DocumentText",
    "Dossier",
    "DossierExport",
    "EmergencyAccess",
    "FirstAccess",
    "IdempotencyRecord",
    "Kiosk",
    "KioskRequestSeen",
    "LogCheckpoint",
    "LogLeaf",
    "LogNode",
    "MasterKeyCheck",
    "OneTimeCode",
    "OutboxMessage",
    "Patient",
    "PatientPassword",
    "PendingSignIn",
    "Professional",
    "Receipt",
    "RepresentativeLink",
    "ReviewCase",
    "SearchPosting",
    "SecretConnection",
    "ServiceAccount",
    "SubmissionSet",
    "SubmissionSetEntry",
    "SummaryCache",
    "TotpCredential",
    "UTCDateTime",
    "table_of",
]
