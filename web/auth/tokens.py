"""API bearer tokens: how they look, and the digest under which they are stored.

A token is 32 random bytes, so a plain SHA-256 digest is enough to store it (nobody can
guess it back from the digest) and lets a request's token be found by an indexed lookup.
The token itself is shown once, when created, and never stored.
"""

from __future__ import annotations

import hashlib
import secrets

TOKEN_PREFIX = "sct_"  # recognisable in logs and secret scanners
MAX_TOKEN_LENGTH = 200


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def looks_like_token(text: str) -> bool:
    return text.startswith(TOKEN_PREFIX) and len(text) <= MAX_TOKEN_LENGTH
