"""Static checks of the kiosk's English translation (kiosk/messages_en.py).

Every French text the kiosk shows through `_()` must have an English entry, every entry
must still be used, and the `{placeholders}` filled by `.format(**values)` must match, so
that switching to English never shows a half-translated screen nor raises a KeyError.
Pages rendered in English are covered by the journey tests; these checks are static.
"""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import jinja2
import pytest
from jinja2 import nodes

from kiosk.labels import DOCUMENT_TYPES
from kiosk.messages_en import MESSAGES
from kiosk.pages.common import FLASH

KIOSK = Path(__file__).resolve().parents[2] / "kiosk"
TEMPLATES = KIOSK / "templates"
# Python files whose texts are not translated through MESSAGES.
NOT_TRANSLATED = {"messages_en.py"}
GETTEXT_NAMES = {"_", "gettext"}  # `_` in pages/, `i18n.gettext` in app.py

# `_("...")` or `_('...')` in a template, with backslash escapes inside the literal.
TEMPLATE_CALL = re.compile(r"""\b_\(\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')""", re.DOTALL)

# French texts whose English translation is legitimately the same.
SAME_IN_ENGLISH = {
    "Date",
    "Notifications",
    "Prescription",
    "SMS",
    "Vaccinations",
    "document",
    "{n} page(s).",
    "Version {n}",
}


def _is_gettext(call: ast.Call) -> bool:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id in GETTEXT_NAMES
    return isinstance(func, ast.Attribute) and func.attr in GETTEXT_NAMES


def _str_constant(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _dict_literals(tree: ast.Module) -> dict[str, list[str]]:
    """Names assigned a dict literal anywhere in the module -> its string values."""
    found: dict[str, list[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Dict):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            values = [v for v in map(_str_constant, node.value.values) if v is not None]
            for target in targets:
                if isinstance(target, ast.Name):
                    found.setdefault(target.id, []).extend(values)
    return found


def _texts_of_argument(arg: ast.AST, dicts: dict[str, list[str]]) -> list[str]:
    """The texts a gettext argument can be: a literal (adjacent literals are already joined
    by the parser), `NAME[key]` or `NAME.get(key, "default")` on a dict literal."""
    text = _str_constant(arg)
    if text is not None:
        return [text]
    if isinstance(arg, ast.Subscript) and isinstance(arg.value, ast.Name):
        return dicts.get(arg.value.id, [])
    if (
        isinstance(arg, ast.Call)
        and isinstance(arg.func, ast.Attribute)
        and arg.func.attr == "get"
        and isinstance(arg.func.value, ast.Name)
    ):
        default = [t for t in map(_str_constant, arg.args[1:2]) if t is not None]
        return dicts.get(arg.func.value.id, []) + default
    return []


def python_texts() -> dict[str, set[str]]:
    texts: dict[str, set[str]] = {}
    for path in sorted(KIOSK.rglob("*.py")):
        if path.name in NOT_TRANSLATED:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        dicts = _dict_literals(tree)
        where = str(path.relative_to(KIOSK))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _is_gettext(node) and node.args:
                for text in _texts_of_argument(node.args[0], dicts):
                    texts.setdefault(text, set()).add(where)
    return texts


def template_texts() -> dict[str, set[str]]:
    texts: dict[str, set[str]] = {}
    for path in sorted(TEMPLATES.glob("*.html")):
        for match in TEMPLATE_CALL.finditer(path.read_text(encoding="utf-8")):
            # Jinja string literals escape like Python ones: `'QR code d\'enrôlement'`.
            text = ast.literal_eval(match.group(1))
            texts.setdefault(text, set()).add(f"templates/{path.name}")
    return texts


def data_texts() -> dict[str, set[str]]:
    """Texts kept as data and translated where they are shown (`_(FLASH[key])`,
    `_(label)` in deposit.html)."""
    texts: dict[str, set[str]] = {}
    for text in FLASH.values():
        texts.setdefault(text, set()).add("pages/common.py FLASH")
    for types in DOCUMENT_TYPES.values():
        for _code, label in types:
            texts.setdefault(label, set()).add("labels.py DOCUMENT_TYPES")
    return texts


def extract_texts() -> dict[str, set[str]]:
    """Every French text the kiosk passes to `_()` -> where it is used."""
    texts: dict[str, set[str]] = {}
    for part in (python_texts(), template_texts(), data_texts()):
        for text, where in part.items():
            texts.setdefault(text, set()).update(where)
    return texts


def placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}


TEXTS = extract_texts()


def test_extraction_is_not_vacuous() -> None:
    assert len(TEXTS) > 100
    assert len(template_texts()) > 50
    assert len(python_texts()) > 10
    assert "QR code d'enrôlement" in TEXTS  # escaped quote in a template
    assert "Soins administrés" in TEXTS  # DOCUMENT_TYPES label
    assert "La demande n'a pas pu être traitée." in TEXTS  # gettext(messages.get(...))


def test_template_regex_misses_no_call() -> None:
    """Jinja's own parser finds no `_("constant")` call that the regex missed."""
    env = jinja2.Environment(autoescape=True)
    found = template_texts()
    for path in sorted(TEMPLATES.glob("*.html")):
        tree = env.parse(path.read_text(encoding="utf-8"))
        for call in tree.find_all(nodes.Call):
            if isinstance(call.node, nodes.Name) and call.node.name == "_" and call.args:
                arg = call.args[0]
                if isinstance(arg, nodes.Const) and isinstance(arg.value, str):
                    assert arg.value in found, f"{path.name}: {arg.value!r}"


def test_every_text_has_an_english_entry() -> None:
    missing = {text: sorted(where) for text, where in TEXTS.items() if text not in MESSAGES}
    assert not missing, f"add to kiosk/messages_en.py: {missing}"


def test_no_stale_entry() -> None:
    stale = sorted(set(MESSAGES) - set(TEXTS))
    assert not stale, f"no longer used, remove from kiosk/messages_en.py: {stale}"


@pytest.mark.parametrize("french", sorted(MESSAGES))
def test_placeholders_match(french: str) -> None:
    english = MESSAGES[french]
    assert placeholders(english) == placeholders(french), english


def test_english_differs_from_french() -> None:
    same = sorted(fr for fr, en in MESSAGES.items() if fr == en and fr not in SAME_IN_ENGLISH)
    assert not same, f"not translated (or add to SAME_IN_ENGLISH): {same}"
    unneeded = sorted(fr for fr in SAME_IN_ENGLISH if MESSAGES.get(fr) != fr)
    assert not unneeded, f"remove from SAME_IN_ENGLISH: {unneeded}"


def test_entries_are_sorted() -> None:
    assert list(MESSAGES) == sorted(MESSAGES)


def test_english_is_not_blank() -> None:
    blank = sorted(fr for fr, en in MESSAGES.items() if not en.strip())
    assert not blank
