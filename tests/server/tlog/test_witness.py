"""The witness against a real records server over HTTP, and an operator who holds the
database and the log's signing key (issue 14).

The operator rewrites, removes and reorders entries, in the log's own tables (re-signing
its checkpoints with the server's key) or in the trace itself (re-chaining the hashes so
that `dmp audit verify` still passes). The witness catches the first kind, the patient's
check of their own entries against the signed checkpoint catches the second.

The history API gives each entry's sequence number and link hash but not the chain
(`patient:<id>`) nor the leaf's index in the log: these tests read the index from
tlog_leaves, as the kiosk will get it once the history carries it.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, insert, select, update
from werkzeug.serving import make_server

from server import witness_cli
from server.cli import main as dmp
from server.models import AuditEntry, AuditHead, LogCheckpoint, LogLeaf, LogNode
from server.services import audit, trace_log
from server.tlog import entries, history, merkle, note, witness
from server.tlog.checkpoint import Checkpoint
from server.witness_cli import EXIT_INCONSISTENT, EXIT_OK, EXIT_SIGNATURE, LogClient, State
from tests.server.conftest import World


@pytest.fixture
def base_url(app: Any) -> Iterator[str]:
    """The app behind a real HTTP server on a free port, for this test only."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def _log_signer(world: World) -> note.Signer:
    return trace_log.signer(world.rt.keyring, world.rt.settings["LOG_ORIGIN"])


@dataclass
class Witness:
    """A witness with its state directory and the log key pinned from the keyring, the
    way an operator hands it over out of band (never read from the server)."""

    url: str
    log_key: note.Verifier
    state: State

    def run(self, *seen: Path) -> witness_cli.Outcome:
        return witness_cli.run(LogClient.for_url(self.url, 10), self.log_key, self.state, seen)

    def latest(self) -> Checkpoint:
        kept = self.state.latest(self.log_key)
        assert kept is not None
        return kept[1]

    def history(self) -> list[dict[str, Any]]:
        lines = (self.state.directory / witness_cli.HISTORY_FILE).read_text().splitlines()
        return [json.loads(line) for line in lines]


@pytest.fixture
def station(world: World, base_url: str, tmp_path: Path) -> Witness:
    state = State(tmp_path / "witness")
    state.init("witness.example/w1")
    return Witness(base_url, _log_signer(world).verifier, state)


def _activity(world: World, dossier: int, documents: int = 2) -> None:
    for i in range(documents):
        world.deposit("gp", dossier, title=f"Courrier {i}")
    world.titles("marie", dossier)
    trace_log.run(world.rt)


def _witnessed_twice(world: World, station: Witness, dossier: int) -> Checkpoint:
    _activity(world, dossier)
    first = station.run()
    assert first.code == EXIT_OK, first.message
    _activity(world, dossier)
    second = station.run()
    assert second.code == EXIT_OK, second.message
    assert "consistent with size" in second.message
    head = station.latest()
    assert head.size > 0
    return head


# ---- the operator rewrites the log itself ----------------------------------------------


def _leaf_rows(world: World) -> list[tuple[int, bytes]]:
    with world.rt.sessions() as s:
        rows = s.execute(select(LogLeaf.audit_entry_id, LogLeaf.leaf_hash).order_by(LogLeaf.idx))
        return [(int(entry), bytes(leaf)) for entry, leaf in rows]


