"""News from GitHub: the `X-Hub-Signature-256` check, and the `## NEWS` section of a
merged pull request's body or of pushed commit messages.

A section runs from a `## NEWS` heading (any case) to the next heading of level one or
two, or the end of the text.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any

_NEWS = re.compile(r"^##\s+news\s*$", re.IGNORECASE | re.MULTILINE)
_NEXT_HEADING = re.compile(r"^#{1,2}\s", re.MULTILINE)
MAX_NEWS_CHARS = 3000  # a Telegram message holds 4096


def verify_github(body: bytes, signature: str, secret: str) -> bool:
    """Whether `signature` ("sha256=<hex>") is the HMAC-SHA256 of the raw body. An empty
    secret verifies nothing."""
    if not secret or not signature.startswith("sha256="):
        return False
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace"))


def news_section(text: str) -> str:
    """The text of the `## NEWS` section, trimmed; "" when there is none."""
    heading = _NEWS.search(text or "")
    if heading is None:
        return ""
    rest = text[heading.end():]
    end = _NEXT_HEADING.search(rest)
    return (rest[:end.start()] if end else rest).strip()[:MAX_NEWS_CHARS]


def news_from_event(event: str, payload: dict[str, Any]) -> list[str]:
    """The news items of one GitHub event: a merged pull request's body, or each pushed
    commit's message. Other events (and unmerged or still open PRs) have none."""
    if event == "pull_request":
        pr = payload.get("pull_request") or {}
        if payload.get("action") == "closed" and pr.get("merged") is True:
            item = news_section(str(pr.get("body") or ""))
            return [item] if item else []
        return []
    if event == "push":
        commits = payload.get("commits") or []
        items = [news_section(str(c.get("message") or "")) for c in commits
                 if isinstance(c, dict)]
        return [item for item in items if item]
    return []
