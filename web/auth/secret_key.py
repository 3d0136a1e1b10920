"""The key that encrypts and signs session cookies: from the settings, or generated once
and kept in a file readable by the owner only, so logins survive a restart.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
from pathlib import Path

from cryptography.fernet import Fernet

KEY_FILE_NAME = "web-secret.key"
MIN_SECRET_LENGTH = 32


def fernet_from_secret(secret: str) -> Fernet:
    """A configured secret of any form (32+ characters) as a Fernet key."""
    if len(secret) < MIN_SECRET_LENGTH:
        raise ValueError(f"web.secret_key needs at least {MIN_SECRET_LENGTH} characters")
    with contextlib.suppress(ValueError):
        return Fernet(secret)  # already a Fernet key (`Fernet.generate_key()`)
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest()))


def load_or_create_key(directory: Path) -> Fernet:
    """The key in `directory/web-secret.key`, created (mode 0600) when there is none.

    Two processes starting at once both end up with the same key: the file appears
    atomically, by link, and the loser reads the winner's.
    """
    path = directory / KEY_FILE_NAME
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        temp = directory / f".{KEY_FILE_NAME}.{os.getpid()}"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(Fernet.generate_key())
                out.flush()
                os.fsync(out.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(temp, path)
        finally:
            temp.unlink(missing_ok=True)
    return Fernet(path.read_bytes().strip())
