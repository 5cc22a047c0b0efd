"""Card-side rules of the emulator that the byte vectors cannot show on their own."""

from __future__ import annotations

import hmac
import json
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from card_helpers import PIN

from cardreader.emulator import cardfile
from cardreader.emulator.cardfile import CardFile, CardFileError
from cardreader.emulator.virtual import VirtualCard

SELECT_PRO = bytes.fromhex("00A4040008F0444D502D50524F00")
VERIFY_WRONG = bytes.fromhex("002000810439393939")
VERIFY_RIGHT = bytes.fromhex("0020008104") + PIN.encode()


def _pin_tries(path: Path) -> int:
    return int(json.loads(path.read_text())["pin"]["tries_remaining"])


def test_try_is_spent_and_saved_before_the_comparison(
    card_path: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = card_path("professional")
    card = VirtualCard.from_file(path)
    card.power_on()
    card.process(SELECT_PRO)
    seen_on_disk: list[int] = []
    real_compare = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        seen_on_disk.append(_pin_tries(path))
        return real_compare(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert card.process(VERIFY_RIGHT) == b"\x90\x00"
    assert seen_on_disk == [2]  # already decremented on disk when comparing
    assert _pin_tries(path) == 3  # restored after success


def test_counter_survives_a_restart(card_path: Callable[[str], Path]) -> None:
    path = card_path("professional")
    first = VirtualCard.from_file(path)
    first.power_on()
    first.process(SELECT_PRO)
    assert first.process(VERIFY_WRONG) == b"\x63\xc2"
    assert first.process(VERIFY_WRONG) == b"\x63\xc1"
    again = VirtualCard.from_file(path)  # emulator restarted: the counter stays
    again.power_on()
    again.process(SELECT_PRO)
    assert again.process(VERIFY_WRONG) == b"\x63\xc0"
    assert VirtualCard.from_file(path).card.pin is not None
    blocked = VirtualCard.from_file(path)
    blocked.power_on()
    blocked.process(SELECT_PRO)
    assert blocked.process(VERIFY_RIGHT) == b"\x69\x83"


def test_card_file_is_private_and_holds_no_clear_pin(card_path: Callable[[str], Path]) -> None:
    path = card_path("professional")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert '"1234"' not in text
    assert "12345678" not in text
    assert not list(path.parent.glob(".*.json.*"))  # no temp file left behind


def test_changed_pin_is_saved(card_path: Callable[[str], Path]) -> None:
    path = card_path("professional")
    card = VirtualCard.from_file(path)
    card.power_on()
    card.process(SELECT_PRO)
    assert card.process(bytes.fromhex("0024008108") + b"12344321") == b"\x90\x00"
    again = VirtualCard.from_file(path)
    again.power_on()
    again.process(SELECT_PRO)
    assert again.process(bytes.fromhex("0020008104") + b"4321") == b"\x90\x00"


def test_unpowered_card_answers_nothing_useful(make_card: Callable[..., CardFile]) -> None:
    card = VirtualCard(make_card("patient"))
    assert card.process(bytes.fromhex("00A4040008F0444D502D50415400")) == b"\x6f\x00"


def test_extended_read_of_the_whole_certificate(make_card: Callable[..., CardFile]) -> None:
    card = VirtualCard(make_card("patient"))
    card.power_on()
    card.process(bytes.fromhex("00A4040008F0444D502D50415400"))
    response = card.process(bytes.fromhex("00B08200000000"))
    assert response[-2:] == b"\x90\x00"
    assert len(response) > 258  # more than a short APDU can carry


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("identity"), "identity"),
        (lambda d: d.update(format="other/1"), "not a dmp-kiosk-card"),
        (lambda d: d.pop("pin"), "PIN and a PUK"),
        (lambda d: d["identity"].update(ins="255081416802539"), "INS"),
    ],
)
def test_bad_card_files(
    tmp_path: Path,
    make_card: Callable[..., CardFile],
    change: Callable[[dict[str, object]], object],
    message: str,
) -> None:
    data = make_card("professional" if message == "PIN and a PUK" else "patient").to_json()
    change(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(CardFileError, match=message):
        cardfile.load(path)


def test_not_json(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text("{nope")
    with pytest.raises(CardFileError, match="cannot read"):
        cardfile.load(path)
