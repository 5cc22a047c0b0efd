"""The card access library stands apart from the emulator: it never imports it.

A kiosk on real cards ships the library; the emulator, the TEST PKI and the demo set
(which holds private keys and documented demo PINs) must never be one import away.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import cardreader

LIBRARY = Path(cardreader.__file__).parent
LIBRARY_MODULES = sorted(LIBRARY.glob("*.py"))


def imported_modules(path: Path) -> set[str]:
    """Every module an import statement of `path` names, resolved to its absolute name."""
    package = "cardreader"
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package if node.level == 1 else "" if node.level == 0 else "<outside>"
            module = ".".join(part for part in (base, node.module or "") if part)
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def test_the_library_modules_are_found() -> None:
    assert {path.stem for path in LIBRARY_MODULES} >= {"protocol", "session", "pcsc"}
    assert not any(path.stem in {"virtual", "pki", "cardfile"} for path in LIBRARY_MODULES)


@pytest.mark.parametrize("path", LIBRARY_MODULES, ids=lambda path: path.stem)
def test_no_library_module_imports_the_emulator(path: Path) -> None:
    emulator = {
        name
        for name in imported_modules(path)
        if name == "cardreader.emulator" or name.startswith("cardreader.emulator.")
    }
    assert not emulator, f"{path.name} imports {sorted(emulator)}"


def test_the_import_scan_sees_relative_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("from .emulator import virtual\nfrom . import emulator\n")
    assert {"cardreader.emulator.virtual", "cardreader.emulator"} <= imported_modules(sample)