def _rebuild_log(world: World, rows: list[tuple[int, bytes]]) -> None:
    """What an operator holding the database and the log's key can do: replace the log
    by another tree, with every stored subtree hash and every checkpoint re-signed, so the
    server serves it and proves against it without a flaw of its own."""
    signer = _log_signer(world)
    leaves = [leaf for _, leaf in rows]
    hash_of = merkle.list_ranges(leaves)
    now = world.clock()
    with world.rt.sessions() as s:
        sizes = [size for size in s.scalars(select(LogCheckpoint.size)) if size <= len(leaves)]
        for table in (LogCheckpoint, LogNode, LogLeaf):
            s.execute(delete(table))
        s.execute(
            insert(LogLeaf),
            [
                {"idx": i, "audit_entry_id": entry, "leaf_hash": leaf, "sequenced_at": now}
                for i, (entry, leaf) in enumerate(rows)
            ],
        )
        nodes = [
            {"level": level, "idx": idx, "hash": hash_of(idx << level, (idx + 1) << level)}
            for level in range(1, len(leaves).bit_length())
            for idx in range(len(leaves) >> level)
        ]
        if nodes:
            s.execute(insert(LogNode), nodes)
        for size in sorted({*sizes, len(leaves)}):
            head = Checkpoint(signer.name, size, merkle.root(leaves[:size]))
            s.execute(
                insert(LogCheckpoint).values(
                    size=size, root=head.root, note=head.sign(signer), created_at=now
                )
            )
        s.commit()


def _forged_leaf(text: str) -> bytes:
    return merkle.leaf_hash(trace_log.leaf_entry("patient:1", 1, text * 64))


def test_the_witness_cosigns_a_growing_log(world: World, station: Witness, marie_dossier: int):
    head = _witnessed_twice(world, station, marie_dossier)
    kept = (station.state.directory / witness_cli.LATEST_FILE).read_text()
    times = witness.cosignatures(kept, [station.state.cosigner().public])
    assert list(times) == ["witness.example/w1"]
    assert witness.verify_signed(kept, station.log_key) == head
    results = [event.get("result") for event in station.history()]
    assert results == ["cosigned", "cosigned"]
    assert oct((station.state.directory / witness_cli.KEY_FILE).stat().st_mode & 0o777) == "0o600"


def test_a_rewritten_old_entry_is_inconsistent(
    world: World, station: Witness, marie_dossier: int
) -> None:
    seen = _witnessed_twice(world, station, marie_dossier)
    rows = _leaf_rows(world)
    rows[2] = (rows[2][0], _forged_leaf("a"))
    _rebuild_log(world, rows)
    _activity(world, marie_dossier)  # the log grows on the rewritten tree
    outcome = station.run()
    assert outcome.code == EXIT_INCONSISTENT
    assert outcome.message.startswith("INCONSISTENT LOG")
    assert f"does not extend the tree of size {seen.size}" in outcome.message
    assert station.latest() == seen  # nothing cosigned, the reference kept
    last = station.history()[-1]
    assert last["result"] == "inconsistent"
    assert witness.verify_signed(last["note"], station.log_key).size > seen.size


def test_removed_entries_are_a_rollback(world: World, station: Witness, marie_dossier: int):
    seen = _witnessed_twice(world, station, marie_dossier)
    rows = _leaf_rows(world)
    _rebuild_log(world, rows[:3] + rows[5:])
    outcome = station.run()
    assert outcome.code == EXIT_INCONSISTENT
    assert outcome.message.startswith("ROLLBACK")
    assert f"from size {seen.size} to {seen.size - 2}" in outcome.message
    assert station.history()[-1]["result"] == "rollback"


def test_two_reordered_entries_are_a_split_view(
    world: World, station: Witness, marie_dossier: int
) -> None:
    seen = _witnessed_twice(world, station, marie_dossier)
    rows = _leaf_rows(world)
    rows[3], rows[4] = (rows[3][0], rows[4][1]), (rows[4][0], rows[3][1])
    _rebuild_log(world, rows)
    outcome = station.run()
    assert outcome.code == EXIT_INCONSISTENT
    assert outcome.message.startswith("SPLIT VIEW")
    assert f"two different roots signed for size {seen.size}" in outcome.message
    # The evidence: two checkpoints of one size, both signed by the log's key.
    history = station.history()
    ours = (station.state.directory / witness_cli.LATEST_FILE).read_text()
    theirs = history[-1]["note"]
    first = witness.verify_signed(ours, station.log_key)
    second = witness.verify_signed(theirs, station.log_key)
    assert first.size == second.size
    assert first.root != second.root


