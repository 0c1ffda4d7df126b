"""Finding an erased customer where other customers' records name them, and redacting it to ``[erased]``.

A summary logged to one customer often names another ("Hanako from Acme called about Globex's
order"; "cc taro@acme.example"), and a follow-up note likewise. Erasing Acme's row alone would leave
those. What is looked for:

- the e-mail address, as any e-mail in the text that normalises to it;
- the phone number, as any run of digits and separators whose digits are the same number, with or
  without its country code or trunk prefix ("03-1111-2222", "+81 3 1111 2222");
- the name, matched as names are matched everywhere (``crm_core.identity.normalize``: case, width,
  accents, kana, legal designators), as whole words in Latin script and anywhere in Japanese
  ("Acme", "ACME's", "アクメ様"). A designator written next to the name stays ("[erased] Inc.").

Only the matched text is replaced, so the rest of a colleague's note keeps its meaning.
Names shorter than two characters are not searched for: they would redact ordinary words.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise

from sqlalchemy import select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from crm_core.identity.normalize import normalize_email, normalize_name, phone_digits
from crm_core.models import FollowUp, Interaction

REDACTED = "[erased]"
MIN_NAME_CHARS = 2
MIN_PHONE_DIGITS = 6

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"\+?[\d(（][\d\s\-‐‑–−－ー().（）]{4,}\d")
_CJK = re.compile("[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff\uac00-\ud7af]")
_APOSTROPHES = "'’`´"
_NO_APOSTROPHES = str.maketrans("", "", _APOSTROPHES)
SCAN_BATCH = 1_000
_HIRAGANA_TO_KATAKANA = {code: code + 0x60 for code in range(0x3041, 0x3097)}


@dataclass(frozen=True)
class Person:
    """What identifies the erased customer in text; read before their row is erased."""

    name_key: str
    email: str | None
    phone: str | None

    @classmethod
    def of(cls, name: str, email: str | None, phone: str | None) -> Person:
        key = normalize_name(name)
        return cls(
            name_key=key if len(key.replace(" ", "")) >= MIN_NAME_CHARS else "",
            email=normalize_email(email) if email else None,
            phone=phone_digits(phone).lstrip("0") if phone else None,
        )

    def might_be_in(self, text: str) -> bool:
        """A cheap test that never misses a mention, so most texts skip the exact search."""
        if self.email and "@" in text and self.email.split("@")[1] in text.casefold():
            return True
        if self.phone and len(self.phone) >= MIN_PHONE_DIGITS and self.phone[-4:] in phone_digits(text):
            return True
        if not self.name_key:
            return False
        first_word = self.name_key.split(" ")[0]
        if text.isascii():
            folded = text.lower().translate(_NO_APOSTROPHES)
        else:
            folded = "".join(_folded_chars(text)[0])
        return first_word in folded.replace(" ", "") or first_word in folded


@dataclass(frozen=True)
class Redacted:
    """How many of other customers' interaction summaries and follow-up notes named the person."""

    interactions: int
    follow_ups: int


NO_MENTIONS = Redacted(0, 0)


def redact_mentions(session: Session, *, person: Person, erased_customer_id: int) -> Redacted:
    """Replace every mention of ``person`` in other customers' summaries and notes, in this transaction.

    Every text is read once, in batches, and only the rows that change are written; the cheap
    ``Person.might_be_in`` keeps the exact search (character by character) to a few texts.
    """
    counts = [
        _redact_column(session, person, erased_customer_id, model.id, model.customer_id, text)
        for model, text in ((Interaction, Interaction.summary), (FollowUp, FollowUp.note))
    ]
    return Redacted(*counts)


def _redact_column(
    session: Session,
    person: Person,
    erased_customer_id: int,
    row_id: InstrumentedAttribute[int],
    customer_id: InstrumentedAttribute[int],
    text: InstrumentedAttribute[str],
) -> int:
    changed: dict[int, str] = {}
    rows = session.execute(
        select(row_id, text).where(customer_id != erased_customer_id, text != "").order_by(row_id),
        execution_options={"yield_per": SCAN_BATCH},  # streamed: a store may hold millions of texts
    )
    for found_id, found_text in rows:
        if person.might_be_in(found_text) and (clean := redact(found_text, person)) != found_text:
            changed[found_id] = clean
    model = row_id.class_
    for changed_id, clean in changed.items():
        session.execute(update(model).where(row_id == changed_id).values({text.key: clean}))
    return len(changed)


