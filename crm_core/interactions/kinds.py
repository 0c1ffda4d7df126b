"""The words that name an interaction's kind, in one table that chat and import files both read.

``/crm log Acme 電話 …`` and an import file whose kind column says ``電話`` must agree, so the
Slack grammar and the import validator look words up here rather than each keeping a copy. Words
are matched after NFKC normalisation and case folding, so ``ＣＡＬＬ``, ``Call`` and ``ﾒｰﾙ`` count.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from crm_core.models import INTERACTION_KINDS

PURCHASE_KIND: Final = "purchase"

LOGGABLE_KINDS: Final = tuple(kind for kind in INTERACTION_KINDS if kind != PURCHASE_KIND)
"""Kinds a person may log by hand; purchases come from imports, with amounts."""

KIND_ALIASES: Final[Mapping[str, str]] = MappingProxyType(
    {
        **{kind: kind for kind in LOGGABLE_KINDS},
        "meet": "meeting",
        "mail": "email",
        "e-mail": "email",
        "ticket": "support",
        "電話": "call",
        "面談": "meeting",
        "打ち合わせ": "meeting",
        "打合せ": "meeting",
        "ミーティング": "meeting",
        "メール": "email",
        "チャット": "chat",
        "メモ": "note",
        "サポート": "support",
        "問い合わせ": "support",
    }
)
"""Every word accepted as a loggable kind (NFKC-normalised, case-folded) and the kind it stands for."""

PURCHASE_WORDS: Final = frozenset({PURCHASE_KIND, "購入"})
"""Words for a purchase: refused in chat (a purchase needs an amount), kept as a kind in import files."""


def kind_key(word: str) -> str:
    """The form words are compared in: NFKC-normalised, case-folded, trimmed."""
    return unicodedata.normalize("NFKC", word).casefold().strip()


def loggable_kind(word: str) -> str | None:
    """The kind a word typed after ``/crm log`` stands for, or None when it names none."""
    return KIND_ALIASES.get(kind_key(word))


def recorded_kind(word: str) -> str | None:
    """The kind a stored interaction may have for this word: any loggable kind, or a purchase."""
    key = kind_key(word)
    return PURCHASE_KIND if key in PURCHASE_WORDS else KIND_ALIASES.get(key)