def test_a_checkpoint_signed_by_another_key_is_refused(
    world: World, station: Witness, marie_dossier: int
) -> None:
    seen = _witnessed_twice(world, station, marie_dossier)
    _activity(world, marie_dossier)
    impostor = note.Signer(_log_signer(world).name, Ed25519PrivateKey.generate())
    with world.rt.sessions() as s:
        latest = trace_log.latest(s)
        assert latest is not None
        forged = Checkpoint(impostor.name, latest.size, latest.root).sign(impostor)
        s.execute(
            update(LogCheckpoint).where(LogCheckpoint.size == latest.size).values(note=forged)
        )
        s.commit()
    outcome = station.run()
    assert outcome.code == EXIT_SIGNATURE
    assert "not a checkpoint signed by the log key" in outcome.message
    assert station.latest() == seen


def _forked_receipt(world: World, path: Path) -> Path:
    """A checkpoint the operator signs for one patient over a tree where an old entry
    reads otherwise, while the log the witness sees stays as it was."""
    leaves = [leaf for _, leaf in _leaf_rows(world)]
    leaves[1] = _forged_leaf("b")
    path.write_text(
        Checkpoint(_log_signer(world).name, len(leaves), merkle.root(leaves)).sign(
            _log_signer(world)
        )
    )
    return path


def test_a_receipt_from_a_forked_view_is_caught_with_seen(
    world: World, station: Witness, marie_dossier: int, tmp_path: Path
) -> None:
    _witnessed_twice(world, station, marie_dossier)
    genuine = tmp_path / "genuine.txt"
    older = station.history()[0]["checkpoint"]["size"]
    with urllib.request.urlopen(f"{station.url}/api/v1/log/checkpoints/{older}") as answer:  # noqa: S310
        genuine.write_text(answer.read().decode())
    receipt = _forked_receipt(world, tmp_path / "receipt.txt")
    _activity(world, marie_dossier)  # the witness is ahead of the receipt: a proof is due
    assert station.run(genuine).code == EXIT_OK
    outcome = station.run(genuine, receipt)
    assert outcome.code == EXIT_INCONSISTENT
    assert str(receipt) in outcome.message
    assert "cannot both be true" in outcome.message
    last = station.history()[-1]
    assert last["seen_file"] == str(receipt)
    assert witness.verify_signed(last["seen_note"], station.log_key)


def test_the_command_states_findings_and_exit_codes(
    world: World, station: Witness, marie_dossier: int, tmp_path: Path
) -> None:
    runner = CliRunner()
    key_file = tmp_path / "log.vkey"
    key_file.write_text(station.log_key.vkey() + "\n")
    args = ["audit", "witness", "run", "--url", station.url, "--state"]
    args += [str(station.state.directory), "--log-key"]
    _activity(world, marie_dossier)
    ok = runner.invoke(dmp, [*args, str(key_file)])
    assert ok.exit_code == EXIT_OK, ok.output
    assert "cosigned dmp-kiosk.invalid/trace at size" in ok.stdout
    # Another key pinned: the state kept under the right one is not this log's, and a
    # fresh witness refuses every checkpoint the server serves.
    other = note.Signer(station.log_key.name, Ed25519PrivateKey.generate()).verifier
    mixed = runner.invoke(dmp, [*args, other.vkey()])
    assert mixed.exit_code == witness_cli.EXIT_LOCAL
    assert "one state directory per log" in mixed.stderr
    fresh = tmp_path / "fresh"
    made = runner.invoke(dmp, ["audit", "witness", "init", "--state", str(fresh), "--name", "w2"])
    assert made.exit_code == EXIT_OK
    assert made.stdout.startswith("w2+")
    fresh_args = ["audit", "witness", "run", "--url", station.url, "--state", str(fresh)]
    refused = runner.invoke(dmp, [*fresh_args, "--log-key", other.vkey()])
    assert refused.exit_code == EXIT_SIGNATURE
    assert refused.stderr.startswith("REFUSED, bad signature: not a checkpoint signed")
    receipt = _forked_receipt(world, tmp_path / "receipt.txt")
    split = runner.invoke(dmp, [*args, str(key_file), "--seen", str(receipt)])
    assert split.exit_code == EXIT_INCONSISTENT
    assert split.stderr.startswith("SPLIT VIEW")
    gone = runner.invoke(dmp, [*args, str(key_file), "--url", "http://127.0.0.1:9"])
    assert gone.exit_code == witness_cli.EXIT_NETWORK
    assert gone.stderr.startswith("NETWORK ERROR: cannot reach")
    assert "Traceback" not in gone.output


