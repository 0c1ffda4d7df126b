"""Which name keys are worth scoring: an inverted index of character pairs, kept with the name index.

WRatio over every distinct key costs about 190 ms at 100k distinct names, so only keys that share
enough character pairs with the query are scored. The pairs are those of the key with its spaces
removed (so "yamadashoji" and "yamada shoji" have the same pairs), taken at distance one *and*
two: "abcd" gives ab, bc, cd, ac, bd. Distance-two pairs make single typos cheap: a wrong, missing,
extra or swapped letter destroys at most four pairs, and the pair that jumps over it survives (the
"m_d" of "yamada" meets the "md" of "yamda"). Case, width, kana and designators are already folded
into the key by ``normalize_name``, so they never cost a pair. Japanese names work the same way:
each kanji or kana is a character, "佐藤健太" gives 佐藤, 藤健, 健太, 佐健, 藤太.

A key is a candidate when it shares at least a third of the pairs of the shorter of query and key,
or a whole word with the query. Taking the shorter keeps "Acme" a candidate for "Acme Trading"
(WRatio's partial match scores it 90), and a third leaves room for a typo in a short name: "Glbx"
still meets "Globex Trading" through "gl" (one of its three pairs). The word rule keeps what WRatio's
partial-token rule scores 85.5 whatever else differs: a key holding any word of the query once
their lengths differ by half ("Linda Wahi" and "Berinhill Gara Wahi").

What this can drop, compared with scoring every key, is only what nobody means, and only ever below
the candidate score or at the far end of a long list of equals: (a) letters scattered through a
longer name ("ymd" for "yamada", or "john buel" for "Zebulon Quixote": WRatio 60 to 67, only ever a
"did you mean"); (b) for a query of two characters, keys holding just one of them, which WRatio rates
60 ("山本 太郎" for "山田"); (c) words of one kanji reordered across a typo ("橋 誠" for "誠加 ナ橋").
Every single edit of a name of three characters or more, a missing space, swapped words and case
keep the name a candidate. On 100k synthetic distinct names, with single edits of 300 names and
misspelt nobodies, 99.5% of queries resolved exactly as when every key is scored; the rest differed
in the tail of an ambiguous list.

Keys of one character have no pair and are always candidates (WRatio may still rate them), and a
query of one character cannot be filtered by pairs at all, so it scores every key, as before.

Characters are folded to ``char_bits`` bits when pairs are packed into integers: folding can only
make two different pairs look alike, which adds candidates and never removes one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

_GAPS = (1, 2)
SHARED_FRACTION = 1 / 3
_CHAR_BITS = 21  # enough for every Unicode code point


@dataclass(frozen=True)
class PairIndex:
    """Postings of character pairs: ``keys[starts[i]:starts[i + 1]]`` hold pair ``codes[i]``."""

    codes: np.ndarray  # distinct pair codes, ascending
    starts: np.ndarray
    keys: np.ndarray  # positions of distinct keys, grouped by pair code
    pairs_per_key: np.ndarray
    lengths: np.ndarray  # characters of each key, spaces left out
    always: np.ndarray  # positions of one-character keys
    char_bits: int
    words: dict[str, tuple[int, int]]  # each word's span of ``word_keys``
    word_keys: np.ndarray  # positions of the keys that hold each word, grouped by word

    @classmethod
    def of(cls, keys: list[str]) -> PairIndex:
        """Index ``keys`` (distinct name keys, by position) with numpy, not a Python loop per pair."""
        key_bits = max(len(keys), 1).bit_length()
        char_bits = min(_CHAR_BITS, (63 - key_bits) // 2)
        compact = [key.replace(" ", "") for key in keys]
        lengths = np.fromiter(map(len, compact), dtype=np.int64, count=len(compact))
        owner = np.repeat(np.arange(len(compact), dtype=np.int64), lengths)
        codes, owners = _pairs(_code_points("".join(compact), char_bits), owner, char_bits)
        packed = _sorted_unique((codes << key_bits) | owners)  # one entry per (pair, key)
        pair_codes, key_positions = packed >> key_bits, packed & ((1 << key_bits) - 1)
        starts = np.flatnonzero(_firsts(pair_codes))
        words, word_keys = _words(keys)
        return cls(
            codes=pair_codes[starts],
            starts=np.append(starts, len(pair_codes)),
            keys=key_positions,
            pairs_per_key=np.bincount(key_positions, minlength=len(keys)),
            lengths=lengths,
            always=np.flatnonzero(lengths == 1),
            char_bits=char_bits,
            words=words,
            word_keys=word_keys,
        )

    def candidates(self, key: str) -> np.ndarray | None:
        """Positions of the keys worth scoring against ``key``, ascending; None: score them all."""
        compact = key.replace(" ", "")
        if len(compact) < 2:
            return None
        wanted = _sorted_unique(_one_key_pairs(_code_points(compact, self.char_bits), self.char_bits))
        at = np.searchsorted(self.codes, wanted)
        inside = at < len(self.codes)
        at = at[inside][self.codes[at[inside]] == wanted[inside]]  # the query's pairs some key holds
        postings = [self.keys[self.starts[i] : self.starts[i + 1]] for i in at.tolist()]
        shared = np.bincount(
            np.concatenate(postings) if postings else np.zeros(0, np.int64),
            minlength=len(self.pairs_per_key),
        )
        # The threshold only where a pair is shared (at least one is needed), not over every key:
        # four passes and as many temporaries of the index's size in each search.
        touched = np.flatnonzero(shared)
        needed = np.maximum(
            np.ceil(np.minimum(self.pairs_per_key[touched], len(wanted)) * SHARED_FRACTION), 1
        )
        spans = [self.words[word] for word in set(key.split()) if word in self.words]
        same_word = [self.word_keys[start:stop] for start, stop in spans]
        sharing: np.ndarray = touched[shared[touched] >= needed]  # ascending, as flatnonzero gives them
        if not same_word and not len(self.always):
            return sharing
        return _sorted_unique(np.concatenate([sharing, self.always, *same_word]))


@dataclass(frozen=True)
class _KeyPairs:
    """One key's pairs (as two-character strings), words, length without spaces, and the pairs a
    query must share with it were the query's pairs no fewer (``_needed``)."""

    pairs: frozenset[str]
    words: frozenset[str]
    length: int
    needed: int

    @classmethod
    def of(cls, key: str) -> _KeyPairs:
        compact = key.replace(" ", "")
        pairs = _text_pairs(compact)
        return cls(pairs, frozenset(key.split()), len(compact), _needed(len(pairs)))


