"""The English and Japanese catalogues say the same things, and everything the code asks for exists."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

from bot.messages import CATALOGUES, language_of, t
from bot.parsing.grammar import USAGE_PARAMS
from crm_core.analytics.churn import RISK_LEVELS
from crm_core.models import INTERACTION_KINDS, LIFECYCLE_STAGES

ROOT = Path(__file__).resolve().parents[2]


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_both_catalogues_have_the_same_keys_and_placeholders() -> None:
    english, japanese = CATALOGUES["en"], CATALOGUES["ja"]
    assert english.keys() == japanese.keys()
    assert {k: placeholders(v) for k, v in english.items()} == {
        k: placeholders(v) for k, v in japanese.items()
    }


@pytest.mark.parametrize("language", sorted(CATALOGUES))
def test_messages_escape_angle_brackets_that_are_not_slack_tokens(language: str) -> None:
    """Slack reads ``<…>`` as a link or mention even in code spans; a placeholder must be ``&lt;…&gt;``."""
    for key, template in CATALOGUES[language].items():
        assert not re.search(r"<(?![@!#]|https?:|mailto:)", template), key
        assert not re.search(r"&(?!lt;|gt;|amp;)", template), key


def test_every_usage_error_of_the_grammar_has_a_message_with_its_parameters() -> None:
    for key, params in USAGE_PARAMS.items():
        assert placeholders(CATALOGUES["en"][key]) == set(params), key
    missing_parts = {"customer", "kind", "summary", "when"}
    assert {f"part.{part}" for part in missing_parts} <= CATALOGUES["en"].keys()


def test_every_key_crm_core_errors_carry_has_a_message() -> None:
    sources = "\n".join(p.read_text() for p in (ROOT / "crm_core").rglob("*.py"))
    keys = set(re.findall(r'key="([a-z_]+\.[a-z_.]+)"', sources))
    assert {"customer.no_match", "customer.gone", "input.summary_empty"} <= keys
    assert keys <= CATALOGUES["en"].keys()


def test_every_key_the_slack_layer_asks_for_exists() -> None:
    """Literal keys passed to ``t``, and the families built from domain values."""
    used: set[str] = set()
    for path in (ROOT / "bot").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "t":
                used.update(a.value for a in node.args if isinstance(a, ast.Constant) and "." in str(a.value))
    used |= {f"kind.{kind}" for kind in INTERACTION_KINDS} | {f"stage.{stage}" for stage in LIFECYCLE_STAGES}
    used |= {f"churn.{level}{part}" for level in RISK_LEVELS if level != "ok" for part in ("", ".level")}
    assert len(used) > 60
    assert sorted(used - CATALOGUES["en"].keys()) == []


@pytest.mark.parametrize(
    ("locale", "language"),
    [("ja-JP", "ja"), ("ja", "ja"), ("JA-jp", "ja"), ("en-US", "en"), ("fr-FR", "en"), (None, "en")],
)
def test_the_language_follows_the_slack_locale(locale: str | None, language: str) -> None:
    assert language_of(locale) == language


def test_t_fills_in_parameters() -> None:
    assert t("ja", "mine.title", count=3) == "未完了のフォローアップ: 3 件"
    assert t("xx", "mine.title", count=3) == "Your open follow-ups: 3"
