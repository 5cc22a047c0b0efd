"""The key vault: one key-encryption key (KEK) per dossier, kept OUTSIDE the database.

Crypto-shredding must also defeat a database backup taken before the purge: that copy
holds the dossier's ciphertexts and its wrapped data key. A data key wrapped by the
master key alone would open again as soon as the (long-lived) master key is at hand, so
every dossier's data key is wrapped by a KEK of its own, and the KEK lives here, in
files that are not part of the database nor of its backups. Destroying the KEK (one
unlink) destroys the dossier in every copy of the database, past and future
(docs/retention.md, "What a backup can reveal").

Each KEK is itself stored wrapped by the master key (RFC 3394), so a copy of the vault
alone reveals nothing either. The directory is shared by every host of a deployment
(the same machine, or one network file system): a KEK must be readable by every server
that reads the dossier, and destroyed once for all of them.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from server.errors import DmpError

KEY_ID_BYTES = 16  # random, never the dossier id: a dossier created again gets a new KEK
SUFFIX = ".kek"


class KeyDestroyed(DmpError):
    """The KEK is not in the vault: destroyed by a purge (or a vault that is not this
    deployment's). A request that meets it (a dossier whose purge a crash interrupted,
    before the next run finishes it) gets a clear 410, never a 500."""

    status = 410
    error = "gone"

    def __init__(self) -> None:
        super().__init__("dossier_purged", "Ce dossier a été supprimé.")


class KeyVault:
    def __init__(self, directory: str | Path, master_key: bytes) -> None:
        self.directory = Path(directory)
        self._master = master_key

    def create(self) -> tuple[bytes, bytes]:
        """A new KEK: (key id, KEK). Written durably before it is used to wrap anything:
        a data key whose KEK could vanish in a power cut is a dossier lost."""
        key_id = secrets.token_bytes(KEY_ID_BYTES)
        kek = AESGCM.generate_key(bit_length=256)
        path = self._path(key_id)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, aes_key_wrap(self._master, kek))
            os.fsync(fd)
        finally:
            os.close(fd)
        _sync_directory(path.parent)
        return key_id, kek

    def get(self, key_id: bytes) -> bytes:
        try:
            stored = self._path(key_id).read_bytes()
        except FileNotFoundError:
            raise KeyDestroyed() from None
        try:
            return aes_key_unwrap(self._master, stored)
        except (InvalidUnwrap, ValueError):
            raise KeyDestroyed() from None

    def exists(self, key_id: bytes) -> bool:
        return self._path(key_id).exists()

    def destroy(self, key_id: bytes) -> bool:
        """Removes the KEK for good; True if it was there. Idempotent: a purge run that
        crashed after this step finds it gone and carries on."""
        path = self._path(key_id)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        _sync_directory(path.parent)
        return True

    def _path(self, key_id: bytes) -> Path:
        name = key_id.hex()
        # Two-level fan-out: a million dossiers make 256 directories of ~4,000 files.
        return self.directory / name[:2] / f"{name}{SUFFIX}"


def _sync_directory(directory: Path) -> None:
    # The file's creation or removal is durable only once its directory entry is.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
