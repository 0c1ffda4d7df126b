"""Normal forms used for matching, so that the ways people type one name compare equal.

Names: NFKC (full/half width, half-width katakana, ㈱ → (株)), case folding, Latin accents stripped
(but not Japanese voicing marks: が must stay が), hiragana folded into katakana, company designators
dropped, punctuation and white space collapsed. E-mail: trimmed and lower-cased. Phone: digits only.
Format characters (Unicode category Cf: zero-width spaces and joiners, bidirectional controls, the
soft hyphen) are removed first from names, e-mails and phones alike: invisible, they would make one
address or name look like two, and bidi controls make a value display as something it is not.
"""

from __future__ import annotations

import re
import unicodedata

# Japanese designators are written without spaces, before or after the name, so they are removed
# as substrings; Latin ones are whole trailing words ("Acme Co., Ltd.").
_JA_DESIGNATORS = ("株式会社", "有限会社", "合同会社", "合資会社", "合名会社", "(株)", "(有)", "(同)")
_LATIN_DESIGNATORS = frozenset(
    {"inc", "incorporated", "ltd", "limited", "llc", "gmbh", "co", "corp", "corporation", "kk", "plc"}
)
_APOSTROPHES = str.maketrans("", "", "'’`´")
_HIRAGANA_TO_KATAKANA = {code: code + 0x60 for code in range(0x3041, 0x3097)}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _strip_latin_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    kept = "".join(ch for ch in decomposed if not 0x0300 <= ord(ch) <= 0x036F)
    return unicodedata.normalize("NFC", kept)


def _is_separator(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "PSZC"


def normalize_name(text: str) -> str:
    """The matching key of a customer or company name ('' when nothing meaningful is left)."""
    folded = unicodedata.normalize("NFKC", strip_format_characters(text)).casefold()
    for designator in _JA_DESIGNATORS:
        folded = folded.replace(designator, " ")
    folded = _strip_latin_accents(folded).translate(_APOSTROPHES).translate(_HIRAGANA_TO_KATAKANA)
    words = "".join(" " if _is_separator(ch) else ch for ch in folded).split()
    while len(words) > 1 and words[-1] in _LATIN_DESIGNATORS:
        words.pop()
    return " ".join(words)


def strip_format_characters(text: str) -> str:
    """``text`` without Unicode format characters (category Cf), which no one means to type."""
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf")


def normalize_email(text: str) -> str:
    return unicodedata.normalize("NFKC", strip_format_characters(text)).strip().lower()


def is_valid_email(text: str) -> bool:
    return bool(_EMAIL.match(text))


def phone_digits(text: str) -> str:
    """Digits of a phone number; full-width digits count, everything else is layout."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", text) if ch.isdigit())


def looks_like_phone(text: str) -> bool:
    digits = phone_digits(text)
    return len(digits) >= 6 and len(digits) >= 0.6 * len(text.replace(" ", ""))