# ---- a log that answers badly -----------------------------------------------------------


class _Canned(BaseHTTPRequestHandler):
    """Answers each path from a table: (status, body, delay in seconds)."""

    answers: ClassVar[dict[str, tuple[int, bytes, float]]]

    def do_GET(self) -> None:
        status, body, delay = self.answers.get(self.path, (404, b'{"reason": "none"}', 0))
        time.sleep(delay)
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def canned(tmp_path: Path) -> Iterator[tuple[Witness, dict[str, tuple[int, bytes, float]], Any]]:
    answers: dict[str, tuple[int, bytes, float]] = {}
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), type("Handler", (_Canned,), {"answers": answers})
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    signer = note.Signer("log.example/canned", Ed25519PrivateKey.generate())
    state = State(tmp_path / "witness")
    state.init("witness.example/w1")
    try:
        yield (
            Witness(f"http://127.0.0.1:{server.server_port}", signer.verifier, state),
            answers,
            signer,
        )
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def _signed(signer: note.Signer, leaves: list[bytes]) -> bytes:
    return Checkpoint(signer.name, len(leaves), merkle.root(leaves)).sign(signer).encode()


def test_a_log_that_answers_badly_is_a_network_error(canned: Any) -> None:
    station, answers, signer = canned
    path = "/api/v1/log/checkpoint"
    answers[path] = (404, b'{"reason": "log_empty"}', 0)
    empty = station.run()
    assert (empty.code, empty.message) == (EXIT_OK, "the log is empty: nothing to cosign yet")
    leaves = [merkle.leaf_hash(bytes([i])) for i in range(5)]
    answers[path] = (200, _signed(signer, leaves[:3]), 0)
    assert station.run().code == EXIT_OK
    cases = [
        ((200, b"x" * (witness_cli.MAX_RESPONSE + 1), 0), "exceeds"),
        ((500, b"oops", 0), "answered 500"),
        ((200, b"\xff\xfe", 0), "not text"),
        ((200, _signed(signer, leaves), 1.0), "timed out"),
    ]
    for answer, words in cases:
        answers[path] = answer
        outcome = witness_cli.run(
            LogClient.for_url(station.url, 0.3), station.log_key, station.state
        )
        assert outcome.code == witness_cli.EXIT_NETWORK, outcome.message
        assert words in outcome.message
    answers[path] = (200, _signed(signer, leaves), 0)
    proof = "/api/v1/log/proof/consistency?from=3&to=5"
    answers[proof] = (200, b'{"from": 3, "to": 5, "proof": ["not base64!"]}', 0)
    assert "malformed" in station.run().message
    answers[proof] = (404, b'{"reason": "checkpoint_unknown"}', 0)
    refused = station.run()
    assert refused.code == EXIT_INCONSISTENT
    assert "cannot prove that size 5 extends size 3" in refused.message
    good = [base64.b64encode(h).decode() for h in merkle.consistency_proof(leaves, 3)]
    answers[proof] = (200, json.dumps({"from": 3, "to": 5, "proof": good}).encode(), 0)
    assert station.run().code == EXIT_OK
    answers[path] = (404, b'{"reason": "log_empty"}', 0)
    emptied = station.run()
    assert emptied.code == EXIT_INCONSISTENT
    assert emptied.message.startswith("ROLLBACK: the log went back from size 5 to 0")


