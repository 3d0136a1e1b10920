"""Telephony process: thin async ARI client, Stasis application, per-call sessions.

Each call is wired to the media plane (`media/`) through ARI externalMedia.
"""
