"""Content encryption: one data key per dossier, wrapped by that dossier's own KEK.

AES-256-GCM for content with the document's logical id as associated data (a ciphertext
moved to another row fails to decrypt); RFC 3394 key wrap for the data keys. The KEK
lives in the key vault, outside the database (server/key_vault.py): purging a dossier
destroys its KEK, which makes its documents unreadable everywhere, in the database's
backups too (docs/retention.md).

Stored forms of a data key (`dossiers.wrapped_key`):
- vaulted: VAULT_MAGIC, the KEK's id (16 bytes), the data key wrapped by the KEK;
- legacy (before the vault): the data key wrapped by the master key alone (40 bytes).
  Still read; `dmp retention run` moves them into the vault.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import os
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from server.key_vault import KEY_ID_BYTES, KeyDestroyed, KeyVault

KEY_BYTES = 32
NONCE_BYTES = 12
VAULT_MAGIC = b"DMK2"
_VAULTED_LEN = len(VAULT_MAGIC) + KEY_ID_BYTES + KEY_BYTES + 8


class KeyMaterialError(Exception):
    pass


def is_vaulted(wrapped_key: bytes) -> bool:
    return len(wrapped_key) == _VAULTED_LEN and wrapped_key.startswith(VAULT_MAGIC)


def vault_key_id(wrapped_key: bytes) -> bytes | None:
    """The id of the KEK that opens `wrapped_key`; None for a legacy key."""
    if not is_vaulted(wrapped_key):
        return None
    return wrapped_key[len(VAULT_MAGIC) : len(VAULT_MAGIC) + KEY_ID_BYTES]


class Keyring:
    def __init__(self, master_key: bytes, vault: KeyVault | None = None) -> None:
        if len(master_key) != KEY_BYTES:
            raise KeyMaterialError("the master key must be 32 bytes (base64 of 32 random bytes)")
        self._master = master_key
        self._derived: dict[str, bytes] = {}
        # None only for tools that never create dossiers (benches, offline checks).
        self.vault = vault

    def new_wrapped_key(self) -> bytes:
        """A new dossier data key, wrapped by a new KEK of the vault when there is one."""
        data_key = AESGCM.generate_key(bit_length=256)
        if self.vault is None:
            return aes_key_wrap(self._master, data_key)
        key_id, kek = self.vault.create()
        return VAULT_MAGIC + key_id + aes_key_wrap(kek, data_key)

    def new_check_key(self) -> bytes:
        """A random key wrapped by the master key alone: the record that binds a database
        to its master key (server/key_check.py); it belongs to no dossier."""
        return aes_key_wrap(self._master, AESGCM.generate_key(bit_length=256))

    def into_vault(self, wrapped_key: bytes) -> bytes:
        """A legacy data key re-wrapped by a new KEK of the vault (same data key: nothing
        needs re-encrypting). A vaulted key is returned as it is."""
        if self.vault is None or is_vaulted(wrapped_key):
            return wrapped_key
        data_key = self._unwrap(wrapped_key)
        key_id, kek = self.vault.create()
        return VAULT_MAGIC + key_id + aes_key_wrap(kek, data_key)

    def destroy(self, wrapped_key: bytes) -> bool:
        """Crypto-shredding: destroys the KEK of `wrapped_key`, after which no copy of
        `wrapped_key` (this database, its backups) opens again. False when there was no
        KEK to destroy (already destroyed, or a legacy key: see docs/retention.md)."""
        key_id = vault_key_id(wrapped_key)
        if key_id is None or self.vault is None:
            return False
        return self.vault.destroy(key_id)

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

    def fingerprint(self, wrapped_key: bytes, body: bytes) -> str:
        """A keyed digest of a content (HMAC-SHA256 under a key of the dossier's, hex):
        identical contents of one dossier share it, and without the dossier key it says
        nothing of the content (a plain SHA-256 of a short result, "VIH négatif", is
        confirmed by hashing guesses); it dies with the key."""
        key = self.dossier_key(wrapped_key, "content-fingerprint")
        return hmac.new(key, body, hashlib.sha256).hexdigest()

    def opens(self, wrapped_key: bytes) -> bool:
        """Whether this master key wrapped `wrapped_key` (RFC 3394's integrity check)."""
        try:
            self._unwrap(wrapped_key)
        except (InvalidUnwrap, ValueError, KeyDestroyed):
            return False
        return True

    def _unwrap(self, wrapped_key: bytes) -> bytes:
        key_id = vault_key_id(wrapped_key)
        if key_id is None:
            return aes_key_unwrap(self._master, wrapped_key)
        if self.vault is None:
            raise KeyDestroyed()
        kek = self.vault.get(key_id)
        return aes_key_unwrap(kek, wrapped_key[len(VAULT_MAGIC) + KEY_ID_BYTES :])


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
