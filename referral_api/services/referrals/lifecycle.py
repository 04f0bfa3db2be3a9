"""Moving a referral through its lifecycle: as its sender or its receiver, or, to cancel
it on the client's behalf (consent withdrawn, case closed), as the case's owner."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Row
from sqlalchemy.orm import Session

from ...errors import Forbidden, NotFound, PreconditionFailed
from ...models.base import update_params, utcnow
from .. import audit, events
from ..actors import Actor
from .history import record_event
from .record import ReferralRecord
from .rules import WRITERS, check_move, request_errors, side_setting
from .statements import CASES, CHANGE_CASE_OWNER, LOCK_REFERRAL, REFERRALS, move
from .visibility import get_referral


def transition(
    session: Session,
    *,
    actor: Actor,
    referral_id: uuid.UUID,
    expected_version: int | None,
    status: str,
    reason: str | None = None,
    note: str | None = None,
    outcome: str | None = None,
) -> ReferralRecord:
    """Move a referral to a new status (at `expected_version`, unless None: any).

    Usually one UPDATE does it: it matches only if the move is allowed (the version, a
    status it may leave for this one, the caller's side), so it checks and takes the row
    lock in one round trip. If it matches nothing, the referral is locked and read to say
    why, in the order of `rules.check_move` (or, if it changed in between, moved after all).
    """
    connection = session.connection()
    params = _move_params(referral_id, status, reason, note, outcome, actor, expected_version)
    errors = request_errors(status, reason, note, outcome)
    updated = None
    if not errors and actor.role in WRITERS and actor.organization_id is not None:
        guard = "version" if expected_version is not None else "status"
        updated = connection.execute(move(status, outcome is not None, guard), params).first()
    if updated is None:
        _refuse(session, actor, referral_id, expected_version, status, errors)
        updated = connection.execute(move(status, outcome is not None, None), params).one()
    return _moved(session, actor, updated, status, reason, note, role=side_setting(status))


def cancel_for_owner(
    session: Session, *, actor: Actor, referral_id: uuid.UUID, reason: str, note: str | None
) -> ReferralRecord:
    """Cancel an open referral of the actor's case as its owner, whoever sent it (the
    caller checked the ownership): the event, audit and partner event are a transition's,
    with the role `owner`."""
    connection = session.connection()
    current = connection.execute(LOCK_REFERRAL, {"referral_id": referral_id}).one()
    check_move(current=current.status, status="cancelled", side="sender", errors={})
    params = _move_params(referral_id, "cancelled", reason, note, None, actor, None)
    updated = connection.execute(move("cancelled", False, None), params).one()
    return _moved(session, actor, updated, "cancelled", reason, note, role="owner")


def _move_params(
    referral_id: uuid.UUID,
    status: str,
    reason: str | None,
    note: str | None,
    outcome: str | None,
    actor: Actor,
    expected: int | None,
) -> dict[str, Any]:
    """The parameters of `statements.move`."""
    return update_params(
        REFERRALS,
        referral_id=referral_id,
        new_status=status,
        new_reason=reason,
        new_note=note,
        new_outcome=outcome,
        now=utcnow(),
        organization_id=actor.organization_id,
        expected=expected,
    )


def _moved(
    session: Session,
    actor: Actor,
    updated: Row[Any],
    status: str,
    reason: str | None,
    note: str | None,
    *,
    role: str,
) -> ReferralRecord:
    """Record a move just made (the UPDATE's row): the case's new owner on an accepted
    transfer, the status event, the audit event and the partner events."""
    connection = session.connection()
    if updated.previous_status is None:
        raise RuntimeError(f"referral {updated.id} has no event for version {updated.version - 1}")
    referral = ReferralRecord.from_row(updated)
    # An accepted transfer (pelimpahan) makes the receiver the case's owner.
    transfers_case = status == "accepted" and referral.kind == "transfer"
    if transfers_case:
        connection.execute(
            CHANGE_CASE_OWNER,
            update_params(
                CASES,
                case_id=referral.case_id,
                new_owner=referral.to_organization_id,
                now=referral.updated_at,
            ),
        )
    record_event(
        connection,
        actor=actor,
        referral=referral,
        from_status=updated.previous_status,
        role=role,
        reason=reason,
        note=note,
    )
    audit.record(
        session,
        actor=actor,
        action="referral.transition",
        entity_type="referral",
        entity_id=referral.id,
        summary={
            "from": updated.previous_status,
            "to": status,
            "reason": reason,
            "version": referral.version,
            **({"by": role} if role == "owner" else {}),
        },
    )
    events.referral_status_changed(
        session, referral=referral, from_status=updated.previous_status, reason=reason
    )
    if transfers_case:
        events.case_owner_changed(session, referral=referral)
    return referral


def _refuse(
    session: Session,
    actor: Actor,
    referral_id: uuid.UUID,
    expected_version: int | None,
    status: str,
    errors: dict[str, str],
) -> None:
    """Lock the referral and raise why this move is refused; return if it is allowed."""
    referral = session.connection().execute(LOCK_REFERRAL, {"referral_id": referral_id}).first()
    if referral is None:
        raise NotFound(f"Referral {referral_id} does not exist.")
    side = None
    if actor.organization_id == referral.from_organization_id:
        side = "sender"
    elif actor.organization_id == referral.to_organization_id:
        # A referral sent by mistake gives the wrong receiver nothing to keep, not even
        # the knowledge that it still exists (as for reading it).
        side = "receiver" if referral.status != "entered-in-error" else None
    if side is None or actor.role not in WRITERS:
        get_referral(session, actor=actor, referral_id=referral_id)  # 404 unless party
        raise Forbidden("Only the sending or the receiving organization changes a referral.")
    if expected_version is not None and referral.version != expected_version:
        raise PreconditionFailed(
            f"The referral is at version {referral.version}, not {expected_version}: reload it."
        )
    check_move(current=referral.status, status=status, side=side, errors=errors)
