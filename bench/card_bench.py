"""Card benchmark through the real stack: pcscd + vsmartcard vpcd + pyscard.

Measures, per round, a complete patient-card read (SELECT, identity, certificate,
INTERNAL AUTHENTICATE) and a complete professional flow (SELECT, VERIFY PIN, identity,
certificate, INTERNAL AUTHENTICATE), against the raw round trip of one empty APDU
(header only, "00 00 00 00", which the card answers 6D00) as the baseline.

Targets (issue 3): at most 8 APDUs for the patient card, 10 for the professional card,
and under 50 ms each (median). Exit status 1 when a target is missed.

    .venv/bin/python bench/card_bench.py [--rounds N] [--smoke] [--json FILE] [--port-base P]

Starts `pcscd --foreground` if no pcscd with the vpcd readers answers, and stops it at
the end; an already running pcscd is reused (the one PCSCLITE_CSOCK_NAME names, if set:
the tests point it at their private pcscd, whose vpcd listens on `--port-base`).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cardreader.connection import CountingConnection
from cardreader.emulator.demo import PATIENTS, PROFESSIONALS
from cardreader.emulator.pki import Pki
from cardreader.emulator.virtual import VirtualCard
from cardreader.emulator.vpcd import VPCD_PORT_BASE, VpcdBridge
from cardreader.errors import CardError
from cardreader.patient import PatientSession, read_patient_card
from cardreader.pcsc import PcscContext, list_readers, open_connection
from cardreader.professional import ProfessionalSession, read_professional_card

READERS = ("Virtual PCD 00 00", "Virtual PCD 00 01")
PATIENT_BUDGET, PROFESSIONAL_BUDGET, TIME_BUDGET_MS = 8, 10, 50.0
BENCH_PIN, BENCH_PUK = "1234", "12345678"  # throw-away cards issued for this run only
EMPTY_APDU = bytes(4)


def _readers_up() -> bool:
    try:
        return READERS[0] in list_readers()
    except CardError:
        return False


def _wait(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def _present(reader: str) -> bool:
    try:
        context = PcscContext()
    except CardError:
        return False
    try:
        states = context.get_status_change([(reader, 0)], 0)
    except CardError:
        return False
    finally:
        context.release()
    return bool(states and states[0][1] & 0x20)


def ensure_pcscd() -> subprocess.Popen[bytes] | None:
    if _readers_up():
        return None
    process = subprocess.Popen(
        ["pcscd", "--foreground"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    if not _wait(_readers_up, 20):
        process.terminate()
        sys.exit(
            "pcscd did not come up with the vpcd readers (apt-get install pcscd vsmartcard-vpcd)"
        )
    return process


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def measure(rounds: int, action: Callable[[], None]) -> list[float]:
    action()  # warm-up: first-use costs (imports, key loading) are not the steady state
    timings = []
    for _ in range(rounds):
        start = time.perf_counter()
        action()
        timings.append((time.perf_counter() - start) * 1000)
    return timings


def run(rounds: int, port_base: int = VPCD_PORT_BASE) -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory() as scratch:
        pki = Pki.init(Path(scratch) / "pki")
        patient = pki.issue_card(PATIENTS[0].identity)
        professional = pki.issue_card(PROFESSIONALS[0].identity, pin=BENCH_PIN, puk=BENCH_PUK)
        bridges = [
            VpcdBridge(VirtualCard(patient), 0, port_base=port_base),
            VpcdBridge(VirtualCard(professional), 1, port_base=port_base),
        ]
        try:
            for bridge, reader in zip(bridges, READERS, strict=True):
                bridge.insert()
                if not _wait(lambda reader=reader: _present(reader), 20):
                    sys.exit(f"no card seen in {reader}")
            patient_connection = CountingConnection(open_connection(READERS[0]))
            professional_connection = CountingConnection(open_connection(READERS[1]))
            counts: dict[str, int] = {}

            def counted(
                name: str, connection: CountingConnection, flow: Callable[[], object]
            ) -> Callable[[], None]:
                def action() -> None:
                    before = connection.count
                    flow()
                    counts[name] = connection.count - before

                return action

            baseline = measure(
                rounds,
                counted(
                    "baseline", patient_connection, lambda: patient_connection.transmit(EMPTY_APDU)
                ),
            )
            patient_times = measure(
                rounds,
                counted(
                    "patient",
                    patient_connection,
                    lambda: read_patient_card(PatientSession(patient_connection), os.urandom(32)),
                ),
            )
            professional_times = measure(
                rounds,
                counted(
                    "professional",
                    professional_connection,
                    lambda: read_professional_card(
                        ProfessionalSession(professional_connection), BENCH_PIN, os.urandom(32)
                    ),
                ),
            )
            patient_connection.close()
            professional_connection.close()
        finally:
            for bridge in bridges:
                bridge.stop()
    base_median = statistics.median(baseline)
    results = {}
    for name, timings in (
        ("baseline", baseline),
        ("patient", patient_times),
        ("professional", professional_times),
    ):
        median = statistics.median(timings)
        results[name] = {
            "apdus": counts[name],
            "median_ms": median,
            "p95_ms": percentile(timings, 0.95),
            "p99_ms": percentile(timings, 0.99),
            "ratio_to_baseline": median / base_median,
            "rounds": rounds,
        }
    return results


def report(results: dict[str, dict[str, float]]) -> bool:
    labels = {
        "baseline": "empty APDU (baseline)",
        "patient": "patient read+sign",
        "professional": "professional PIN+sign",
    }
    print(f"{'flow':<24}{'APDUs':>6}{'median ms':>11}{'p95 ms':>9}{'p99 ms':>9}{'x baseline':>12}")
    for name, row in results.items():
        print(
            f"{labels[name]:<24}{row['apdus']:>6}{row['median_ms']:>11.3f}"
            f"{row['p95_ms']:>9.3f}{row['p99_ms']:>9.3f}{row['ratio_to_baseline']:>12.1f}"
        )
    ok = True
    for name, budget in (("patient", PATIENT_BUDGET), ("professional", PROFESSIONAL_BUDGET)):
        row = results[name]
        if row["apdus"] > budget or row["median_ms"] >= TIME_BUDGET_MS:
            print(
                f"TARGET MISSED: {labels[name]} ({row['apdus']} APDUs, budget {budget}; "
                f"{row['median_ms']:.1f} ms, budget {TIME_BUDGET_MS} ms)"
            )
            ok = False
    print("targets met" if ok else "targets missed")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--smoke", action="store_true", help="3 rounds, to check it runs")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument(
        "--port-base", type=int, default=VPCD_PORT_BASE, help="vpcd's port for slot 0"
    )
    args = parser.parse_args()
    rounds = 3 if args.smoke else args.rounds
    daemon = ensure_pcscd()
    try:
        results = run(rounds, args.port_base)
    finally:
        if daemon is not None:
            daemon.terminate()
            daemon.wait(timeout=10)
    ok = report(results)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
