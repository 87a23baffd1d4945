"""Put one foot's samples onto the recording's uniform time grid.

Each foot's samples have their own drift-corrected times. The samples frame
has one index for both feet, a uniform grid at the nominal rate, so each
foot is linearly interpolated onto it between two CONSECUTIVE samples only:
where a sample is missing, the grid points around it are NaN (a gap is
never bridged). The shift this introduces is at most one sample period, and
the interpolation keeps left and right aligned to well under a millisecond
instead of the half-period of nearest-sample assignment.
"""

from __future__ import annotations

import numpy as np

__all__ = ["grid_positions", "interpolate_onto"]


def grid_positions(t_s: np.ndarray, index: np.ndarray, grid_s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where each grid time falls between this foot's samples.

    Parameters
    ----------
    t_s : numpy.ndarray
        Sample times, seconds, strictly increasing.
    index : numpy.ndarray
        The samples' unwrapped device indices (consecutive = no sample lost).
    grid_s : numpy.ndarray
        Grid times, seconds, increasing.

    Returns
    -------
    k : numpy.ndarray
        int64, the sample at or before each grid time (clipped into range).
    w : numpy.ndarray
        float32 weight of sample ``k + 1`` (0 .. 1).
    ok : numpy.ndarray
        bool, False where the grid time is outside the samples or its two
        neighbours are not consecutive samples.
    """
    n = t_s.size
    if n == 0:
        z = np.zeros(grid_s.size, dtype=np.int64)
        return z, z.astype(np.float32), np.zeros(grid_s.size, dtype=bool)
    k = np.searchsorted(t_s, grid_s, side="right") - 1
    inside = (k >= 0) & (k < n)
    exact = inside & (t_s[np.clip(k, 0, n - 1)] == grid_s)
    kc = np.clip(k, 0, max(n - 2, 0))
    if n >= 2:
        dt = t_s[kc + 1] - t_s[kc]
        w = ((grid_s - t_s[kc]) / dt).astype(np.float32)
        consecutive = (index[kc + 1] - index[kc]) == 1
        ok = (k >= 0) & (k <= n - 2) & consecutive
    else:
        w = np.zeros(grid_s.size, dtype=np.float32)
        ok = np.zeros(grid_s.size, dtype=bool)
    # a grid point exactly on the last sample (or on a sample before a gap)
    on_sample = exact & ~ok
    w = np.where(on_sample, np.float32(0.0), w)
    kc = np.where(on_sample, np.clip(k, 0, n - 1), kc)
    return kc.astype(np.int64), w, ok | on_sample


def interpolate_onto(values: np.ndarray, k: np.ndarray, w: np.ndarray, ok: np.ndarray, *,
                     out: np.ndarray, scale: float = 1.0, chunk: int = 131072) -> None:
    """Linear interpolation of ``values`` (samples x channels) into ``out``.

    Writes ``out[j] = scale * ((1 - w) * values[k] + w * values[k + 1])`` for
    grid points where ``ok``, NaN elsewhere; in chunks to bound temporaries.

    Parameters
    ----------
    values : numpy.ndarray
        ``(n_samples, n_channels)``, any numeric dtype.
    out : numpy.ndarray
        ``(n_grid, n_channels)`` float array (may be a column slice of a
        larger block).
    scale : float
        Multiplied in (e.g. kPa per pressure code).
    """
    n = values.shape[0]
    last = max(n - 1, 0)
    for lo in range(0, k.size, chunk):
        hi = min(lo + chunk, k.size)
        kk = k[lo:hi]
        ww = w[lo:hi, None]
        a = values[kk].astype(np.float32)
        b = values[np.minimum(kk + 1, last)].astype(np.float32)
        b -= a
        b *= ww
        a += b
        if scale != 1.0:
            a *= np.float32(scale)
        a[~ok[lo:hi]] = np.nan
        out[lo:hi] = a
