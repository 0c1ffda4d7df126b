"""The pair prefilter keeps exactly the keys its rule names (``crm_core.identity.prefilter``).

``PairIndex`` is built with numpy for speed, ``FewKeys`` key by key and from the keys an earlier
version held; here the rule is spelled out once more in plain Python, over generated keys and
queries (Latin and Japanese, spaced and not, one-character keys, repeated pairs), so that any change
to how either is built or searched that changes who is scored fails here.
"""

from __future__ import annotations

import math
import random

import pytest

from crm_core.identity.prefilter import SHARED_FRACTION, FewKeys, PairIndex

ALPHABETS = ("abcdeilmnorst", "佐藤田中山本太郎健一子")


def _pairs(text: str) -> set[str]:
    compact = text.replace(" ", "")
    return {compact[i] + compact[i + gap] for gap in (1, 2) for i in range(len(compact) - gap)}


def _kept_by_the_rule(keys: list[str], query: str) -> list[int] | None:
    """A third of the shorter one's pairs shared (one at least), a word in common, or a key of one
    character; None: a query of one character is not filtered at all."""
    if len(query.replace(" ", "")) < 2:
        return None
    wanted, words = _pairs(query), set(query.split())
    kept = []
    for position, key in enumerate(keys):
        held = _pairs(key)
        needed = max(math.ceil(min(len(held), len(wanted)) * SHARED_FRACTION), 1)
        one_character = len(key.replace(" ", "")) == 1
        if one_character or len(held & wanted) >= needed or words & set(key.split()):
            kept.append(position)
    return kept


def _candidates(index: PairIndex | FewKeys, query: str) -> list[int] | None:
    kept = index.candidates(query)
    return None if kept is None else kept.tolist()


def _word(rng: random.Random, alphabet: str) -> str:
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 6)))


def _key(rng: random.Random) -> str:
    alphabet = rng.choice(ALPHABETS)
    return " ".join(_word(rng, alphabet) for _ in range(rng.randint(1, 3)))


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("size", [1, 7, 64, 600])
def test_the_index_keeps_exactly_the_keys_the_rule_keeps(seed: int, size: int) -> None:
    rng = random.Random(seed * 1000 + size)
    keys = list(dict.fromkeys(_key(rng) for _ in range(size)))  # distinct, as a segment holds them
    index = PairIndex.of(keys)
    queries = [_key(rng) for _ in range(40)] + [keys[0], keys[-1] + keys[0][:2], "ab", "a", "佐藤"]
    for query in queries:
        assert _candidates(index, query) == _kept_by_the_rule(keys, query), query


@pytest.mark.parametrize("seed", range(6))
def test_a_few_keys_grown_one_change_at_a_time_keep_exactly_the_keys_the_rule_keeps(seed: int) -> None:
    """As the name index's newest segment grows: keys taken away now and then (the index is then made
    again from the version before, whose pairs it takes over), and new keys added after the others
    (the index is extended)."""
    rng = random.Random(seed)
    keys: list[str] = []
    index = FewKeys.of([])
    for step in range(40):
        new = [key for key in dict.fromkeys(_key(rng) for _ in range(rng.randint(1, 2))) if key not in keys]
        if step % 7 == 6:
            keys.pop(rng.randrange(len(keys)))
            keys += new
            index = FewKeys.of(keys, known=index)
        else:
            keys += new
            index = index.extended(new)
        assert index.lengths.tolist() == [len(key.replace(" ", "")) for key in keys]
        assert index.positions == {key: position for position, key in enumerate(keys)}
        for query in [_key(rng) for _ in range(5)] + [keys[-1], "a"]:
            kept = _kept_by_the_rule(keys, query)
            assert _candidates(index, query) == kept, query
            start = len(keys) - len(new)  # the keys just added, alone
            from_start = index.candidates(query, start)
            assert (None if from_start is None else from_start.tolist()) == (
                None if kept is None else [position for position in kept if position >= start]
            ), query


def test_a_pair_repeated_in_a_key_or_the_query_counts_once() -> None:
    """ "abab" holds "ab" twice among its four pairs (ab, ba, aa, bb), and "abxyzw" shares only "ab"
    with it: one pair, where a third of four needs two. Counted twice, either way round, it would pass."""
    assert _kept_by_the_rule(["abab"], "abxyzw") == _kept_by_the_rule(["abxyzw"], "abab") == []
    for index in (PairIndex, FewKeys):
        assert _candidates(index.of(["abab"]), "abxyzw") == []
        assert _candidates(index.of(["abxyzw"]), "abab") == []
