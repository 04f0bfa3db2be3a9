"""The shapes the referral core relies on, held to the schema."""

import uuid

import pytest

from referral_api.models import Principal, Referral
from referral_api.models.base import update_params
from referral_api.services.referrals.deadlines import ReferralView
from referral_api.services.referrals.record import FIELD_NAMES
from referral_api.services.referrals.rules import NEXT
from referral_api.services.referrals.statements import move


def test_the_referral_record_has_exactly_the_columns_of_referrals() -> None:
    assert set(FIELD_NAMES) == {column.name for column in Referral.__table__.c}


def test_the_view_adds_only_deadline_state_to_the_record() -> None:
    added = set(ReferralView.__dataclass_fields__) - set(FIELD_NAMES)
    assert added == {"overdue_reasons", "overdue_since", "overdue_by_s", "must_act_organization_id"}


def test_an_update_parameter_that_names_a_column_is_refused() -> None:
    principals = Principal.__table__
    assert update_params(principals, principal_id=1, now=2) == {"principal_id": 1, "now": 2}
    with pytest.raises(ValueError, match=r"\['name', 'role'\]"):
        update_params(principals, principal_id=uuid.uuid4(), name="x", role="admin")


@pytest.mark.parametrize("status", sorted(NEXT))
def test_no_move_statement_sets_a_column_from_its_parameter_names(status: str) -> None:
    """Every parameter a move binds is named apart from the columns of `referrals`."""
    referrals = Referral.__table__
    for guard in (None, "status", "version"):
        compiled = move(status, True, guard).compile()
        assert not set(compiled.params) & set(referrals.c.keys()), (status, guard)
