"""Runs a benchmark's --smoke mode as a new process and returns its JSON report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def run_smoke(
    module: str,
    out: Path,
    *,
    out_flag: str = "--out",
    timeout: int = 240,
    args: tuple[str, ...] = (),
) -> tuple[Any, str]:
    """(report, stdout) of `python -m MODULE --smoke OUT_FLAG OUT [ARGS]`, failing on a
    non-zero exit.

    A smoke run makes its own database, keys and PKI unless ARGS name them: no DMP_*
    setting of the caller leaks in.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("DMP_")}
    proc = subprocess.run(
        [sys.executable, "-m", module, "--smoke", out_flag, str(out), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(out.read_text()), proc.stdout
