"""Open Referral HSDS 3.1: the public read API's objects and queries, the Indonesian
profile and its compiled schemas, and the conformance check (DESIGN.md "Open Referral
HSDS 3.1 profile")."""
