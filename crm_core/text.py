"""Text people type, as it is stored: any Unicode kept literally, nothing that breaks a store or a screen.

- NUL is refused: PostgreSQL cannot store it in text, and C strings end at it.
- Lone surrogates (a ``str`` decoded from JSON can hold ``"\\ud800"``) are refused: neither store can
  encode them as UTF-8. Refused rather than dropped, so what is stored is exactly what was given.
- Other control characters (C0, DEL, C1) are dropped, except tab and newline; CR LF, CR and NEL
  become LF. They are invisible, come from copy and paste, and garble terminals and CSV exports
  (C1's U+009B starts an escape sequence in some terminals, like ESC [).
- Surrounding white space is trimmed; length limits apply to what is left.

A search query is never stored, so ``searchable`` drops what cannot be sent instead of refusing.
"""

from __future__ import annotations

from crm_core.errors import InvalidInput

_CONTROLS: dict[int, str | None] = {
    **dict.fromkeys([*range(0x01, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0)]),
    0x85: "\n",  # NEL, the C1 line break
}
MAX_QUERY_LENGTH = 254  # the longest value a customer can be found by (an e-mail address)


def clean_text(value: str, *, field: str, max_length: int) -> str:
    """Free text (summaries, notes) with its line breaks; InvalidInput naming ``field`` when refused."""
    return _within(_cleaned(value, field), field, max_length)


def single_line(value: str, *, field: str, max_length: int) -> str:
    """A one-line value (names, companies, tags): every run of white space becomes one space."""
    return _within(" ".join(_cleaned(value, field).split()), field, max_length)


def searchable(query: str) -> str:
    """What of ``query`` can be searched for: unstorable and control characters dropped, trimmed."""
    sendable = query.encode("utf-8", errors="ignore").decode("utf-8").replace("\x00", "")
    return " ".join(sendable.translate(_CONTROLS).split())[:MAX_QUERY_LENGTH]


def too_long(field: str, max_length: int) -> InvalidInput:
    return InvalidInput(
        f"{_label(field)} is longer than {max_length} characters: shorten it",
        field=field,
        key=f"input.{field}_too_long",
        params={"max": max_length},
    )


def _cleaned(value: str, field: str) -> str:
    if "\x00" in value or not _encodable(value):
        raise InvalidInput(
            f"{_label(field)} contains a character that cannot be stored (NUL or a lone surrogate): "
            "remove it and try again",
            field=field,
            key="input.invalid_character",
        )
    return value.replace("\r\n", "\n").replace("\r", "\n").translate(_CONTROLS).strip()


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _within(text: str, field: str, max_length: int) -> str:
    if len(text) > max_length:
        raise too_long(field, max_length)
    return text


def _label(field: str) -> str:
    return field.replace("_", " ")