@dataclass(frozen=True)
class FewKeys:
    """The same rule as ``PairIndex``, key by key in plain Python, for the few keys changed last.

    The name index re-indexes its newest segment (a few dozen keys) at every change of a name, where
    ``PairIndex.of``'s two dozen numpy calls cost 100-300 µs whatever the number of keys. Here a key's
    pairs are worked out once, when it first arrives, and taken over by the next version of the
    segment (``known``) or extended, so a change costs the new key alone; testing a few dozen keys
    against a query costs about what the numpy calls that look them up cost. Pairs are never folded (a
    ``PairIndex`` of fewer than two million keys does not fold them either), so both keep the same keys.
    """

    held: tuple[_KeyPairs, ...]
    positions: dict[str, int]  # each key's position

    @classmethod
    def of(cls, keys: list[str], known: FewKeys | None = None) -> FewKeys:
        """Index ``keys`` (distinct, by position), taking what ``known`` worked out for keys it holds."""
        held = tuple(known._pairs_of(key) if known else _KeyPairs.of(key) for key in keys)
        return cls(held, {key: position for position, key in enumerate(keys)})

    def extended(self, keys: list[str]) -> FewKeys:
        """This index with ``keys`` (new to it) added after the keys it holds."""
        positions = {**self.positions, **{key: len(self.held) + n for n, key in enumerate(keys)}}
        return FewKeys(self.held + tuple(map(_KeyPairs.of, keys)), positions)

    @property
    def lengths(self) -> np.ndarray:
        """Characters of each key, spaces left out: made when asked (only scoring a candidate does)."""
        return np.fromiter((one.length for one in self.held), dtype=np.int64, count=len(self.held))

    def _pairs_of(self, key: str) -> _KeyPairs:
        position = self.positions.get(key)
        return _KeyPairs.of(key) if position is None else self.held[position]

    def candidates(self, key: str, start: int = 0) -> np.ndarray | None:
        """Positions of the keys from ``start`` on worth scoring against ``key``, ascending; None:
        score them all."""
        compact = key.replace(" ", "")
        if len(compact) < 2:
            return None
        wanted, words = _text_pairs(compact), frozenset(key.split())
        query_needed = _needed(len(wanted))
        kept = [
            position
            for position, one in enumerate(self.held[start:], start)
            if one.length == 1
            or len(one.pairs & wanted) >= min(one.needed, query_needed)
            or not one.words.isdisjoint(words)
        ]
        return np.array(kept, dtype=np.int64)


