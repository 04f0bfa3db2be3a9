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


def _encrypt(key: bytes, version: int, aad: bytes, plaintext: bytes) -> bytes:
    """Format byte, 12-byte random nonce, AES-GCM ciphertext and tag."""
    nonce = os.urandom(NONCE_BYTES)
    return bytes([version]) + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def _decrypt(key: bytes, version: int, aad: bytes, sealed: bytes) -> bytes:
    if not sealed or sealed[0] != version:
        raise DecryptionFailed("unknown key version")
    nonce, ciphertext = sealed[1 : 1 + NONCE_BYTES], sealed[1 + NONCE_BYTES :]
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, aad)
    except InvalidTag:
        raise DecryptionFailed("the data does not open under this key") from None


def _seal(key: bytes, version: int, case_id: uuid.UUID, profile: dict[str, Any]) -> bytes:
    plaintext = json.dumps(profile, sort_keys=True, separators=(",", ":")).encode()
    return _encrypt(key, version, case_id.bytes, plaintext)


def _open(key: bytes, version: int, case_id: uuid.UUID, sealed: bytes) -> dict[str, Any]:
    return json.loads(_decrypt(key, version, case_id.bytes, sealed))  # type: ignore[no-any-return]


def seal(secret: str, case_id: uuid.UUID, profile: dict[str, Any]) -> bytes:
    """Encrypt a profile under the master secret, bound to its case (the case id is
    authenticated data). Client profiles now use `seal_with_key`; webhook secrets this."""
    return _seal(_key(secret), KEY_VERSION, case_id, profile)


def open_sealed(secret: str, case_id: uuid.UUID, sealed: bytes) -> dict[str, Any]:
    """Decrypt a profile sealed for this case."""
    return _open(_key(secret), KEY_VERSION, case_id, sealed)


def is_master_sealed(sealed: bytes) -> bool:
    """Sealed by `seal` (format 1), not with a case data key."""
    return sealed[:1] == bytes([KEY_VERSION])


# -- per-case data keys (format 2) ---------------------------------------------------------
# Each case's profile is sealed with a random 256-bit data key of its own; the data key is
# stored wrapped (AES-GCM, the case id bound in) by a key-encryption key derived from the
# master secret. Rotating the secret rewraps data keys and leaves profiles alone;
# destroying a data key (with its ciphertext) makes the profile unreadable for good.

CASE_KEY_VERSION = 2
WRAP_VERSION = 1
_WRAP_INFO = b"referral-api case data key wrap v1"
_KEY_ID_INFO = b"referral-api master key id v1"


@lru_cache(maxsize=8)
def _wrapping_key(secret: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=_WRAP_INFO).derive(
        secret.encode()
    )


@lru_cache(maxsize=8)
def key_id(secret: str) -> str:
    """A short fingerprint of the master secret: which key wrapped a data key. (Derived
    apart from the wrapping key, so it tells nothing about it.)"""
    derived = HKDF(algorithm=hashes.SHA256(), length=8, salt=_SALT, info=_KEY_ID_INFO)
    return derived.derive(secret.encode()).hex()


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def _wrap_aad(case_id: uuid.UUID) -> bytes:
    return b"case-data-key:" + case_id.bytes


def wrap(secret: str, case_id: uuid.UUID, data_key: bytes) -> bytes:
    """The data key encrypted under the master secret, bound to its case."""
    return _encrypt(_wrapping_key(secret), WRAP_VERSION, _wrap_aad(case_id), data_key)


def unwrap(secret: str, case_id: uuid.UUID, wrapped: bytes) -> bytes:
    """The data key of this case, unwrapped with the master secret."""
    return _decrypt(_wrapping_key(secret), WRAP_VERSION, _wrap_aad(case_id), wrapped)


def seal_with_key(data_key: bytes, case_id: uuid.UUID, profile: dict[str, Any]) -> bytes:
    """Encrypt a profile with its case's data key (format 2)."""
    return _seal(data_key, CASE_KEY_VERSION, case_id, profile)


def open_with_key(data_key: bytes, case_id: uuid.UUID, sealed: bytes) -> dict[str, Any]:
    """Decrypt a profile sealed with its case's data key."""
    return _open(data_key, CASE_KEY_VERSION, case_id, sealed)