def test_a_larger_seen_checkpoint_is_adopted_unless_the_seen_ones_fork(
    canned: Any, tmp_path: Path
) -> None:
    station, answers, signer = canned
    leaves = [merkle.leaf_hash(bytes([i])) for i in range(8)]
    fork = [*leaves[:4], merkle.leaf_hash(b"forked"), *leaves[5:]]
    answers["/api/v1/log/checkpoint"] = (200, _signed(signer, leaves[:3]), 0)
    assert station.run().code == EXIT_OK

    def proof(tree: list[bytes], old: int, new: int) -> None:
        hashes = [base64.b64encode(h).decode() for h in merkle.consistency_proof(tree[:new], old)]
        body = json.dumps({"from": old, "to": new, "proof": hashes}).encode()
        answers[f"/api/v1/log/proof/consistency?from={old}&to={new}"] = (200, body, 0)

    proof(leaves, 3, 5)
    proof(fork, 3, 6)  # the fork also extends what the witness saw...
    proof(leaves, 5, 6)
    true_five, forked_six = tmp_path / "receipt-5.txt", tmp_path / "receipt-6.txt"
    true_five.write_bytes(_signed(signer, leaves[:5]))
    forked_six.write_bytes(_signed(signer, fork[:6]))
    caught = station.run(true_five, forked_six)  # ...but not the other receipt
    assert caught.code == EXIT_INCONSISTENT
    assert f"{true_five} (size 5) and {forked_six} (size 6) cannot both be true" in caught.message
    # The log served the witness an older head than a receipt it signed: the witness
    # cosigns the largest tree it has seen, as a cosignature states.
    adopted = station.run(true_five)
    assert adopted.code == EXIT_OK
    assert "the log served an older head" in adopted.message
    assert station.latest().size == 5
    assert station.run().code == EXIT_INCONSISTENT  # and the log must not go back to 3


# ---- the operator rewrites the trace, not the log ---------------------------------------


def _rechain(world: World, chain: str) -> None:
    """Recomputes every link hash of `chain` and its head, as an operator covering their
    tracks would: `dmp audit verify` then finds the chain intact."""
    with world.rt.sessions() as s:
        prev, last = audit.GENESIS, 0
        for row in s.scalars(
            select(AuditEntry).where(AuditEntry.chain == chain).order_by(AuditEntry.seq)
        ):
            values = {name: getattr(row, name) for name in audit.HASHED_FIELDS}
            row.prev_hash, row.hash = prev, audit.link_hash(prev, values)
            prev, last = row.hash, row.seq
        s.execute(update(AuditHead).where(AuditHead.chain == chain).values(seq=last, hash=prev))
        s.commit()
        assert list(audit.verify(s, chain)) == []


_CONTENT = [name for name in audit.HASHED_FIELDS if name not in ("chain", "seq")]


def _rewrite(rows: list[AuditEntry], k: int) -> None:
    rows[k].actor_name = "Quelqu'un d'autre"


def _reorder(rows: list[AuditEntry], k: int) -> None:
    for name in _CONTENT:
        a, b = getattr(rows[k], name), getattr(rows[k + 1], name)
        setattr(rows[k], name, b)
        setattr(rows[k + 1], name, a)


def _remove(rows: list[AuditEntry], k: int) -> None:
    # Later entries move down one place; the last row goes (it is not yet in the log: the
    # log's leaves keep their entries' rows, which an operator hiding an entry leaves be).
    for i in range(k, len(rows) - 1):
        for name in _CONTENT:
            setattr(rows[i], name, getattr(rows[i + 1], name))


