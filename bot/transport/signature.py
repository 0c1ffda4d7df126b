"""Slack's v0 request signature, checked on the raw bytes before anything is read from them.

Slack signs ``v0:{X-Slack-Request-Timestamp}:{body}`` with HMAC-SHA256 under the app's signing
secret and sends the hex digest as ``X-Slack-Signature: v0=…``. A request passes only if the
timestamp is a whole number of seconds (ASCII digits, nothing else) within five minutes of now and
the signature matches those exact bytes. Every other case has a short reason for the log line, and
nothing in the request (not its body, not the user or response URL it names) is looked at.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable

MAX_AGE_SECONDS = 5 * 60  # Slack's own advice against replays
_WHOLE_NUMBER = re.compile(r"[0-9]{1,12}")  # Unix seconds; int() would also take "+1", " 1", "١", "1_0"


class SignatureVerifier:
    """Tells whether Slack signed a request's bytes recently, and if not, why (for the log)."""

    def __init__(self, signing_secret: str, *, clock: Callable[[], float] = time.time) -> None:
        if not signing_secret:
            raise ValueError("an empty signing secret would accept forged requests")
        self._secret = signing_secret.encode()
        self._clock = clock

    def refusal(self, body: bytes, timestamp: str | None, signature: str | None) -> str | None:
        """None when Slack signed exactly ``body`` at ``timestamp``, less than five minutes ago."""
        if not timestamp:
            return "no timestamp"
        if not _WHOLE_NUMBER.fullmatch(timestamp):
            return "timestamp is not a whole number"
        if abs(self._clock() - int(timestamp)) > MAX_AGE_SECONDS:
            return "timestamp is more than five minutes away"
        if not signature:
            return "no signature"
        expected = sign(self._secret, timestamp, body)
        # Header values are Latin-1 text in WSGI; compare_digest on str would raise for non-ASCII.
        if not hmac.compare_digest(expected, signature.encode("latin-1", errors="replace")):
            return "signature does not match"
        return None


def sign(secret: bytes, timestamp: str, body: bytes) -> bytes:
    """The ``X-Slack-Signature`` value Slack sends for ``body`` at ``timestamp``."""
    base = b"v0:" + timestamp.encode("ascii") + b":" + body
    return b"v0=" + hmac.new(secret, base, hashlib.sha256).hexdigest().encode("ascii")
