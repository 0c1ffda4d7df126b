"""The few statistics the benchmark reports: percentiles of one run, medians over runs."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

import numpy as np


def percentile(samples: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100), interpolated between the two nearest samples."""
    return float(np.percentile(np.asarray(samples, dtype=float), q))


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))
