"""Every prebuilt statement of the referral core, built once and run on the session's
connection, rows in and rows out: for these one-row changes the ORM's unit of work cost
more than the database did.

Each INSERT and UPDATE names its columns in `.values(...)`. SQLAlchemy still SETs any
column that an execute's parameters happen to name, so the UPDATEs bind only names that
are no column's (`new_status`, `now`, ...), and `models.base.update_params` refuses any
other.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnClause,
    Insert,
    Integer,
    Select,
    Table,
    Update,
    bindparam,
    func,
    literal_column,
    select,
    union,
)

from ...models import (
    Case,
    Location,
    Organization,
    Referral,
    ReferralEvent,
    ReferralRegion,
    service_locations,
)
from .. import directory
from .record import FIELD_NAMES
from .rules import ACKNOWLEDGED, DECIDED, SENDER_STATUSES, TERMINAL, leaving

REFERRALS = Referral.__table__
EVENTS = ReferralEvent.__table__
CASES = Case.__table__


def _insert(table: Table, names: tuple[str, ...]) -> Insert:
    return table.insert().values({name: bindparam(name) for name in names})


REFERRAL_COLUMNS = tuple(REFERRALS.c[name] for name in FIELD_NAMES)
INSERT_REFERRAL = _insert(REFERRALS, FIELD_NAMES)
SELECT_REFERRAL: Select[Any] = select(*REFERRAL_COLUMNS).where(
    REFERRALS.c.id == bindparam("referral_id")
)
LOCK_REFERRAL: Select[Any] = SELECT_REFERRAL.with_for_update()
INSERT_EVENT = _insert(
    EVENTS,
    (
        "id",
        "referral_id",
        "version",
        "from_status",
        "to_status",
        "occurred_at",
        "principal_id",
        "organization_id",
        "role",
        "reason",
        "note",
    ),
)
INSERT_CASE = _insert(
    CASES,
    (
        "id",
        "reference",
        "owner_organization_id",
        "client_ciphertext",
        "data_key",
        "key_id",
        "created_by",
    ),
)
# On an accepted transfer the receiver becomes the case's owner.
CHANGE_CASE_OWNER: Update = (
    CASES.update()
    .where(CASES.c.id == bindparam("case_id"))
    .values(owner_organization_id=bindparam("new_owner"), updated_at=bindparam("now"))
)
# The regions a referral is sent between, fixed as it is sent (see ReferralRegion), in one
# statement: the two home regions and the regions of the named service's sites.
_SENT = bindparam("referral_id", type_=Referral.id.type)
RECORD_REGIONS = ReferralRegion.__table__.insert().from_select(
    ["referral_id", "region_code"],
    union(
        select(_SENT, Organization.region_code).where(
            Organization.id.in_(
                [
                    bindparam("sender_id", type_=Organization.id.type),
                    bindparam("receiver_id", type_=Organization.id.type),
                ]
            ),
            Organization.region_code.is_not(None),
        ),
        select(_SENT, directory.redacted_region()).where(
            service_locations.c.service_id == bindparam("service_id", type_=Referral.id.type),
            Location.id == service_locations.c.location_id,
            Location.region_code.is_not(None),
        ),
    ),
)
TARGET_ORGANIZATION = select(Organization.id, Organization.status).where(
    Organization.id == bindparam("organization_id")
)


@cache
def move(status: str, with_outcome: bool, guard: str | None) -> Update:
    """The UPDATE that moves a referral to `status`, returning the new row and the status
    it left (the previous event's).

    `guard`: None (the move was already checked under lock), `status` (the caller's side,
    and a status it may leave for this one) or `version` (that and the If-Match version).
    Parameters: referral_id, new_status, new_reason, new_note, new_outcome, now,
    organization_id, expected.
    """
    c = REFERRALS.c
    now = bindparam("now", type_=c.updated_at.type)
    values: dict[str, Any] = {
        "status": bindparam("new_status"),
        "status_reason": bindparam("new_reason"),
        "status_note": bindparam("new_note"),
        "updated_at": now,
        "version": c.version + 1,
    }
    if with_outcome:
        values["outcome"] = bindparam("new_outcome")
    if status in ACKNOWLEDGED:
        values["acknowledged_at"] = func.coalesce(c.acknowledged_at, now)
    if status in DECIDED:
        values["decided_at"] = func.coalesce(c.decided_at, now)
    if status == "in-progress":
        values["started_at"] = func.coalesce(c.started_at, now)
    if status == "completed":
        values["completed_at"] = now
    if status in TERMINAL:
        values["closed_at"] = now
    conditions = [c.id == bindparam("referral_id")]
    if guard is not None:
        party = c.from_organization_id if status in SENDER_STATUSES else c.to_organization_id
        conditions += [party == bindparam("organization_id"), c.status.in_(leaving(status))]
    if guard == "version":
        conditions.append(c.version == bindparam("expected"))
    events = EVENTS.c
    # Spelled out: RETURNING renders its columns unqualified, and inside the subquery a
    # bare `id` or `version` would be the event's own.
    moved_id: ColumnClause[Any] = literal_column("referrals.id")
    moved_version: ColumnClause[int] = literal_column("referrals.version", Integer)
    previous = (
        select(events.to_status)
        .where(events.referral_id == moved_id, events.version == moved_version - 1)
        .scalar_subquery()
        .label("previous_status")
    )
    return (
        REFERRALS.update().where(*conditions).values(values).returning(*REFERRAL_COLUMNS, previous)
    )
