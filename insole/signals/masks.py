"""Runs of True in a boolean mask: the one place the idiom lives."""

from __future__ import annotations

import numpy as np

__all__ = ["true_runs"]


def true_runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) of each run of True, vectorised.

    Parameters
    ----------
    mask : numpy.ndarray
        1-D boolean array (any array whose truth value is the mask).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        int64 indices: run ``i`` covers ``mask[starts[i]:ends[i]]``.
    """
    m = np.asarray(mask, dtype=bool).astype(np.int8)
    d = np.diff(np.concatenate([[0], m, [0]]))
    return np.flatnonzero(d == 1), np.flatnonzero(d == -1)
