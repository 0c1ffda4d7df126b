"""Aligning per-customer results on another set of customers, without pandas' hash tables.

``reindex`` looks each id up in a hash table that pandas builds for the source's index and then
keeps on that index for as long as it lives: 32 MB per million customers. The per-customer
summaries are cached on the histories and reindexed many times in a morning's scoring, so at a
million customers those tables were a quarter of a GiB of the job's peak. Every per-customer
result here is indexed by customer ids in increasing order (they come from sorted histories), so a
binary search finds the same rows and keeps nothing. Anything else is left to ``reindex``.
"""

from __future__ import annotations

from typing import Any, TypeVar

import numpy as np
import pandas as pd

Part = TypeVar("Part", pd.Series, pd.DataFrame)
Positions = np.ndarray[Any, np.dtype[np.intp]]

_NO_FILL: Any = object()
# Positions are looked up in a table of the id range (4 bytes an id) when that range is at most
# this many times the ids looked at: ids a store hands out are dense, ids of other origins may not be.
_TABLE_PER_ID = 4


def aligned(part: Part, index: pd.Index, fill_value: Any = _NO_FILL) -> Part:
    """``part.reindex(index)`` (``fill_value`` as there): the same values, dtypes and index."""
    if part.index.equals(index):  # nothing moves: share the values (pandas copies on write)
        return part.set_axis(index)
    indexer = _positions(part.index, index)
    if indexer is None:
        return part.reindex(index) if fill_value is _NO_FILL else part.reindex(index, fill_value=fill_value)
    fill = {} if fill_value is _NO_FILL else {"fill_value": fill_value}
    if isinstance(part, pd.Series):
        return pd.Series(_take(part, indexer, fill), index=index, name=part.name, copy=False)
    columns = {column: _take(part[column], indexer, fill) for column in part.columns}
    return pd.DataFrame(columns, index=index, columns=part.columns, copy=False)


def _positions(source: pd.Index, target: pd.Index) -> Positions | None:
    """Where each target id is in ``source`` (-1 where it is not), or None where ``source`` is not
    integer ids in strictly increasing order (then ``reindex`` is what is wanted)."""
    if not (pd.api.types.is_integer_dtype(source.dtype) and pd.api.types.is_integer_dtype(target.dtype)):
        return None
    ids = source.to_numpy()
    if len(ids) > 1 and not bool(np.all(ids[1:] > ids[:-1])):
        return None
    wanted = target.to_numpy()
    if not len(ids):
        return np.full(len(wanted), -1, dtype=np.intp)
    low, high = int(ids[0]), int(ids[-1])
    if high - low < _TABLE_PER_ID * (len(ids) + len(wanted)):
        return _looked_up(ids, wanted, low, high)
    positions = np.minimum(np.searchsorted(ids, wanted), len(ids) - 1).astype(np.intp)
    positions[ids[positions] != wanted] = -1
    return positions


def _looked_up(ids: np.ndarray, wanted: np.ndarray, low: int, high: int) -> Positions:
    """``_positions`` through a table of each id's position from ``low`` to ``high``.

    Database ids are dense, and binary searches were most of ``aligned``'s time: the 45 alignments
    of a morning at 1M customers took 1.1 s by ``searchsorted``, 0.3 s by a table. Ids outside the
    range are missing (-1) without a look.
    """
    # Positions in 32 bits where they fit: the table is made at the job's memory peak.
    table = np.full(high - low + 1, -1, dtype=np.int32 if len(ids) < 2**31 else np.intp)
    table[ids - low] = np.arange(len(ids), dtype=table.dtype)
    inside = (wanted >= low) & (wanted <= high)
    positions = np.full(len(wanted), -1, dtype=np.intp)
    positions[inside] = table[wanted[inside] - low]
    return positions


def _take(values: pd.Series, indexer: Positions, fill: dict[str, Any]) -> Any:
    """The values at ``indexer``, missing (or ``fill``) at -1, promoted as ``reindex`` promotes them."""
    array = values.to_numpy() if isinstance(values.dtype, np.dtype) else values.array
    return pd.api.extensions.take(array, indexer, allow_fill=True, **fill)
