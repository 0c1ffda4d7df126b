"""Text from a request, made safe to put in a log line: one line, no terminal escapes, bounded.

A value a client sent can hold a newline (which forges a second log line), an ANSI escape (which
rewrites the operator's terminal) or a bidirectional override (which makes a line read backwards).
``printable`` shows each such character as its Python escape (``\\n``, ``\\x1b``, ``\\u202e``), so the
line still says exactly what arrived. ``OneLineFilter`` does the same to every record a handler
writes, for messages built by libraries (Bolt, slack_sdk, waitress) that quote a request.
"""

from __future__ import annotations

import logging
import os
import traceback

MAX_LOGGED_CHARS = 200  # a user id, a payload type or an address; never a whole body


def printable(value: object, *, limit: int | None = MAX_LOGGED_CHARS) -> str:
    """``value`` as text with every non-printable character escaped, cut at ``limit`` characters."""
    text = str(value)
    if limit is not None and len(text) > limit:
        text = text[:limit] + "…"
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


class OneLineFilter(logging.Filter):
    """Escapes control characters in each record's message; the traceback of an error stays as it is."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if not message.isprintable():
            record.msg, record.args = printable(message, limit=None), None
        return True


def configure_logging(level: int = logging.INFO) -> None:
    """The log format of ``crm-bot serve``/``run`` and their worker processes: one line per record."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, OneLineFilter) for f in handler.filters):
            handler.addFilter(OneLineFilter())


def where(error: BaseException) -> str:
    """The innermost frame of our own code, and the innermost of all: where to look, without values.

    The message of an unexpected error is left out on purpose: it may quote a request or a URL.
    """
    frames = traceback.extract_tb(error.__traceback__)
    ours = [
        f for f in frames if f"{os.sep}bot{os.sep}" in f.filename or f"{os.sep}crm_core{os.sep}" in f.filename
    ]
    shown = [*ours[-1:], *frames[-1:]] if ours and ours[-1] is not frames[-1] else frames[-1:]
    return " → ".join(f"{os.path.basename(f.filename)}:{f.lineno} in {f.name}" for f in shown)