def redact(text: str, person: Person) -> str:
    """``text`` with every mention of ``person`` replaced by ``[erased]`` (the same text when none)."""
    spans = sorted({*_emails(text, person), *_phones(text, person), *_names(text, person)})
    if not spans:
        return text
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    parts, position = [], 0
    for start, end in merged:
        parts += [text[position:start], REDACTED]
        position = end
    return "".join([*parts, text[position:]])


def _emails(text: str, person: Person) -> Iterator[tuple[int, int]]:
    if person.email:
        for found in _EMAIL.finditer(text):
            if normalize_email(found.group()) == person.email:
                yield found.span()


def _phones(text: str, person: Person) -> Iterator[tuple[int, int]]:
    if not person.phone or len(person.phone) < MIN_PHONE_DIGITS:
        return
    for found in _PHONE.finditer(text):
        digits = phone_digits(found.group()).lstrip("0")
        if len(digits) < MIN_PHONE_DIGITS:
            continue
        # "+81 3 1111 2222" is 03-1111-2222 with its country code instead of the trunk prefix 0.
        if digits.endswith(person.phone) or person.phone.endswith(digits):
            yield found.span()


def _names(text: str, person: Person) -> Iterator[tuple[int, int]]:
    if not person.name_key:
        return
    folded_chars, origin = _folded_chars(text)
    folded = "".join(folded_chars)
    for found in _name_pattern(person.name_key).finditer(folded):
        start, end = found.span()
        possessive = end < len(folded) and text[origin[end] - 1] in _APOSTROPHES
        if _whole_word(folded, start, end, possessive=possessive):
            yield origin[start], origin[end - 1] + 1


def _name_pattern(key: str) -> re.Pattern[str]:
    """The key, with its spaces optional between Japanese words (森 誠 is written 森誠 too)."""
    words = key.split(" ")
    pattern = re.escape(words[0])
    for before, word in pairwise(words):
        joint = " ?" if _CJK.match(before[-1]) and _CJK.match(word[0]) else " "
        pattern += joint + re.escape(word)
    return re.compile(pattern)


def _whole_word(folded: str, start: int, end: int, *, possessive: bool) -> bool:
    """Latin names are whole words ("Al" is not in "also"); Japanese is written without spaces.

    ``possessive``: an apostrophe, folded away, came right after the match ("Acme's" → "acmes").
    """
    before = folded[start - 1] if start else " "
    after = folded[end] if end < len(folded) else " "
    starts_ok = _CJK.match(folded[start]) or not before.isalnum() or _CJK.match(before)
    if possessive and after == "s" and (end + 1 == len(folded) or not folded[end + 1].isalnum()):
        after = " "
    ends_ok = _CJK.match(folded[end - 1]) or not after.isalnum() or _CJK.match(after)
    return bool(starts_ok and ends_ok)


def _folded_chars(text: str) -> tuple[list[str], list[int]]:
    """Each character folded as name keys are, runs of separators as one space, and for each
    folded character the index of the original one it came from (to redact the original text)."""
    chars: list[str] = []
    origin: list[int] = []
    for index, ch in enumerate(text):
        if ch in _APOSTROPHES:
            continue
        folded = _strip_accents(unicodedata.normalize("NFKC", ch).casefold()).translate(_HIRAGANA_TO_KATAKANA)
        for part in folded:
            if unicodedata.category(part)[0] in "PSZC":
                if chars and chars[-1] != " ":
                    chars.append(" ")
                    origin.append(index)
            else:
                chars.append(part)
                origin.append(index)
    return chars, origin


def _strip_accents(text: str) -> str:
    if text.isascii():
        return text
    return "".join(ch for ch in unicodedata.normalize("NFD", text) if not 0x0300 <= ord(ch) <= 0x036F)
