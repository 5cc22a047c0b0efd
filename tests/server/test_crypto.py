"""Key handling: the demo key file is created once, atomically, even by racing workers."""

from __future__ import annotations

import multiprocessing
import stat
from pathlib import Path

import pytest

from server.crypto import KeyMaterialError, Keyring, load_master_key


def _load(args: tuple[str, object]) -> bytes:
    path, barrier = args
    barrier.wait()  # type: ignore[attr-defined]
    return load_master_key("", path)


def test_racing_processes_all_get_the_same_complete_key(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    for trial in range(5):
        path = str(tmp_path / f"k{trial}" / "master.key")
        with ctx.Manager() as manager:
            barrier = manager.Barrier(6)
            with ctx.Pool(6) as pool:
                keys = pool.map(_load, [(path, barrier)] * 6)
        assert len(set(keys)) == 1
        assert len(keys[0]) == 32
        assert stat.S_IMODE(Path(path).stat().st_mode) == 0o600
        assert [p.name for p in Path(path).parent.iterdir()] == ["master.key"]  # no leftovers


def test_a_configured_key_must_be_32_bytes_of_base64() -> None:
    with pytest.raises(KeyMaterialError, match="base64"):
        load_master_key("not base64!", "unused")
    with pytest.raises(KeyMaterialError, match="32 bytes"):
        Keyring(load_master_key("AAAA", "unused"))
