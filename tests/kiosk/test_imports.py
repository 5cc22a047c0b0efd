"""The kiosk stands apart from the server's database code, and the server from the kiosk
(issue 10): read from the imports themselves, and proven by importing the kiosk where
SQLAlchemy, psycopg and Alembic cannot be imported."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk.labels import CATEGORIES
from server.policy import Category

ROOT = Path(__file__).resolve().parents[2]
SIGNING = "server.signin.request_signing"
# The verifiable log's pure verification (hashlib and cryptography only): the kiosk's
# "Vérifier mon historique" checks the server with the very code a witness uses.
TLOG = "server.tlog"
# werkzeug's request log without query strings (a search's words are health content).
HTTP_LOG = "server.http_log"


def _shared(module: str) -> bool:
    """The signing module, the log's verification, the request log, their names, and the
    import-free packages above them."""
    return module in ("server", "server.signin", SIGNING, TLOG, HTTP_LOG) or module.startswith(
        (SIGNING + ".", TLOG + ".", HTTP_LOG + ".")
    )


def imported_modules(package: str) -> Iterator[tuple[Path, str]]:
    """(file, absolute module name) of every import in a package, lazy ones included."""
    for path in sorted((ROOT / package).rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        # The package a relative import starts from.
        if path.name == "__init__.py":
            here = module.removesuffix(".__init__")
        else:
            here = module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield path, alias.name
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = here.split(".")
                    parent = ".".join(parts[: len(parts) - node.level + 1])
                    base = f"{parent}.{base}" if base else parent
                yield path, base
                for alias in node.names:  # `from server import worker` imports a module
                    yield path, f"{base}.{alias.name}"


def _top(module: str) -> str:
    return module.split(".")[0]


def test_the_import_reader_sees_relative_and_lazy_imports() -> None:
    found = {m for p, m in imported_modules("kiosk") if p.name == "app.py"}
    assert "kiosk.pages" in found  # `from .pages import ...`
    assert "flask" in found
    found = {m for p, m in imported_modules("dmp") if p.name == "cli.py"}
    assert "dmp.demo" in found  # imported inside the demo command


def test_kiosk_imports_nothing_from_the_server_but_the_signing_and_the_log_check() -> None:
    wrong = sorted(
        f"{path.relative_to(ROOT)}: {module}"
        for path, module in imported_modules("kiosk")
        if _top(module) == "server" and not _shared(module)
    )
    assert wrong == []
    assert any(m == SIGNING for _, m in imported_modules("kiosk"))


@pytest.mark.parametrize("package", ["server", "cardreader"])
def test_server_and_cardreader_import_neither_the_kiosk_nor_the_composition(package: str) -> None:
    wrong = sorted(
        f"{path.relative_to(ROOT)}: {module}"
        for path, module in imported_modules(package)
        if _top(module) in ("kiosk", "dmp")
    )
    assert wrong == []


BLOCKED = (
    "sqlalchemy",
    "psycopg",
    "alembic",
    "server.services",
    "server.models",
    "server.db",
    "server.api",
    "server.app",
    "server.config",
)

WITHOUT_DATABASE = f"""
import importlib.abc, sys

BLOCKED = {BLOCKED!r}

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if any(name == b or name.startswith(b + ".") for b in BLOCKED):
            raise ImportError(f"blocked: {{name}}")
        return None

sys.meta_path.insert(0, Block())
import kiosk.client, kiosk.app, kiosk.runner, kiosk.cli
from kiosk.app import create_kiosk_app
from kiosk.client import ServerClient
from kiosk.readers import DemoReaders
from kiosk.terminal import Terminal
from cryptography.hazmat.primitives.asymmetric import ec

client = ServerClient("http://127.0.0.1:9", "borne", ec.generate_private_key(ec.SECP256R1()))
app = create_kiosk_app(
    Terminal(DemoReaders(), client),
    {{"COOKIE_SECURE": True, "DEFAULT_LANG": "fr", "HOST": "127.0.0.1"}},
)
assert app.test_client().get("/", headers={{"Host": "127.0.0.1"}}).status_code == 200
loaded = sorted(m for m in sys.modules if any(m == b or m.startswith(b + ".") for b in BLOCKED))
print("loaded:", loaded)
"""


def test_the_kiosk_imports_and_serves_without_the_database_stack() -> None:
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_DATABASE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "loaded: []" in done.stdout


def test_the_blocker_does_block() -> None:
    """The subprocess above would pass vacuously if the finder let SQLAlchemy through."""
    probe = WITHOUT_DATABASE.split("import kiosk.client")[0] + "import sqlalchemy\n"
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "blocked: sqlalchemy" in done.stderr


def test_the_kiosk_names_every_category_of_the_server() -> None:
    assert set(CATEGORIES) == {c.value for c in Category}
