"""`dmp audit witness`: an outside party's check that the log only ever grows (issue 14).

`init` makes the witness's key. `run`, once per invocation (from cron), fetches the log's
latest checkpoint over HTTP, verifies it with the log key pinned on the command line
(never the key the server serves: a server rewriting its past would serve a new one),
checks that it extends the last checkpoint this witness saw, checks the checkpoints
given with --seen (a patient's receipt, another witness's) against the same view, and
only then cosigns it (c2sp.org/tlog-cosignature) and keeps it.

The state directory holds the witness's key (0600), its verifier key, the latest
cosigned checkpoint and history.jsonl, one line per run, appended and never rewritten:
when the log forks, the two signed checkpoints recorded there are the proof.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from server.tlog import merkle, note, witness
from server.tlog.checkpoint import Checkpoint

EXIT_OK = 0
EXIT_LOCAL = 1  # the witness's own state or files (not a finding about the log)
EXIT_SIGNATURE = 3  # a checkpoint the pinned log key did not sign
EXIT_INCONSISTENT = 4  # split view, rollback, or a past the log cannot prove
EXIT_NETWORK = 5  # the log could not be reached or answered nonsense

MAX_RESPONSE = 64 * 1024  # a signed checkpoint or a proof is a few hundred bytes
KEY_FILE = "witness.key"
VKEY_FILE = "witness.vkey"
LATEST_FILE = "checkpoint"
HISTORY_FILE = "history.jsonl"
LOCK_FILE = "lock"
API = "/api/v1/log"


class NetworkError(Exception):
    pass


class LocalError(Exception):
    pass


_EXIT_CODES: tuple[tuple[type[Exception], int, str], ...] = (
    (witness.SignatureInvalid, EXIT_SIGNATURE, "signature_invalid"),
    (witness.SplitView, EXIT_INCONSISTENT, "split_view"),
    (witness.Rollback, EXIT_INCONSISTENT, "rollback"),
    (witness.Inconsistent, EXIT_INCONSISTENT, "inconsistent"),
    (NetworkError, EXIT_NETWORK, "network_error"),
    (LocalError, EXIT_LOCAL, "local_error"),
)


def classify(exc: Exception) -> tuple[int, str]:
    for kind, code, name in _EXIT_CODES:
        if isinstance(exc, kind):
            return code, name
    raise exc


# ---- the log over HTTP ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LogClient:
    base: str
    timeout: float

    @classmethod
    def for_url(cls, url: str, timeout: float) -> LogClient:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise LocalError(f"the log's URL must be http:// or https://, not {url!r}")
        return cls(url.rstrip("/"), timeout)

    def _get(self, path: str) -> tuple[int, bytes]:
        url = f"{self.base}{API}{path}"
        request = urllib.request.Request(url, headers={"User-Agent": "dmp-witness/1"})  # noqa: S310 - scheme checked in for_url
        try:
            try:
                response = urllib.request.urlopen(request, timeout=self.timeout)  # noqa: S310
                status = int(response.status)
            except urllib.error.HTTPError as exc:
                response, status = exc, exc.code  # an answer all the same: its body says why
            with response:
                return status, _read_capped(response, url)
        except (urllib.error.URLError, OSError) as exc:  # refused, unresolved, timed out
            reason = getattr(exc, "reason", None) or exc
            raise NetworkError(f"cannot reach {url}: {reason}") from None

    def checkpoint(self) -> str | None:
        """The latest signed checkpoint; None when the log says it is empty."""
        status, body = self._get("/checkpoint")
        if status == 404 and _reason(body) == "log_empty":
            return None
        if status != 200:
            raise NetworkError(f"the log answered {status} for its checkpoint")
        try:
            return body.decode()
        except UnicodeDecodeError:
            raise NetworkError("the log's checkpoint is not text") from None

    def consistency(self, old: int, new: int) -> list[bytes]:
        status, body = self._get(f"/proof/consistency?from={old}&to={new}")
        if status == 404:
            # Both sizes carry the log's signature: a log that keeps every checkpoint
            # and cannot prove one of them no longer has the tree it signed.
            raise witness.Inconsistent(
                f"the log cannot prove that size {new} extends size {old}, a size it "
                f"signed ({_reason(body) or 'not found'})"
            )
        if status != 200:
            raise NetworkError(f"the log answered {status} for a consistency proof")
        return _proof_hashes(body, old, new)


def _read_capped(response: Any, url: str) -> bytes:
    body: bytes = response.read(MAX_RESPONSE + 1)
    if len(body) > MAX_RESPONSE:
        raise NetworkError(f"the answer of {url} exceeds {MAX_RESPONSE} bytes")
    return body


def _reason(body: bytes) -> str | None:
    try:
        found = json.loads(body)
    except ValueError:
        return None
    reason = found.get("reason") if isinstance(found, dict) else None
    return reason if isinstance(reason, str) else None


def _proof_hashes(body: bytes, old: int, new: int) -> list[bytes]:
    try:
        found = json.loads(body)
        if found["from"] != old or found["to"] != new:
            raise ValueError("a proof for other sizes")
        hashes = found["proof"]
        if not isinstance(hashes, list) or len(hashes) > witness.MAX_PROOF_HASHES:
            raise ValueError("not a list of hashes")
        proof = [base64.b64decode(h, validate=True) for h in hashes]
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise NetworkError(f"the log's consistency proof is malformed ({exc})") from None
    if any(len(h) != merkle.HASH_SIZE for h in proof):
        raise NetworkError("the log's consistency proof holds a hash that is not 32 bytes")
    return proof


# ---- the witness's state ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class State:
    directory: Path

    def init(self, name: str) -> witness.Cosigner:
        cosigner = witness.Cosigner(name, Ed25519PrivateKey.generate())
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self.directory / KEY_FILE
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise LocalError(f"{path} exists: this directory already has a witness") from None
        with os.fdopen(fd, "w") as out:
            out.write(cosigner.private_text())
        (self.directory / VKEY_FILE).write_text(cosigner.public.vkey() + "\n")
        return cosigner

    def cosigner(self) -> witness.Cosigner:
        path = self.directory / KEY_FILE
        try:
            return witness.Cosigner.parse_private(path.read_text())
        except FileNotFoundError:
            raise LocalError(f"no witness key in {self.directory}: run `init` first") from None
        except (OSError, note.NoteError) as exc:
            raise LocalError(f"cannot read the witness key {path}: {exc}") from None

    def latest(self, log_key: note.Verifier) -> tuple[str, Checkpoint] | None:
        """The last checkpoint cosigned here, verified again: a state file edited by hand
        must not become the reference."""
        path = self.directory / LATEST_FILE
        try:
            signed = path.read_text()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise LocalError(f"cannot read {path}: {exc}") from None
        try:
            return signed, witness.verify_signed(signed, log_key)
        except witness.SignatureInvalid as exc:
            raise LocalError(
                f"{path} is not a checkpoint of this log key ({exc}); a witness keeps one "
                f"state directory per log"
            ) from None

    def keep(self, cosigned: str) -> None:
        path = self.directory / LATEST_FILE
        temporary = path.with_suffix(".tmp")
        temporary.write_text(cosigned)
        os.replace(temporary, path)  # a crash leaves the old checkpoint or the new, whole

    def record(self, event: dict[str, Any]) -> None:
        line = json.dumps(event, ensure_ascii=False, sort_keys=True) + "\n"
        with open(self.directory / HISTORY_FILE, "a", encoding="utf-8") as out:
            out.write(line)
            out.flush()
            os.fsync(out.fileno())

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """One run at a time per state directory (cron may overlap a slow run)."""
        if not self.directory.is_dir():
            raise LocalError(f"{self.directory} is not a witness directory: run `init` first")
        with open(self.directory / LOCK_FILE, "a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise LocalError(f"another witness run holds {self.directory}") from None
            yield


def load_log_key(value: str) -> note.Verifier:
    """A vkey, or the file holding one."""
    path = Path(value)
    text = value
    if "+" not in value or path.is_file():
        try:
            text = path.read_text()
        except OSError as exc:
            raise LocalError(f"cannot read the log key file {value}: {exc}") from None
    try:
        return note.Verifier.parse(text)
    except note.NoteError as exc:
        raise LocalError(f"the log key is not a verifier key: {exc}") from None


def _read_seen(path: Path) -> str:
    try:
        with open(path, "rb") as source:
            raw = source.read(MAX_RESPONSE + 1)
    except OSError as exc:
        raise LocalError(f"cannot read {path}: {exc}") from None
    if len(raw) > MAX_RESPONSE:
        raise LocalError(f"{path} is larger than a checkpoint can be")
    try:
        return raw.decode()
    except UnicodeDecodeError:
        raise witness.SignatureInvalid(f"{path} is not a checkpoint (not text)") from None


# ---- one run ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Outcome:
    code: int
    message: str


def run(
    client: LogClient,
    log_key: note.Verifier,
    state: State,
    seen: Sequence[Path] = (),
    *,
    clock: Callable[[], float] = time.time,
) -> Outcome:
    """One witness run; its outcome (and every finding) is also appended to the history."""
    with state.locked():
        event: dict[str, Any] = {
            "at": datetime.fromtimestamp(clock(), UTC).isoformat(),
            "url": client.base,
        }
        try:
            message = _witness(client, log_key, state, seen, event, clock)
        except (witness.WitnessError, NetworkError, LocalError) as exc:
            code, name = classify(exc)
            state.record({**event, "result": name, "detail": str(exc)})
            return Outcome(code, f"{_LABELS[name]}: {exc}")
        state.record({**event, "detail": message})
        return Outcome(EXIT_OK, message)


_LABELS = {
    "signature_invalid": "REFUSED, bad signature",
    "split_view": "SPLIT VIEW",
    "rollback": "ROLLBACK",
    "inconsistent": "INCONSISTENT LOG",
    "network_error": "NETWORK ERROR",
    "local_error": "WITNESS ERROR",
}


def _witness(
    client: LogClient,
    log_key: note.Verifier,
    state: State,
    seen: Sequence[Path],
    event: dict[str, Any],
    clock: Callable[[], float],
) -> str:
    cosigner = state.cosigner()
    kept = state.latest(log_key)
    last = kept[1] if kept else None
    if last is not None:
        event["last"] = _describe(last)
    signed = client.checkpoint()
    if signed is None:
        current = Checkpoint(log_key.name, 0, merkle.EMPTY_ROOT)
        witness.check_advance(last, current, [])
    else:
        event["note"] = signed  # kept whatever follows: the evidence of a fork
        current = witness.verify_signed(signed, log_key)
        event["checkpoint"] = _describe(current)
        proof = []
        if last is not None and current.size > last.size:
            sizes = witness.proof_sizes(last, current)
            if sizes is not None:
                proof = client.consistency(*sizes)
        witness.check_advance(last, current, proof)
    newer = _check_seen(client, log_key, current, seen, event)
    if seen:
        event["seen"] = [str(p) for p in seen]
    if newer is not None:
        signed, current = newer.signed, newer.head
        event["adopted"] = str(newer.path)
    if signed is None:
        event["result"] = "empty"
        return "the log is empty: nothing to cosign yet"
    cosigned = cosigner.cosign(signed, int(clock()))
    state.keep(cosigned)
    event["result"] = "cosigned"
    if last is None:
        since = " (first checkpoint)"
    elif last == current:
        since = ", unchanged since the last run"
    else:
        since = f", consistent with size {last.size}"
    extra = f"; {len(seen)} other checkpoint(s) agree" if seen else ""
    if newer is not None:
        extra += f" (the largest from {newer.path}: the log served an older head)"
    return f"cosigned {current.origin} at size {current.size}{since}{extra}"


@dataclass(frozen=True, slots=True)
class _Seen:
    path: Path
    signed: str
    head: Checkpoint


def _check_seen(
    client: LogClient,
    log_key: note.Verifier,
    current: Checkpoint,
    paths: Sequence[Path],
    event: dict[str, Any],
) -> _Seen | None:
    """Checks each seen checkpoint against the log as this witness sees it, then those
    larger than it against the largest (two receipts can each extend the witness's view
    and still fork from each other). Returns the largest if larger than `current`: the
    witness was shown a stale head, and a cosignature speaks of the largest tree seen."""
    found: list[_Seen] = []
    for path in paths:
        event["seen_file"] = str(path)
        signed = _read_seen(path)
        event["seen_note"] = signed  # kept in the history if it fails: the evidence
        try:
            other = witness.verify_signed(signed, log_key)
        except witness.SignatureInvalid as exc:
            raise witness.SignatureInvalid(f"{path}: {exc}") from None
        if current.size == 0 and other.size > 0:
            raise witness.Rollback(
                f"the log says it is empty, yet {path} carries its signature at size {other.size}"
            )
        _relate(
            client, current, other, f"the log as this witness sees it (size {current.size})", path
        )
        found.append(_Seen(path, signed, other))
    largest = max(found, key=lambda s: s.head.size, default=None)
    if largest is None or largest.head.size <= current.size:
        event.pop("seen_file", None)
        event.pop("seen_note", None)
        return None
    for seen in found:
        if seen.head.size > current.size and seen is not largest:
            event["seen_file"], event["seen_note"] = str(seen.path), seen.signed
            _relate(
                client,
                largest.head,
                seen.head,
                f"{largest.path} (size {largest.head.size})",
                seen.path,
            )
    event.pop("seen_file", None)
    event.pop("seen_note", None)
    return largest


def _relate(
    client: LogClient, reference: Checkpoint, other: Checkpoint, what: str, path: Path
) -> None:
    sizes = witness.proof_sizes(reference, other)
    proof = client.consistency(*sizes) if sizes is not None else []
    try:
        witness.check_pair(reference, other, proof)
    except witness.Inconsistent as exc:
        raise type(exc)(
            f"{path} (size {other.size}) and {what} cannot both be true: {exc}"
        ) from None


def _describe(head: Checkpoint) -> dict[str, Any]:
    return {"size": head.size, "root": base64.b64encode(head.root).decode()}


# ---- the commands -----------------------------------------------------------------------


@click.group("witness")
def witness_command() -> None:
    """Witness the verifiable log from outside: check that it only grows, and cosign."""


@witness_command.command("init")
@click.option("--state", "state_dir", required=True, type=click.Path(path_type=Path))
@click.option("--name", required=True, help="The witness's key name, e.g. witness.example.org/w1.")
def init_command(state_dir: Path, name: str) -> None:
    """Create the witness's Ed25519 key in --state (0600); print its verifier key."""
    try:
        witness.check_name(name)
    except note.NoteError as exc:
        raise click.BadParameter(str(exc), param_hint="--name") from None
    try:
        cosigner = State(state_dir).init(name)
    except (LocalError, OSError) as exc:
        click.echo(f"WITNESS ERROR: {exc}", err=True)
        sys.exit(EXIT_LOCAL)
    click.echo(cosigner.public.vkey())


