"""The verifiable log's public routes: checkpoints, its key and proofs (docs/transparency.md).

They serve only signed tree heads and hashes: no name, no action, nothing of a dossier.
They are public on purpose (a witness or a patient's own device checks the log without
an account), read-only, and need no access decision; fetching them is not traced, which
would grow the log it reads.
"""

from __future__ import annotations

import base64
from typing import Any

from flask import Response, request

from server.api import api
from server.api.runtime import runtime
from server.errors import InvalidInput, MalformedRequest, NotFound
from server.services import trace_log

TAG = "log"
NOTE_TYPE = "text/plain; charset=utf-8"


def _size_param(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": True,
        "schema": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1},
        "description": description,
    }


def _text(body: str) -> Response:
    return Response(body, 200, content_type=NOTE_TYPE)


def _int_arg(name: str) -> int:
    raw = request.args.get(name)
    if raw is None:
        raise MalformedRequest(f"{name}_required", f"Le paramètre « {name} » est obligatoire.")
    return int(raw)  # the boundary checked it: ASCII digits within the declared range


def _signed_at(session: Any, size: int) -> Any:
    """The checkpoint the log signed at `size`; 404 when it signed none there (a proof
    against an unsigned size would prove nothing a verifier can check)."""
    found = trace_log.at_size(session, size)
    if found is None:
        raise NotFound("checkpoint_unknown", "Le journal n'a signé aucun point à cette taille.")
    return found


@api.route(
    "GET",
    "/log/checkpoint",
    "The log's latest signed checkpoint (C2SP tlog-checkpoint)",
    tag=TAG,
    content_type=NOTE_TYPE,
    response={"type": "string"},
    public=True,
)
def checkpoint() -> Any:
    with runtime().sessions() as session:
        found = trace_log.latest(session)
    if found is None:
        raise NotFound("log_empty", "Le journal n'a encore rien enregistré.")
    return _text(found.note)


@api.route(
    "GET",
    "/log/checkpoints/<int:size>",
    "The checkpoint the log signed at this tree size",
    tag=TAG,
    content_type=NOTE_TYPE,
    response={"type": "string"},
    public=True,
)
def checkpoint_at(size: int) -> Any:
    with runtime().sessions() as session:
        return _text(_signed_at(session, size).note)


@api.route(
    "GET",
    "/log/key",
    "The log's verifier key (C2SP signed-note vkey)",
    tag=TAG,
    content_type=NOTE_TYPE,
    response={"type": "string"},
    public=True,
)
def key() -> Any:
    rt = runtime()
    signer = trace_log.signer(rt.keyring, rt.settings["LOG_ORIGIN"])
    return _text(signer.verifier.vkey() + "\n")


@api.route(
    "GET",
    "/log/proof/inclusion",
    "Inclusion proof of one leaf in the tree of a signed size (RFC 9162, 2.1.3)",
    tag=TAG,
    query=[
        _size_param("index", "the leaf's index, from 0"),
        _size_param("size", "a tree size the log signed"),
    ],
    public=True,
)
def inclusion() -> Any:
    index, size = _int_arg("index"), _int_arg("size")
    if index >= size:
        raise InvalidInput("index_invalid", "La feuille n'est pas dans cet arbre.")
    with runtime().sessions() as session:
        _signed_at(session, size)
        proof = trace_log.inclusion_proof(session, index, size)
    return {"index": index, "size": size, "proof": _b64(proof)}


@api.route(
    "GET",
    "/log/proof/consistency",
    "Consistency proof between two signed sizes (RFC 9162, 2.1.4)",
    tag=TAG,
    query=[
        _size_param("from", "the older signed size"),
        _size_param("to", "the newer signed size"),
    ],
    public=True,
)
def consistency() -> Any:
    old, new = _int_arg("from"), _int_arg("to")
    if not 0 < old <= new:
        raise InvalidInput("sizes_invalid", "Les tailles vont de la plus ancienne à la récente.")
    with runtime().sessions() as session:
        _signed_at(session, old)
        _signed_at(session, new)
        proof = trace_log.consistency_proof(session, old, new)
    return {"from": old, "to": new, "proof": _b64(proof)}


def _b64(hashes: list[bytes]) -> list[str]:
    return [base64.b64encode(h).decode() for h in hashes]
