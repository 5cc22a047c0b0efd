"""Server-side cost of a professional card sign-in, against the raw signature check.

    python -m bench.signin_bench [--db URL] [--iterations 2000] [--out FILE.json]
    python -m bench.signin_bench --smoke          # a few dozen sign-ins, figures meaningless

In one process: a TEST PKI in a temporary directory, a registered kiosk, a professional
card in the emulator (PIN verified once, as a kiosk would) and the records server's
Flask app on a migrated database (a temporary SQLite file unless --db). Each iteration
is the full server side of a sign-in: the kiosk-signed challenge request, then the
kiosk-signed sign-in request (kiosk signature, challenge consumption, certificate chain,
dates, EKU, CRL, card signature, holder lookup, session, card binding, trace entry, two
commits). What the kiosk and the card do (signing the request, INTERNAL AUTHENTICATE) is
prepared outside the timed section.

In the same run, interleaved with the sign-ins, the bench times the bare
`cryptography` ECDSA P-256 verification of the card signature: the floor no server can
go under. The "added cost" is the difference of the medians; the target is at most 2 ms,
reported both in milliseconds and as a ratio to the verification measured in the same run
(2 ms over a 50 us verification: 40 verifications). The server time is the WSGI call
alone, on an environ built beforehand (building a request is client work), and an empty
request through the same application shows the framework's share. Any answer other than
201 is an error and the run exits 1.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import insert, select
from werkzeug.test import EnvironBuilder

from bench.population import master_key_b64
from bench.wsgi_timing import timed_call
from cardreader.emulator.demo import DEMO_PIN, DEMO_PUK, PROFESSIONALS
from cardreader.emulator.pki import Pki
from cardreader.emulator.virtual import VirtualCard, VirtualConnection
from cardreader.professional import ProfessionalSession
from cardreader.profile import EKU_PROFESSIONAL_CARD, PROFESSIONAL_AID
from cardreader.signature import signed_message
from server.app import create_app
from server.migrate import upgrade
from server.models import CardChallenge, Kiosk, Professional
from server.signin import kiosk_identity, request_signing

TARGET_ADDED_MS = 2.0
_SPENT = insert(CardChallenge)
# The issue's 2 ms, restated as a ratio to the verification it is measured against: the
# ECDSA P-256 verify took 50 us on the machine whose limits ../shared/context/performance.md
# lists; this machine's speed varies several-fold from day to day (docs/sign-in.md).
REFERENCE_VERIFY_MS = 0.050
TARGET_ADDED_VERIFIES = TARGET_ADDED_MS / REFERENCE_VERIFY_MS


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(values_s: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in values_s]
    return {
        "median_ms": round(statistics.median(ms), 4),
        "p95_ms": round(percentile(ms, 0.95), 4),
        "p99_ms": round(percentile(ms, 0.99), 4),
        "mean_ms": round(statistics.fmean(ms), 4),
    }


class Bench:
    def __init__(self, workdir: Path, db_url: str | None) -> None:
        self.pki_dir = workdir / "pki"
        pki = Pki.init(self.pki_dir)
        self.kiosk = f"borne-bench-{secrets.token_hex(4)}"
        device = pki.issue_kiosk(self.kiosk)
        key = serialization.load_pem_private_key(device.key_path.read_bytes(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        self.kiosk_key = key
        identity = PROFESSIONALS[0].identity
        card = pki.issue_card(identity, pin=DEMO_PIN, puk=DEMO_PUK)
        self.certificate = x509.load_pem_x509_certificate(card.certificate_pem)
        self.session = ProfessionalSession(VirtualConnection(VirtualCard(card)))
        self.session.verify_pin(DEMO_PIN)  # once, as at the kiosk; the card then signs
        url = db_url or f"sqlite:///{workdir / 'bench.sqlite'}"
        upgrade(url)
        self.app = create_app(
            {
                "DATABASE_URL": url,
                # A --db given twice is bound to the bench key it was first opened with.
                "MASTER_KEY": master_key_b64(create=True)
                if db_url
                else base64.b64encode(os.urandom(32)).decode(),
                "MASTER_KEY_FILE": str(workdir / "unused.key"),
                "PKI_DIR": str(self.pki_dir),
                # One kiosk signing in back to back, far past a counter's pace: the
                # per-kiosk rate limit is lifted, its check still runs.
                "KIOSK_SIGNIN_RATE_PER_MINUTE": 1_000_000_000,
                "KIOSK_SIGNIN_RATE_BURST": 1_000_000_000,
            }
        )
        rt = self.app.extensions["dmp"]
        with rt.sessions() as s:
            # A --db given twice keeps its professional; each run registers a new kiosk.
            known = s.scalars(
                select(Professional).where(Professional.national_id == identity.national_id)
            ).first()
            if known is None:
                s.add(
                    Professional(
                        national_id=identity.national_id,
                        first_name=identity.first_name,
                        last_name=identity.last_name,
                        profession=identity.profession,
                        structure_finess=identity.structure.identifier,
                        active=True,
                    )
                )
            pem = device.certificate_path.read_bytes()
            kiosk_identity.register(rt.ctx(s), rt.trust, self.kiosk, pem)
            s.commit()
        self.trust = rt.trust
        with rt.sessions() as s:
            self.kiosk_id = s.scalars(select(Kiosk.id).where(Kiosk.name == self.kiosk)).one()

    def durable_commit(self) -> float:
        """Seconds of one durable one-row commit through the same engine (a spent-challenge
        row, the kind of write a sign-in makes): the floor of any sign-in that records
        anything, measured here because fsync speed varies from machine to machine."""
        rt = self.app.extensions["dmp"]
        row = {
            "id": secrets.token_hex(16),
            "kiosk_id": self.kiosk_id,
            "purpose": "bench",
            "session_hash": None,
            "created_at": datetime.now(UTC),
            "expires_at": datetime.now(UTC),
            "used_at": datetime.now(UTC),
        }
        start = time.perf_counter()
        with rt.sessions() as s:
            s.execute(_SPENT, row)
            s.commit()
        return time.perf_counter() - start

    def close(self) -> None:
        self.app.extensions["dmp"].engine.dispose()

    def _request(self, target: str, body: bytes) -> dict[str, Any]:
        """The WSGI environ of one kiosk-signed POST, built before the clock starts: what
        a client (and werkzeug's test client) does to build a request is not server work."""
        headers = request_signing.sign_request(
            self.kiosk_key, self.kiosk, "POST", target, body, datetime.now(UTC)
        )
        headers["Content-Type"] = "application/json"
        return EnvironBuilder(path=target, method="POST", data=body, headers=headers).get_environ()

    def _serve(self, environ: dict[str, Any]) -> tuple[float, int, bytes]:
        return timed_call(self.app, environ)

    def one(self) -> dict[str, float]:
        """Seconds of: the server's challenge and sign-in requests, the bare signature
        verification, the card checks alone (chain, dates, key usage, EKU, CRL, then
        signature), and an empty request through the same application."""
        challenge_s, status, answer = self._serve(self._request("/api/v1/auth/card/challenge", b""))
        if status != 201:
            raise RuntimeError(f"challenge: {status} {answer.decode()}")
        challenge = base64.b64decode(json.loads(answer)["challenge"])
        signature = self.session.authenticate(challenge)  # the card, not timed
        body = json.dumps(
            {
                "kind": "professional",
                "challenge": base64.b64encode(challenge).decode(),
                "serial": self.session.serial.hex(),
                "certificate": base64.b64encode(
                    self.certificate.public_bytes(serialization.Encoding.DER)
                ).decode(),
                "signature": base64.b64encode(signature).decode(),
            }
        ).encode()
        signin_s, status, answer = self._serve(self._request("/api/v1/auth/card/signin", body))
        if status != 201:
            raise RuntimeError(f"sign-in: {status} {answer.decode()}")
        public_key = self.certificate.public_key()
        assert isinstance(public_key, ec.EllipticCurvePublicKey)
        message = signed_message(PROFESSIONAL_AID, self.session.serial, challenge)
        start = time.perf_counter()
        public_key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        raw = time.perf_counter() - start
        start = time.perf_counter()
        self.trust.verify(self.certificate, datetime.now(UTC), EKU_PROFESSIONAL_CARD)
        public_key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        checks = time.perf_counter() - start
        empty = EnvironBuilder(path="/healthz", method="GET").get_environ()
        return {
            "server_signin": challenge_s + signin_s,
            "challenge_request": challenge_s,
            "signin_request": signin_s,
            "raw_verify": raw,
            "card_checks": checks,
            "empty_request": self._serve(empty)[0],
            "durable_commit": self.durable_commit(),
        }


PARTS = (
    ("server_signin", "server: challenge + sign-in"),
    ("challenge_request", "  challenge request"),
    ("signin_request", "  sign-in request"),
    ("card_checks", "card checks only"),
    ("raw_verify", "raw ECDSA verify"),
    ("empty_request", "empty request (same app)"),
    ("durable_commit", "one durable one-row commit"),
)


def run(iterations: int, warmup: int, db_url: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="dmp-signin-bench-") as tmp:
        bench = Bench(Path(tmp), db_url)
        try:
            for _ in range(warmup):
                bench.one()
            samples: dict[str, list[float]] = {name: [] for name, _ in PARTS}
            for _ in range(iterations):
                for name, value in bench.one().items():
                    samples[name].append(value)
        finally:
            bench.close()
    stats = {name: summary(values) for name, values in samples.items()}
    server, verify = stats["server_signin"], stats["raw_verify"]
    added = round(server["median_ms"] - verify["median_ms"], 4)
    # In units of the verification measured in this run: comparable across machines
    # and load, unlike milliseconds (the brief's rule for every figure here).
    added_verifies = round(added / verify["median_ms"], 1)
    return {
        "bench": "signin",
        "at": datetime.now(UTC).isoformat(),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "database": (db_url or "sqlite (temporary file)").split("://")[0],
        "iterations": iterations,
        **stats,
        "card_checks_added_median_ms": round(
            stats["card_checks"]["median_ms"] - verify["median_ms"], 4
        ),
        "added_median_ms": added,
        "added_p95_ms": round(server["p95_ms"] - verify["p95_ms"], 4),
        "added_in_verifies": added_verifies,
        "target_added_ms": TARGET_ADDED_MS,
        "target_met": added <= TARGET_ADDED_MS,
        "reference_verify_ms": REFERENCE_VERIFY_MS,
        "target_added_verifies": TARGET_ADDED_VERIFIES,
        "target_met_as_ratio": added_verifies <= TARGET_ADDED_VERIFIES,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--smoke", action="store_true", help="a few sign-ins, no figures")
    parser.add_argument("--out", type=Path, help="write the JSON report there")
    args = parser.parse_args(argv)
    iterations, warmup = (30, 5) if args.smoke else (args.iterations, args.warmup)
    report = run(iterations, warmup, args.db)
    print(f"card sign-in, {iterations} iterations, {report['database']}")
    print(f"{'':30}{'median':>10}{'p95':>10}{'p99':>10}  (ms)")
    for name, label in PARTS:
        stats = report[name]
        print(
            f"{label:30}{stats['median_ms']:>10.3f}{stats['p95_ms']:>10.3f}{stats['p99_ms']:>10.3f}"
        )
    verdict = "met" if report["target_met"] else "NOT met"
    ratio_verdict = "met" if report["target_met_as_ratio"] else "NOT met"
    print(
        f"added by the server: {report['added_median_ms']:.3f} ms median "
        f"(target <= {TARGET_ADDED_MS} ms: {verdict}), "
        f"{report['added_in_verifies']:.1f}x this run's verification "
        f"(target as a ratio <= {TARGET_ADDED_VERIFIES:.0f}x: {ratio_verdict})"
    )
    print(
        f"of which the card checks (chain, dates, EKU, CRL, signature): "
        f"{report['card_checks_added_median_ms']:.3f} ms over the raw verification"
    )
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
