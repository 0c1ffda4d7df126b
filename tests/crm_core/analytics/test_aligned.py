"""``aligned`` must give exactly what ``reindex`` gives: the scores are compared bit for bit."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

from crm_core.analytics.aligned import aligned

SOURCE = pd.Index([1, 3, 5, 7], name="customer_id")
# Missing ids before, between and after the source's, and found ones out of order.
TARGET = pd.Index([0, 7, 1, 2, 3, 9], name="customer_id")


def _parts() -> dict[str, pd.Series]:
    return {
        "int": pd.Series([1, 2, 3, 4], index=SOURCE, name="count"),
        "float": pd.Series([0.5, np.nan, 2.5, 3.5], index=SOURCE),
        "bool": pd.Series([True, False, True, True], index=SOURCE),
        "category": pd.Series(pd.Categorical(["ok", "at_risk", "ok", "churned"]), index=SOURCE),
        "datetime": pd.Series(
            pd.to_datetime(["2020-01-01", "1969-12-31", "2026-12-06", "2001-02-03"]), index=SOURCE
        ),
    }


def _same(got: Any, expected: Any) -> None:
    if isinstance(expected, pd.DataFrame):
        pd.testing.assert_frame_equal(got, expected, check_exact=True)
    else:
        pd.testing.assert_series_equal(got, expected, check_exact=True)


@pytest.mark.parametrize("kind", list(_parts()))
def test_a_series_is_aligned_as_reindex_aligns_it(kind: str) -> None:
    part = _parts()[kind]
    _same(aligned(part, TARGET), part.reindex(TARGET))


@pytest.mark.parametrize("fill_value", [0, 0.0, False])
def test_a_fill_value_fills_as_reindex_fills(fill_value: object) -> None:
    for kind in ("int", "float", "bool"):
        part = _parts()[kind]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pandas warns of some promotions; both sides do the same
            expected = part.reindex(TARGET, fill_value=fill_value)
            _same(aligned(part, TARGET, fill_value=fill_value), expected)


def test_a_frame_keeps_its_columns_and_their_dtypes() -> None:
    frame = pd.DataFrame(_parts())
    _same(aligned(frame, TARGET), frame.reindex(TARGET))


def test_an_unsorted_or_empty_source_is_still_aligned() -> None:
    unsorted = pd.Series([10, 20, 30], index=pd.Index([5, 1, 3], name="customer_id"))
    _same(aligned(unsorted, TARGET), unsorted.reindex(TARGET))
    empty = pd.Series([], dtype="float64", index=pd.Index([], dtype="int64", name="customer_id"))
    _same(aligned(empty, TARGET), empty.reindex(TARGET))


@pytest.mark.parametrize("spread", [1, 10**12])  # dense ids (looked up in a table) and sparse ones
def test_ids_inside_and_outside_the_range_are_aligned_as_reindex_aligns_them(spread: int) -> None:
    rng = np.random.default_rng(spread % 997)
    ids = np.unique(rng.integers(-50, 500, size=300)) * spread
    part = pd.Series(rng.random(len(ids)), index=pd.Index(ids, name="customer_id"))
    wanted = pd.Index(rng.permutation(np.arange(-80, 600) * spread), name="customer_id")
    _same(aligned(part, wanted), part.reindex(wanted))
    inside = pd.Index(np.sort(rng.choice(ids, size=100, replace=False)), name="customer_id")
    _same(aligned(part, inside), part.reindex(inside))


def test_no_hash_table_is_left_on_the_source_index() -> None:
    """What the module is for: pandas keeps a table per reindexed index, 32 MB per million ids."""
    part = pd.Series(np.arange(1000.0), index=pd.Index(np.arange(0, 2000, 2), name="customer_id"))
    aligned(part, pd.Index(np.arange(1000), name="customer_id"))
    assert not part.index._engine.is_mapping_populated
    part.reindex(pd.Index(np.arange(1000), name="customer_id"))
    assert part.index._engine.is_mapping_populated
