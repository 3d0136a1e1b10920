"""Telephony process: thin async ARI client, Stasis application, per-call sessions wired to the media plane."""
