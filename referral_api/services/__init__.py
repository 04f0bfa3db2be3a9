"""Domain logic. Services take a Session first and plain keyword arguments,
flush (never commit) and raise the domain errors of `referral_api.errors`."""
