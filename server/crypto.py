"""Content encryption: one data key per dossier, wrapped by the master key.

AES-256-GCM for content with the document's logical id as associated data (a ciphertext
moved to another row fails to decrypt); RFC 3394 key wrap for the data keys. Purging a
dossier destroys its wrapped key, which makes its documents unreadable everywhere.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

KEY_BYTES = 32
NONCE_BYTES = 12


class KeyMaterialError(Exception):
    pass


class Keyring:
    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != KEY_BYTES:
            raise KeyMaterialError("the master key must be 32 bytes (base64 of 32 random bytes)")
        self._master = master_key
        self._derived: dict[str, bytes] = {}

    def new_wrapped_key(self) -> bytes:
        return aes_key_wrap(self._master, AESGCM.generate_key(bit_length=256))

    def encrypt(self, wrapped_key: bytes, plaintext: bytes, aad: str) -> tuple[bytes, bytes]:
        nonce = os.urandom(NONCE_BYTES)
        return nonce, AESGCM(self._unwrap(wrapped_key)).encrypt(nonce, plaintext, aad.encode())

    def decrypt(self, wrapped_key: bytes, nonce: bytes, ciphertext: bytes, aad: str) -> bytes:
        return AESGCM(self._unwrap(wrapped_key)).decrypt(nonce, ciphertext, aad.encode())

    def derive_key(self, purpose: str) -> bytes:
        """A 32-byte key for one purpose (HKDF-SHA256 of the master key, RFC 5869).

        Sign-in secrets (TOTP seeds, one-time code MACs, codes waiting in the outbox)
        belong to no dossier, so they cannot use a dossier key; a key per purpose keeps
        one use from ever serving as an oracle for another. Derived once per purpose:
        some are needed on every sign-in."""
        key = self._derived.get(purpose)
        if key is None:
            hkdf = HKDF(
                algorithm=hashes.SHA256(),
                length=KEY_BYTES,
                salt=None,
                info=b"dmp:" + purpose.encode(),
            )
            key = self._derived[purpose] = hkdf.derive(self._master)
        return key

    def opener(self, wrapped_key: bytes) -> AESGCM:
        """The dossier's AEAD, unwrapped once, for reading many of its documents in one
        request (a search): `opener(w).decrypt(nonce, ciphertext, aad)` is `decrypt`."""
        return AESGCM(self._unwrap(wrapped_key))

    def dossier_key(self, wrapped_key: bytes, purpose: str) -> bytes:
        """A 32-byte key for one purpose within one dossier (HKDF-SHA256 of the dossier's
        data key, RFC 5869). It exists only as long as the data key: what is keyed by it
        (the search index) loses its meaning when a purge destroys the wrapped key."""
        hkdf = HKDF(
            algorithm=hashes.SHA256(),
            length=KEY_BYTES,
            salt=None,
            info=b"dmp:dossier:" + purpose.encode(),
        )
        return hkdf.derive(self._unwrap(wrapped_key))

    def opens(self, wrapped_key: bytes) -> bool:
        """Whether this master key wrapped `wrapped_key` (RFC 3394's integrity check)."""
        try:
            self._unwrap(wrapped_key)
        except (InvalidUnwrap, ValueError):
            return False
        return True

    def _unwrap(self, wrapped_key: bytes) -> bytes:
        return aes_key_unwrap(self._master, wrapped_key)


def key_source(value: str, key_file: str) -> str:
    """Where load_master_key takes the key from, for messages (never the key itself)."""
    if value:
        return "the MASTER_KEY setting (DMP_MASTER_KEY or the DMP_CONFIG file)"
    return f"the key file {Path(key_file).resolve()} (setting MASTER_KEY_FILE)"


def load_master_key(value: str, key_file: str) -> bytes:
    """From the setting (base64), else from a file created on first use with mode 0600."""
    if value:
        try:
            key = base64.b64decode(value, validate=True)
        except binascii.Error as exc:
            raise KeyMaterialError("MASTER_KEY is not valid base64") from exc
        return key
    path = Path(key_file)
    if not path.exists():
        _create_key_file(path)
    return base64.b64decode(path.read_text().strip(), validate=True)


def _create_key_file(path: Path) -> None:
    """Writes a new key atomically: gunicorn workers starting together on a first run
    race here, and a reader must never see a half-written file. The key is written to a
    private temporary file, then hard-linked to its name: exactly one link wins, and the
    losers use the winner's key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".master-key-")  # mode 0600
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(base64.b64encode(os.urandom(KEY_BYTES)).decode())
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        os.unlink(tmp)
