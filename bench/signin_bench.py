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
go under. The "added cost" is the difference of the medians; the target is at most 2 ms.
Any answer other than 201 is an error and the run exits 1.
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
from sqlalchemy import select

from cardreader.demo import DEMO_PIN, DEMO_PUK, PROFESSIONALS
from cardreader.pki import Pki
from cardreader.professional import ProfessionalSession
from cardreader.profile import EKU_PROFESSIONAL_CARD, PROFESSIONAL_AID
from cardreader.signature import signed_message
from cardreader.virtual import VirtualCard, VirtualConnection
from server.app import create_app
from server.migrate import upgrade
from server.models import Professional
from server.services import kiosk_auth

TARGET_ADDED_MS = 2.0


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
                "MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
                "MASTER_KEY_FILE": str(workdir / "unused.key"),
                "PKI_DIR": str(self.pki_dir),
            }
        )
        self.client = self.app.test_client()
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
            kiosk_auth.register(rt.ctx(s), rt.trust, self.kiosk, pem)
            s.commit()
        self.trust = rt.trust

    def close(self) -> None:
        self.app.extensions["dmp"].engine.dispose()

    def _signed(self, method: str, target: str, body: bytes) -> dict[str, str]:
        headers = kiosk_auth.sign_request(
            self.kiosk_key, self.kiosk, method, target, body, datetime.now(UTC)
        )
        headers["Content-Type"] = "application/json"
        return headers

    def one(self) -> tuple[float, float, float]:
        """Seconds of: the server's challenge + sign-in, the bare signature verification,
        and the card checks alone (chain, dates, key usage, EKU, CRL, then signature)."""
        target = "/api/v1/auth/card/challenge"
        headers = self._signed("POST", target, b"")
        start = time.perf_counter()
        r = self.client.post(target, headers=headers)
        server = time.perf_counter() - start
        if r.status_code != 201:
            raise RuntimeError(f"challenge: {r.status_code} {r.get_data(as_text=True)}")
        challenge = base64.b64decode(r.get_json()["challenge"])
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
        target = "/api/v1/auth/card/signin"
        headers = self._signed("POST", target, body)
        start = time.perf_counter()
        r = self.client.post(target, data=body, headers=headers)
        server += time.perf_counter() - start
        if r.status_code != 201:
            raise RuntimeError(f"sign-in: {r.status_code} {r.get_data(as_text=True)}")
        public_key = self.certificate.public_key()
        assert isinstance(public_key, ec.EllipticCurvePublicKey)
        message = signed_message(PROFESSIONAL_AID, self.session.serial, challenge)
        start = time.perf_counter()
        public_key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        raw = time.perf_counter() - start
        start = time.perf_counter()
        self.trust.verify(self.certificate, datetime.now(UTC), EKU_PROFESSIONAL_CARD)
        public_key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        return server, raw, time.perf_counter() - start


def run(iterations: int, warmup: int, db_url: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="dmp-signin-bench-") as tmp:
        bench = Bench(Path(tmp), db_url)
        try:
            for _ in range(warmup):
                bench.one()
            server: list[float] = []
            verify: list[float] = []
            checks: list[float] = []
            for _ in range(iterations):
                s, v, c = bench.one()
                server.append(s)
                verify.append(v)
                checks.append(c)
        finally:
            bench.close()
    server_stats, verify_stats, checks_stats = summary(server), summary(verify), summary(checks)
    added = round(server_stats["median_ms"] - verify_stats["median_ms"], 4)
    return {
        "bench": "signin",
        "at": datetime.now(UTC).isoformat(),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "database": (db_url or "sqlite (temporary file)").split("://")[0],
        "iterations": iterations,
        "server_signin": server_stats,
        "raw_verify": verify_stats,
        "card_checks": checks_stats,
        "card_checks_added_median_ms": round(
            checks_stats["median_ms"] - verify_stats["median_ms"], 4
        ),
        "added_median_ms": added,
        "added_p95_ms": round(server_stats["p95_ms"] - verify_stats["p95_ms"], 4),
        "target_added_ms": TARGET_ADDED_MS,
        "target_met": added <= TARGET_ADDED_MS,
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
    s, v = report["server_signin"], report["raw_verify"]
    print(f"card sign-in, {iterations} iterations, {report['database']}")
    print(f"{'':28}{'median':>10}{'p95':>10}{'p99':>10}  (ms)")
    rows = (
        ("server (challenge+sign-in)", s),
        ("card checks only", report["card_checks"]),
        ("raw ECDSA verify", v),
    )
    for label, stats in rows:
        print(
            f"{label:24}{stats['median_ms']:>10.3f}{stats['p95_ms']:>10.3f}{stats['p99_ms']:>10.3f}"
        )
    verdict = "met" if report["target_met"] else "NOT met"
    print(
        f"added by the server: {report['added_median_ms']:.3f} ms median "
        f"(target <= {TARGET_ADDED_MS} ms: {verdict})"
    )
    print(
        f"of which the card checks (chain, dates, EKU, CRL, signature): "
        f"{report['card_checks_added_median_ms']:.3f} ms over the raw verification; the rest "
        "is two kiosk request checks, the database and two commits"
    )
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
