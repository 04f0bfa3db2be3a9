"""Idempotent writes: a retry with the same `Idempotency-Key` gets the first response.

Any create or command can run through `once`: the resource hands it the key, the
request body and a function that does the work and says what to answer.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..errors import ValidationFailed
from ..models import IdempotencyKey
from .actors import Actor

MAX_KEY_LENGTH = 200

_KEYS = IdempotencyKey.__table__
_STORED = select(_KEYS.c.request_hash, _KEYS.c.status_code, _KEYS.c.response).where(
    _KEYS.c.principal_id == bindparam("principal_id"), _KEYS.c.key == bindparam("key")
)
_REMEMBER = _KEYS.insert().values(
    {
        name: bindparam(name)
        for name in ("principal_id", "key", "request_hash", "status_code", "response")
    }
)


@dataclass(frozen=True)
class Outcome:
    """What a write answered: the status and the JSON body."""

    status_code: int
    body: dict[str, Any]


def request_fingerprint(body: Any) -> str:
    return hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()
    ).hexdigest()


def once(
    session: Session,
    *,
    actor: Actor,
    key: str | None,
    request_body: Any,
    act: Callable[[], Outcome],
) -> Outcome:
    """Run `act` once per principal and key; a retry gets the stored outcome.

    The same key with another body is refused (422). Two retries racing with one key
    both run `act` inside a savepoint; the one whose key insert loses undoes its work
    and answers what the winner stored, so exactly one write is kept.
    """
    if key is None or actor.principal_id is None:
        return act()
    if not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise ValidationFailed({"Idempotency-Key": f"Must be 1 to {MAX_KEY_LENGTH} characters."})
    fingerprint = request_fingerprint(request_body)
    stored = _replay(session, actor=actor, key=key, fingerprint=fingerprint)
    if stored is not None:
        return stored
    savepoint = session.begin_nested()
    outcome = act()
    try:
        session.connection().execute(
            _REMEMBER,
            {
                "principal_id": actor.principal_id,
                "key": key,
                "request_hash": fingerprint,
                "status_code": outcome.status_code,
                "response": outcome.body,
            },
        )
    except IntegrityError:
        savepoint.rollback()  # a retry with this key committed first: keep nothing of ours
        winner = _replay(session, actor=actor, key=key, fingerprint=fingerprint)
        if winner is None:
            raise
        return winner
    savepoint.commit()
    return outcome


def _replay(session: Session, *, actor: Actor, key: str, fingerprint: str) -> Outcome | None:
    """The stored outcome for this key, if any; a different body under it is refused."""
    stored = (
        session.connection()
        .execute(_STORED, {"principal_id": actor.principal_id, "key": key})
        .first()
    )
    if stored is None:
        return None
    if stored.request_hash != fingerprint:
        raise ValidationFailed(
            {"Idempotency-Key": "Already used for a different request body by you."}
        )
    return Outcome(stored.status_code, stored.response)
