"""The FHIR Task lifecycle of a referral: statuses, the moves between them, who makes them.

Pure rules, no database: `lifecycle` applies them, the tests are generated from them.
"""

from __future__ import annotations

from ...errors import Forbidden, InvalidTransition, ValidationFailed
from ...models import Role

SENDER_STATUSES = frozenset({"cancelled", "entered-in-error"})
RECEIVER_STATUSES = frozenset(
    {"received", "accepted", "rejected", "in-progress", "on-hold", "completed", "failed"}
)
TERMINAL = frozenset({"rejected", "completed", "failed", "cancelled", "entered-in-error"})
# A referral ended with its service given (or tried): its receiver keeps the client profile
# for the closed-access window; every other end cuts access at once.
ENDED_WITH_SERVICE = frozenset({"completed", "failed"})
# A receiver serving the client now (it may transfer the case), and one that has taken
# the client on at some point (an offer's winner).
SERVING = frozenset({"accepted", "in-progress", "on-hold"})
TAKEN_ON = SERVING | ENDED_WITH_SERVICE
_ANY_ACTIVE = frozenset({"cancelled", "entered-in-error"})
NEXT: dict[str, frozenset[str]] = {
    "requested": frozenset({"received", "accepted", "rejected"}) | _ANY_ACTIVE,
    "received": frozenset({"accepted", "rejected"}) | _ANY_ACTIVE,
    "accepted": frozenset({"in-progress", "failed"}) | _ANY_ACTIVE,
    "in-progress": frozenset({"on-hold", "completed", "failed"}) | _ANY_ACTIVE,
    "on-hold": frozenset({"in-progress"}) | _ANY_ACTIVE,
    "rejected": frozenset({"entered-in-error"}),
    "completed": frozenset({"entered-in-error"}),
    "failed": frozenset({"entered-in-error"}),
    "cancelled": frozenset({"entered-in-error"}),
    "entered-in-error": frozenset(),
}
NEEDS_REASON = frozenset({"rejected", "failed"})
# The milestones a move records the first time it reaches them.
ACKNOWLEDGED = RECEIVER_STATUSES
DECIDED = frozenset({"accepted", "rejected"})
# The roles that send referrals and move them.
WRITERS = (Role.CASEWORKER, Role.ORG_ADMIN)


def side_setting(status: str) -> str:
    """Which side of a referral sets `status`: `sender` or `receiver`."""
    return "sender" if status in SENDER_STATUSES else "receiver"


def leaving(status: str) -> list[str]:
    """The statuses a referral may move to `status` from."""
    return sorted(before for before, after in NEXT.items() if status in after)


def request_errors(
    status: str, reason: str | None, note: str | None, outcome: str | None
) -> dict[str, str]:
    """What the request itself lacks for this status (422)."""
    errors: dict[str, str] = {}
    if status in NEEDS_REASON and reason is None:
        errors["reason"] = f"A reason code is needed to set {status}."
    if reason == "other" and not (note or "").strip():
        errors["note"] = "Describe the reason when it is `other`."
    if status == "completed" and not (outcome or "").strip():
        errors["outcome"] = "Record the outcome of the completed referral."
    return errors


def check_move(*, current: str, status: str, side: str, errors: dict[str, str]) -> None:
    """Raise why `side` may not move a `current` referral to `status`, in this order:
    a move the table lacks (409, naming the side's allowed moves), the other side's move
    (403), what the request lacks (422)."""
    mine = SENDER_STATUSES if side == "sender" else RECEIVER_STATUSES
    if status not in NEXT[current]:
        raise InvalidTransition(
            f"A {current} referral cannot become {status}.", allowed=NEXT[current] & mine
        )
    if status not in mine:
        raise Forbidden(f"Only the {side_setting(status)} sets a referral to {status}.")
    if errors:
        raise ValidationFailed(errors)