def _text_pairs(compact: str) -> frozenset[str]:
    return frozenset(pair for gap in _GAPS for pair in map(str.__add__, compact[:-gap], compact[gap:]))


def _needed(pairs: int) -> int:
    """Pairs to share with a key of ``pairs`` pairs, or fewer if the other holds fewer: the rule's
    ``max(ceil(min(a, b) / 3), 1)`` is the smaller of ``_needed(a)`` and ``_needed(b)``."""
    return max(math.ceil(pairs * SHARED_FRACTION), 1)


def _words(keys: list[str]) -> tuple[dict[str, tuple[int, int]], np.ndarray]:
    """``words`` and ``word_keys``: one array, not a list per word, which each search turned into an
    array again (the keys holding a common first name: tens of thousands at 1M names)."""
    holders: dict[str, list[int]] = {}
    for position, key in enumerate(keys):
        for word in set(key.split()):
            holders.setdefault(word, []).append(position)
    spans: dict[str, tuple[int, int]] = {}
    flat: list[int] = []
    at = 0
    for word, positions in holders.items():
        spans[word] = (at, at + len(positions))
        flat.extend(positions)
        at += len(positions)
    return spans, np.array(flat, dtype=np.int64)


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    # Sorting, not np.unique: numpy 2's default hash-based unique is ten times slower on these sizes.
    ordered = np.sort(values)
    distinct: np.ndarray = ordered[_firsts(ordered)]
    return distinct


def _firsts(ordered: np.ndarray) -> np.ndarray:
    """Where each run of equal values starts: one comparison into a mask. ``np.diff(prepend=...)``
    copies the array first, which was half of ``_sorted_unique``'s time on a small segment."""
    first = np.empty(len(ordered), dtype=bool)
    first[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    return first


def _code_points(text: str, char_bits: int) -> np.ndarray:
    points = np.frombuffer(text.encode("utf-32-le"), dtype="<u4").astype(np.int64)
    return points & ((1 << char_bits) - 1)


def _one_key_pairs(points: np.ndarray, char_bits: int) -> np.ndarray:
    """``_pairs`` of a query: one key's points, so no pair crosses into another and none is masked."""
    return np.concatenate([(points[:-gap] << char_bits) | points[gap:] for gap in _GAPS])


def _pairs(points: np.ndarray, owner: np.ndarray, char_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Codes of the pairs at each gap that lie within one key, and the key each belongs to."""
    codes, owners = [], []
    for gap in _GAPS:
        inside = owner[gap:] == owner[:-gap]
        codes.append((points[:-gap][inside] << char_bits) | points[gap:][inside])
        owners.append(owner[gap:][inside])
    return np.concatenate(codes), np.concatenate(owners)
