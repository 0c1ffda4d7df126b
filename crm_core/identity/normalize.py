"""Normal forms used for matching, so that the ways people type one name compare equal.

Names: NFKC (full/half width, half-width katakana, ㈱ → (株)), case folding, Latin accents stripped
(but not Japanese voicing marks: が must stay が), hiragana folded into katakana, legal designators
dropped, punctuation and white space collapsed. Spaces between CJK characters are kept in the key
(they help token matching when words are swapped) but never make two keys different names.
E-mail: trimmed and lower-cased. Phone: digits only.
Format characters (Unicode category Cf: zero-width spaces and joiners, bidirectional controls, the
soft hyphen) are removed first from names, e-mails and phones alike: invisible, they would make one
address or name look like two, and bidi controls make a value display as something it is not.
"""

from __future__ import annotations

import functools
import re
import unicodedata

# Legal designators say what kind of company a name belongs to, not which one, so they are no part
# of the key: "Acme Inc." and "Acme LLC" share the key "acme", and "Whitespace Inc" shares nothing
# with it. Each variant maps to one canonical form, which only ``name_designators`` keeps (a query
# equal to a whole name, designator included, picks that customer). Japanese designators are
# written without spaces, before or after the name, so they are removed as substrings; Latin ones
# are whole trailing words ("Acme Co., Ltd."), initials written with full stops included ("K.K.").
_JA_DESIGNATORS = {
    "株式会社": "kk",
    "(株)": "kk",  # NFKC has already turned ㈱ into this
    "有限会社": "yk",
    "(有)": "yk",
    "合同会社": "gk",
    "(同)": "gk",
    "合資会社": "goshi",
    "(資)": "goshi",
    "合名会社": "gomei",
    "(名)": "gomei",
}
_LATIN_DESIGNATORS = {
    "inc": "inc",
    "incorporated": "inc",
    "ltd": "ltd",
    "limited": "ltd",
    "llc": "llc",
    "llp": "llp",
    "gmbh": "gmbh",
    "ag": "ag",
    "co": "co",
    "corp": "corp",
    "corporation": "corp",
    "kk": "kk",
    "plc": "plc",
    "pte": "pte",
    "pty": "pty",
}
_MAX_INITIALS = 3  # "l l c" is the longest designator written as initials
_CJK = "\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\uac00-\ud7af"  # kana, kanji, hangul
_CJK_SPACE = re.compile(f"(?<=[{_CJK}]) (?=[{_CJK}])")
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
    return " ".join(_words_and_designators(text)[0])


@functools.lru_cache(maxsize=65_536)
def name_designators(text: str) -> frozenset[str]:
    """The legal designators of a name, canonical ("Acme Co., Ltd." → co, ltd; ㈱アクメ → kk).

    Cached: a search that several customers match exactly reads their names, and the same common
    names come back search after search.
    """
    return _words_and_designators(text)[1]


def _words_and_designators(text: str) -> tuple[list[str], frozenset[str]]:
    folded = unicodedata.normalize("NFKC", strip_format_characters(text)).casefold()
    found: set[str] = set()
    for designator, canonical in _JA_DESIGNATORS.items():
        if designator in folded:
            folded = folded.replace(designator, " ")
            found.add(canonical)
    folded = _strip_latin_accents(folded).translate(_APOSTROPHES).translate(_HIRAGANA_TO_KATAKANA)
    words = "".join(" " if _is_separator(ch) else ch for ch in folded).split()
    while len(words) > 1 and (size := _trailing_designator(words)):
        found.add(_LATIN_DESIGNATORS["".join(words[-size:])])
        del words[-size:]
    return words, frozenset(found)


def _trailing_designator(words: list[str]) -> int:
    """How many trailing words form a designator ("inc"; "k k" from "K.K."), leaving a name; 0: none."""
    if words[-1] in _LATIN_DESIGNATORS:
        return 1
    for size in range(min(_MAX_INITIALS, len(words) - 1), 1, -1):
        tail = words[-size:]
        if all(len(word) == 1 for word in tail) and "".join(tail) in _LATIN_DESIGNATORS:
            return size
    return 0


def same_name_key(stored: str, typed: str) -> bool:
    """Two name keys that differ at most in spaces between CJK characters (森 誠 and 森誠 are one name).

    Latin spacing is kept: "acme trading" and "acmetrading" are only close, not equal.
    """
    if stored == typed:
        return True
    if stored.replace(" ", "") != typed.replace(" ", ""):
        return False
    return _CJK_SPACE.sub("", stored) == _CJK_SPACE.sub("", typed)


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
