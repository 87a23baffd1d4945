"""The explicit low-pass step (docs/science.md: 4th-order zero-lag Butterworth,
10 Hz, after resampling to a uniform grid).

Filtering is its own step, never hidden inside a metric, so that metrics can
be checked against published tables on the signal as given.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import InsoleError
from .masks import true_runs

__all__ = ["lowpass", "lowpass_frame", "DEFAULT_CUTOFF_HZ", "DEFAULT_ORDER"]

DEFAULT_CUTOFF_HZ = 10.0
DEFAULT_ORDER = 4


def lowpass(x: np.ndarray, *, sampling_rate_hz: float, cutoff_hz: float = DEFAULT_CUTOFF_HZ,
            order: int = DEFAULT_ORDER) -> np.ndarray:
    """Zero-lag Butterworth low-pass of each column, segment by segment.

    The filter runs forward and backward (``scipy.signal.sosfiltfilt``), so
    the effective order is twice ``order`` and there is no phase lag. NaN
    stretches (gaps) split the signal: each finite segment is filtered on its
    own and gaps stay NaN; a segment too short to filter (under three times
    the filter's padding) is left as it is.

    Parameters
    ----------
    x : numpy.ndarray
        ``(n,)`` or ``(n, k)`` samples on a uniform grid.
    sampling_rate_hz : float
    cutoff_hz : float
        -3 dB frequency of each pass, Hz.
    order : int
        Butterworth order of each pass.

    Returns
    -------
    numpy.ndarray
        Same shape, float64.
    """
    from scipy.signal import butter, sosfiltfilt

    if not 0 < cutoff_hz < sampling_rate_hz / 2:
        raise InsoleError(f"low-pass cut-off must lie between 0 and {sampling_rate_hz / 2:g} Hz "
                          f"(half the sampling rate); got {cutoff_hz:g} Hz")
    sos = butter(order, cutoff_hz, btype="low", fs=sampling_rate_hz, output="sos")
    pad = 3 * (2 * len(sos) + 1)
    arr = np.asarray(x, dtype=np.float64)
    out = arr.copy()
    two_d = out.reshape(out.shape[0], -1)
    for j in range(two_d.shape[1]):  # columns may have their own gaps
        finite = np.isfinite(two_d[:, j])
        # each run of finite samples: one iteration per gap
        for lo, hi in zip(*true_runs(finite)):
            if hi - lo > pad:
                two_d[lo:hi, j] = sosfiltfilt(sos, two_d[lo:hi, j])
    return out


def lowpass_frame(frame: pd.DataFrame, *, sampling_rate_hz: float, cutoff_hz: float = DEFAULT_CUTOFF_HZ,
                  order: int = DEFAULT_ORDER) -> pd.DataFrame:
    """:func:`lowpass` applied to every column of a frame (new frame)."""
    values = lowpass(frame.to_numpy(dtype=np.float64), sampling_rate_hz=sampling_rate_hz, cutoff_hz=cutoff_hz,
                     order=order)
    return pd.DataFrame(values, index=frame.index, columns=frame.columns)
