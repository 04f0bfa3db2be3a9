"""Signed checkpoints of the audit chain: what the chain looked like, kept outside the
database, so that a rewritten chain no longer verifies against them.

A checkpoint is a transparency-log checkpoint (C2SP tlog-checkpoint) in a signed note
(C2SP signed-note), signed with Ed25519 by a key the database does not hold:

    referral-api/audit                           origin
    1234                                         the chain's size (events)
    3q2+7w...=                                   the hash of event 1234, base64
    time 2026-11-29T13:00:00Z                    an extension line: when it was taken

    — referral-api/audit Bq2r...                 key id (4 bytes) and signature, base64

Event `size`'s hash chains every event before it, so a checkpoint pins the whole prefix.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import ValidationFailed
from ..models import AuditEvent, AuditHead
from ..models.base import utcnow
from . import audit

ORIGIN = "referral-api/audit"
_SIGNATURE_TYPE_ED25519 = b"\x01"
_DASH = "\u2014"


class CheckpointInvalid(Exception):
    """The text is not a checkpoint signed by this key."""


class CheckpointMalformed(CheckpointInvalid):
    """The text is not a checkpoint at all."""


@dataclass(frozen=True)
class Checkpoint:
    size: int
    head_hash: str  # hex, as stored in audit_events.hash
    taken_at: datetime


def load_signing_key(value: str) -> Ed25519PrivateKey:
    """The key from REFERRAL_API_AUDIT_SIGNING_KEY: a file holding it, or the base64 of
    its 32-byte seed (`referral-api audit keygen` prints one)."""
    text = value.strip()
    path = Path(text)
    if len(text) < 200 and path.is_file():
        text = path.read_text().strip()
    try:
        seed = base64.b64decode(text, validate=True)
    except binascii.Error:
        raise ValueError("not base64") from None
    if len(seed) != 32:
        raise ValueError("an Ed25519 key is 32 bytes")
    return Ed25519PrivateKey.from_private_bytes(seed)


def new_signing_key() -> str:
    """A new key, as the base64 of its seed."""
    key = Ed25519PrivateKey.generate()
    raw = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return base64.b64encode(raw).decode()


def public_key_text(key: Ed25519PublicKey) -> str:
    return base64.b64encode(key.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()


def key_id(key: Ed25519PublicKey) -> bytes:
    """As signed-note defines it: SHA-256(name || "\\n" || type || public key)[:4]."""
    raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(ORIGIN.encode() + b"\n" + _SIGNATURE_TYPE_ED25519 + raw).digest()[:4]


def current(session: Session) -> Checkpoint:
    """The chain as its head records it now."""
    head = session.execute(select(AuditHead.last_seq, AuditHead.last_hash)).one()
    return Checkpoint(size=head.last_seq, head_hash=head.last_hash, taken_at=utcnow())


def _body(checkpoint: Checkpoint) -> str:
    head = base64.b64encode(bytes.fromhex(checkpoint.head_hash)).decode()
    taken = checkpoint.taken_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{ORIGIN}\n{checkpoint.size}\n{head}\ntime {taken}\n"


def sign(checkpoint: Checkpoint, key: Ed25519PrivateKey) -> str:
    """The checkpoint as a signed note."""
    body = _body(checkpoint)
    signature = key_id(key.public_key()) + key.sign(body.encode())
    return f"{body}\n{_DASH} {ORIGIN} {base64.b64encode(signature).decode()}\n"


def save(note: str, checkpoint: Checkpoint, directory: Path) -> Path:
    """Write the note to `directory` as checkpoint-<size>-<time>.txt, whole or not at all."""
    directory.mkdir(parents=True, exist_ok=True)
    taken = checkpoint.taken_at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = directory / f"checkpoint-{checkpoint.size:012d}-{taken}.txt"
    partial = path.with_suffix(".partial")
    partial.write_text(note, encoding="utf-8")
    partial.replace(path)
    return path


def open_note(note: str, key: Ed25519PublicKey) -> Checkpoint:
    """The checkpoint a note signed by `key` holds; CheckpointInvalid otherwise."""
    body, separator, signatures = note.partition("\n\n")
    if not separator:
        raise CheckpointMalformed("not a signed note (no blank line before the signatures)")
    body += "\n"
    checkpoint = _parse(body)  # malformed text is refused as such, signed or not
    wanted = key_id(key)
    for line in signatures.splitlines():
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != _DASH or parts[1] != ORIGIN:
            continue
        try:
            signature = base64.b64decode(parts[2], validate=True)
        except binascii.Error:
            continue
        if signature[:4] != wanted:
            continue
        try:
            key.verify(signature[4:], body.encode())
        except InvalidSignature:
            raise CheckpointInvalid("the signature does not verify with this key") from None
        return checkpoint
    raise CheckpointInvalid(f"no signature by this {ORIGIN} key")


def _parse(body: str) -> Checkpoint:
    lines = body.rstrip("\n").split("\n")
    if len(lines) < 3 or lines[0] != ORIGIN:
        raise CheckpointMalformed(f"not a checkpoint of {ORIGIN}")
    try:
        size = int(lines[1]) if lines[1].isdigit() else -1
        head = base64.b64decode(lines[2], validate=True).hex()
    except (ValueError, binascii.Error):
        size, head = -1, ""
    if size < 0 or len(head) != 64:
        raise CheckpointMalformed("the size or hash line is malformed")
    taken = next((line[5:] for line in lines[3:] if line.startswith("time ")), None)
    try:
        when = datetime.strptime(taken, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) if taken else None
    except ValueError:
        raise CheckpointMalformed("the time line is malformed") from None
    return Checkpoint(size=size, head_hash=head, taken_at=when or datetime.min.replace(tzinfo=UTC))


def verify(session: Session, *, checkpoint: Checkpoint) -> audit.Verdict:
    """The chain is intact and still holds the checkpoint: no shorter than it, and its
    event at the checkpoint's size hashes as it did."""
    verdict = audit.verify(session)
    if not verdict.ok:
        return verdict
    if verdict.checked < checkpoint.size:
        return audit.Verdict(
            False,
            verdict.checked,
            verdict.checked + 1,
            f"the chain holds {verdict.checked} events, fewer than the checkpoint's "
            f"{checkpoint.size}",
        )
    if checkpoint.size == 0:
        return verdict
    recorded = session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == checkpoint.size))
    if recorded != checkpoint.head_hash:
        return audit.Verdict(
            False,
            verdict.checked,
            checkpoint.size,
            "the event hashes differently from the checkpoint: the chain was rewritten",
        )
    return verdict


def verify_note(session: Session, *, note: str, key: Ed25519PublicKey) -> audit.Verdict:
    """Whether the chain holds a posted checkpoint: a verdict naming the reason when the
    signature fails or the chain no longer holds it; ValidationFailed when the text is
    no checkpoint at all."""
    try:
        checkpoint = open_note(note, key)
    except CheckpointMalformed as error:
        raise ValidationFailed({"checkpoint": f"Not a signed checkpoint: {error}."}) from None
    except CheckpointInvalid as error:
        return audit.Verdict(False, 0, None, f"checkpoint refused: {error}")
    return verify(session, checkpoint=checkpoint)