def _patient_check(world: World, url: str, log_key: note.Verifier, dossier: int) -> list[Any]:
    """What the patient's device does: the history, the signed checkpoint, a proof per
    entry, all over HTTP but for the leaf index (not in the history yet)."""
    chain = audit.chain_for(world.ids["marie"])
    shown = world.call("GET", "marie", f"/dossiers/{dossier}/history").get_json()["entries"]
    with urllib.request.urlopen(f"{url}/api/v1/log/checkpoint") as answer:  # noqa: S310
        head = witness.verify_signed(answer.read().decode(), log_key)
    with world.rt.sessions() as s:
        index = dict(
            s.execute(
                select(AuditEntry.seq, LogLeaf.idx)
                .join(LogLeaf, LogLeaf.audit_entry_id == AuditEntry.id)
                .where(AuditEntry.chain == chain)
            ).all()
        )
    logged = [entries.LoggedEntry(chain, e["seq"], e["hash"], index.get(e["seq"])) for e in shown]
    proofs = {}
    for entry in logged:
        if entry.index is not None and entry.index < head.size:
            query = f"index={entry.index}&size={head.size}"
            with urllib.request.urlopen(f"{url}/api/v1/log/proof/inclusion?{query}") as answer:  # noqa: S310
                proofs[entry.index] = [base64.b64decode(h) for h in json.load(answer)["proof"]]
    return entries.verify_entries(logged, head, proofs)


@pytest.mark.parametrize(
    "tamper", [_rewrite, _remove, _reorder], ids=["rewrite", "remove", "reorder"]
)
def test_the_patients_check_catches_a_rewritten_trace(
    world: World, station: Witness, marie_dossier: int, tamper: Any
) -> None:
    _witnessed_twice(world, station, marie_dossier)
    assert (
        entries.tampered(_patient_check(world, station.url, station.log_key, marie_dossier)) == []
    )
    world.titles("marie", marie_dossier)  # a last entry, not yet in the log
    chain = audit.chain_for(world.ids["marie"])
    k = 2  # the third entry of Marie's trace
    with world.rt.sessions() as s:
        rows = list(
            s.scalars(select(AuditEntry).where(AuditEntry.chain == chain).order_by(AuditEntry.seq))
        )
        tamper(rows, k)
        if tamper is _remove:
            s.delete(rows[-1])
        s.commit()
    _rechain(world, chain)
    found = entries.tampered(_patient_check(world, station.url, station.log_key, marie_dossier))
    assert found, "the patient's check missed it"
    assert min(f.seq for f in found) == k + 1
    assert {f.problem for f in found} == {entries.Problem.NOT_IN_LOG}
    # The log itself was not touched: the witness still sees it grow, as it should.
    assert station.run().code == EXIT_OK


def test_the_patients_page_check_catches_an_entry_edited_under_its_hash(
    world: World, station: Witness, marie_dossier: int
) -> None:
    """An operator edits an entry and leaves its hash (and the log) alone: `dmp audit
    verify` catches it, and now the patient's device too, which recomputes each line's
    hash from the fields the history gives it (server/tlog/history.py)."""
    _witnessed_twice(world, station, marie_dossier)
    origin = world.rt.settings["LOG_ORIGIN"]

    def proof(index: int, size: int) -> list[bytes]:
        query = f"index={index}&size={size}"
        with urllib.request.urlopen(f"{station.url}/api/v1/log/proof/inclusion?{query}") as got:  # noqa: S310
            return [base64.b64decode(h) for h in json.load(got)["proof"]]

    def page_check() -> history.Verdict:
        page = world.call("GET", "marie", f"/dossiers/{marie_dossier}/history").get_json()
        return history.verify_page(page, proof, station.log_key, origin)

    before = page_check()
    assert (before.status, before.failed) == ("verified", ())
    chain = audit.chain_for(world.ids["marie"])
    with world.rt.sessions() as s:
        third = s.scalars(
            select(AuditEntry).where(AuditEntry.chain == chain, AuditEntry.seq == 3)
        ).one()
        third.actor_name = "Quelqu'un d'autre"
        s.commit()
        assert [b.seq for b in audit.verify(s, chain)] == [3]
    after = page_check()
    assert (after.status, after.failed) == ("altered", (3,))
