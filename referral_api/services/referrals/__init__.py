"""Cases and referrals, one job a module:

- `rules`: the statuses, the moves between them and which side makes each (pure).
- `record`: `ReferralRecord`, the one shape of a referral above the database.
- `statements`: every prebuilt INSERT, UPDATE and SELECT of the write paths.
- `visibility`: who may see which case and referral.
- `create`: sending a referral, with consent checked, on a new or existing case.
- `lifecycle`: moving a referral to a new status.
- `deadlines`: due times, overdue state, and `ReferralView` (a record as of now).
- `history`: the status events of a referral.
- `reads`: listing referrals.
- `cases`: the case and its audited client profile.
- `chains`: the referral tree of a case, with timings and gaps.
"""
