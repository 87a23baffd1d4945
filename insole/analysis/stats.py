"""Resampling statistics shared by the analyses."""

from __future__ import annotations

import numpy as np

__all__ = ["block_bootstrap_sums", "percentile_ci", "blocks_of", "block_percentile"]


def block_bootstrap_sums(values: np.ndarray, *, block_len: int, n_boot: int,
                         rng: np.random.Generator) -> np.ndarray:
    """Circular moving-block bootstrap of column sums of a time series.

    Samples in a time series are correlated, so resampling them one by one
    understates the uncertainty; blocks of ``block_len`` consecutive samples
    keep the correlation within a block (Kunsch 1989; circular blocks,
    Politis & Romano 1992).

    Parameters
    ----------
    values : numpy.ndarray
        ``(n, k)`` series (NaN-free).
    block_len : int
        Samples per block (longer than the correlation time).
    n_boot : int
        Replicates.
    rng : numpy.random.Generator

    Returns
    -------
    numpy.ndarray
        ``(n_boot, k)`` sums of each replicate series (same length n).
    """
    x = np.asarray(values, dtype=np.float64)
    n = x.shape[0]
    block_len = int(min(max(block_len, 1), n))
    n_blocks = -(-n // block_len)
    # prefix sums over the series wrapped once, so a circular block is one difference
    wrapped = np.concatenate([x, x[:block_len]], axis=0)
    prefix = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(wrapped, axis=0)], axis=0)
    starts = rng.integers(0, n, size=(n_boot, n_blocks))
    block_sums = prefix[block_len:block_len + n] - prefix[:n]  # the sum of the block starting at each sample
    sums = np.empty((n_boot, x.shape[1]))
    # a replicate's sum is (how often each start was drawn) @ block sums: no (n_boot, n_blocks, k) gather,
    # in chunks of replicates so the count matrix stays small
    chunk = max(1, 4_000_000 // max(n, 1))
    for lo in range(0, n_boot, chunk):
        st = starts[lo:lo + chunk]
        flat = (st + n * np.arange(st.shape[0])[:, None]).ravel()
        counts = np.bincount(flat, minlength=st.shape[0] * n).reshape(st.shape[0], n)
        sums[lo:lo + chunk] = counts @ block_sums
    # the last block is trimmed so every replicate has n samples: remove its overhang
    extra = n_blocks * block_len - n
    if extra:
        last = starts[:, -1]
        sums -= prefix[last + block_len] - prefix[last + block_len - extra]
    return sums


def percentile_ci(replicates: np.ndarray, *, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of bootstrap replicates (NaNs ignored)."""
    r = np.asarray(replicates, dtype=np.float64)
    r = r[np.isfinite(r)]
    if r.size == 0:
        return float("nan"), float("nan")
    a = (1.0 - level) / 2.0
    lo, hi = np.quantile(r, [a, 1.0 - a])
    return float(lo), float(hi)


def blocks_of(values: np.ndarray, block_len: int) -> np.ndarray:
    """Consecutive blocks of a series: ``(n_blocks, block_len, ...)``, the last
    one padded with NaN.

    Parameters
    ----------
    values : numpy.ndarray
        ``(n, ...)`` samples (NaN: missing).
    block_len : int
        Samples per block.
    """
    x = np.asarray(values, dtype=np.float64)
    n_blocks = -(-x.shape[0] // block_len)
    padded = np.full((n_blocks * block_len, *x.shape[1:]), np.nan)
    padded[:x.shape[0]] = x
    return padded.reshape(n_blocks, block_len, *x.shape[1:])


def block_percentile(ordered: np.ndarray, count: np.ndarray, q_pct: float, *, nearest: bool = False) -> np.ndarray:
    """The ``q_pct`` percentile of each block's finite values, vectorised.

    Parameters
    ----------
    ordered : numpy.ndarray
        Blocks sorted along axis 1 (``np.sort``: NaN last), ``(n_blocks, m, ...)``.
    count : numpy.ndarray
        Finite values per block, ``(n_blocks, ...)``.
    q_pct : float
        Percentile, %.
    nearest : bool
        The value at the nearest rank; else linear between ranks, as
        ``numpy.nanpercentile``.

    Returns
    -------
    numpy.ndarray
        ``(n_blocks, ...)``; NaN for a block without a finite value.
    """
    m = ordered.shape[1]
    pos = q_pct / 100.0 * (count - 1)
    if nearest:
        idx = np.clip(np.round(pos).astype(np.int64), 0, m - 1)
        return np.take_along_axis(ordered, idx[:, None], axis=1)[:, 0]
    lo = np.clip(np.floor(pos).astype(np.int64), 0, m - 1)
    hi = np.clip(np.ceil(pos).astype(np.int64), 0, m - 1)
    a = np.take_along_axis(ordered, lo[:, None], axis=1)[:, 0]
    b = np.take_along_axis(ordered, hi[:, None], axis=1)[:, 0]
    return np.where(count > 0, a + (pos - lo) * (b - a), np.nan)

