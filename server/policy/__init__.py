"""The records server's access policy: a pure `decide` over immutable facts.

No I/O and no clock inside: the services load the facts, pass `now`, call `decide`, trace
the decision whatever it is, and turn a denial into an error only at their boundary.
"""

from server.policy.age import is_minor
from server.policy.directory import (
    DirectoryAction,
    DirectoryCaller,
    DirectoryDecision,
    DirectoryPurpose,
    DirectoryReason,
    decide_directory,
)
from server.policy.engine import decide, listed
from server.policy.matrix import (
    Matrix,
    MatrixError,
    ProfessionRules,
    default_matrix_path,
    load_matrix,
)
from server.policy.model import (
    Action,
    Actor,
    ActorKind,
    Category,
    Context,
    Decision,
    DelegationFacts,
    DocumentFacts,
    DocumentStatus,
    DossierFacts,
    DossierStatus,
    Mode,
    Obligation,
    Reason,
)

__all__ = [
    "Action",
    "Actor",
    "ActorKind",
    "Category",
    "Context",
    "Decision",
    "DelegationFacts",
    "DirectoryAction",
    "DirectoryCaller",
    "DirectoryDecision",
    "DirectoryPurpose",
    "DirectoryReason",
    "DocumentFacts",
    "DocumentStatus",
    "DossierFacts",
    "DossierStatus",
    "Matrix",
    "MatrixError",
    "Mode",
    "Obligation",
    "ProfessionRules",
    "Reason",
    "decide",
    "decide_directory",
    "default_matrix_path",
    "is_minor",
    "listed",
    "load_matrix",
]