@witness_command.command("run")
@click.option("--url", required=True, help="The records server, e.g. https://dmp.example.org.")
@click.option(
    "--log-key",
    required=True,
    metavar="VKEY_OR_FILE",
    help="The log's verifier key, pinned: obtained once, out of band, never from the server.",
)
@click.option("--state", "state_dir", required=True, type=click.Path(path_type=Path))
@click.option(
    "--seen",
    multiple=True,
    type=click.Path(path_type=Path),
    metavar="CHECKPOINT_FILE",
    help="A checkpoint obtained elsewhere (a receipt, another witness) to check against "
    "this witness's view; repeatable.",
)
@click.option("--timeout", default=10.0, show_default=True, type=float, help="Seconds per request.")
def run_command(
    url: str, log_key: str, state_dir: Path, seen: tuple[Path, ...], timeout: float
) -> None:
    """Fetch the log's checkpoint, check it extends the last one seen, and cosign it.

    Exit codes: 0 cosigned; 1 the witness's own state or files; 3 a checkpoint not signed
    by the pinned log key; 4 the log is inconsistent (split view, rollback or a rewritten
    past); 5 the log could not be reached or answered nonsense."""
    try:
        client = LogClient.for_url(url, timeout)
        outcome = run(client, load_log_key(log_key), State(state_dir), seen)
    except LocalError as exc:
        outcome = Outcome(EXIT_LOCAL, f"WITNESS ERROR: {exc}")
    click.echo(outcome.message, err=outcome.code != EXIT_OK)
    sys.exit(outcome.code)
