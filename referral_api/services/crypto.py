"""Encryption of client profiles at rest: AES-256-GCM under a key derived from the secret."""

from __future__ import annotations

import json
import os
import uuid
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_VERSION = 1
NONCE_BYTES = 12
_INFO = b"referral-api client profile v1"
_SALT = b"referral-api/2026/client-profile"


class DecryptionFailed(Exception):
    """The ciphertext does not open under this key (wrong secret, or tampered data)."""


@lru_cache(maxsize=8)
def _key(secret: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=_INFO).derive(
        secret.encode()
    )


def seal(secret: str, case_id: uuid.UUID, profile: dict[str, Any]) -> bytes:
    """Encrypt a profile, bound to its case (the case id is authenticated data)."""
    nonce = os.urandom(NONCE_BYTES)
    plaintext = json.dumps(profile, sort_keys=True, separators=(",", ":")).encode()
    ciphertext = AESGCM(_key(secret)).encrypt(nonce, plaintext, case_id.bytes)
    return bytes([KEY_VERSION]) + nonce + ciphertext


def open_sealed(secret: str, case_id: uuid.UUID, sealed: bytes) -> dict[str, Any]:
    """Decrypt a profile sealed for this case."""
    if not sealed or sealed[0] != KEY_VERSION:
        raise DecryptionFailed("unknown key version")
    nonce, ciphertext = sealed[1 : 1 + NONCE_BYTES], sealed[1 + NONCE_BYTES :]
    try:
        plaintext = AESGCM(_key(secret)).decrypt(nonce, ciphertext, case_id.bytes)
    except InvalidTag:
        raise DecryptionFailed("the profile does not open under this key") from None
    return json.loads(plaintext)  # type: ignore[no-any-return]
