"""Summaries that survive a noisy machine: medians, quartiles, and paired ratios.

Every case is measured several times, interleaved with the others, so one slow
moment (another process compiling, a test suite starting) lands on one sample of
every case instead of on every sample of one case. A ratio is taken inside each
repetition first and summarised afterwards: the two numbers of a pair saw the
same machine conditions, so their ratio is steadier than either number.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def summarise(samples: Sequence[float]) -> dict[str, float]:
    """Median, quartiles and range of ``samples`` (one sample gives a zero spread)."""
    if not samples:
        raise ValueError("no samples to summarise")
    ordered = sorted(samples)
    if len(ordered) >= 2:
        q1, _, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
    else:
        q1 = q3 = ordered[0]
    return {
        "median": statistics.median(ordered),
        "q1": q1,
        "q3": q3,
        "min": ordered[0],
        "max": ordered[-1],
    }


def paired_ratios(numerators: Sequence[float], denominators: Sequence[float]) -> list[float]:
    """Ratio of each repetition's pair; both lists are in repetition order."""
    if len(numerators) != len(denominators):
        raise ValueError("paired samples must have the same length")
    return [n / d for n, d in zip(numerators, denominators, strict=True)]


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted sequence (p99 of 100 values is the 99th)."""
    if not ordered:
        raise ValueError("no values")
    rank = min(len(ordered), max(1, math.ceil(fraction * len(ordered))))
    return ordered[rank - 1]
