"""Put one foot's samples onto the recording's uniform time grid.

Each foot's samples have their own drift-corrected times. The samples frame
has one index for both feet, a uniform grid at the nominal rate, so each
foot is linearly interpolated onto it between two CONSECUTIVE samples only:
where a sample is missing, the grid points around it are NaN (a gap is
never bridged). Interpolation keeps left and right aligned to a fraction of
a millisecond, where nearest-sample assignment would be off by up to half a
sample period (2.5 ms at 200 Hz).

Timing is held per packet (a packet's samples are consecutive), so mapping
the grid costs a search over packets, not a sort of every sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["PacketTimes", "grid_rows", "interpolate_rows"]

_EXACT = 1e-6  # fraction of a period within which a grid point sits on a sample


@dataclass(frozen=True)
class PacketTimes:
    """Sorted, de-duplicated packets of one foot on the host clock.

    Attributes
    ----------
    t_first_s : numpy.ndarray
        Time of each packet's first sample, seconds, increasing.
    period_s : numpy.ndarray
        Sample period of each packet's clock fit, seconds.
    key : numpy.ndarray
        int64 sample index of the first sample (epochs 2**40 apart, so
        samples of different epochs are never consecutive).
    count : numpy.ndarray
        int64 samples in each packet.
    row_start : numpy.ndarray
        int64 row of each packet's first sample in the foot's code array.
    """

    t_first_s: np.ndarray
    period_s: np.ndarray
    key: np.ndarray
    count: np.ndarray
    row_start: np.ndarray

    @property
    def t_last_s(self) -> np.ndarray:
        """Time of each packet's last sample, seconds."""
        return self.t_first_s + (self.count - 1) * self.period_s


def grid_rows(times: PacketTimes, grid_s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For each grid time, the two samples around it and the weight.

    Returns
    -------
    row_a, row_b : numpy.ndarray
        int64 rows of the samples before and after (equal when the grid time
        sits on a sample).
    w : numpy.ndarray
        float32 weight of ``row_b`` (0 .. 1).
    ok : numpy.ndarray
        bool; False outside the samples and inside gaps.
    """
    n = times.t_first_s.size
    if n == 0:
        z = np.zeros(grid_s.size, dtype=np.int64)
        return z, z, z.astype(np.float32), np.zeros(grid_s.size, dtype=bool)
    p = np.searchsorted(times.t_first_s, grid_s, side="right") - 1
    started = p >= 0
    p = np.clip(p, 0, n - 1)
    pos = (grid_s - times.t_first_s[p]) / times.period_s[p]
    k = np.floor(pos + _EXACT).astype(np.int64)
    w = np.clip(pos - k, 0.0, 1.0)
    cnt = times.count[p]
    nxt = np.minimum(p + 1, n - 1)
    next_follows = (p + 1 < n) & (times.key[nxt] == times.key[p] + cnt)
    within = started & (k >= 0) & (k <= cnt - 2)
    at_last = started & (k == cnt - 1)
    exact = w < _EXACT
    row_a = times.row_start[p] + np.maximum(k, 0)
    row_b = np.where(within, row_a + 1, np.where(at_last & next_follows, times.row_start[nxt], row_a))
    ok = within | (at_last & (next_follows | exact))
    w = np.where(ok & (within | next_follows), w, 0.0).astype(np.float32)
    # rows of grid points outside the samples point anywhere valid; they are masked
    return np.where(ok, row_a, 0), np.where(ok, row_b, 0), w, ok


def interpolate_rows(values: np.ndarray, row_a: np.ndarray, row_b: np.ndarray, w: np.ndarray, ok: np.ndarray,
                     *, scale: float = 1.0) -> np.ndarray:
    """``scale * ((1 - w) * values[row_a] + w * values[row_b])``, NaN where not ok.

    Returns
    -------
    numpy.ndarray
        ``(len(row_a), n_channels)`` float32.
    """
    a = values[row_a].astype(np.float32)
    b = values[row_b].astype(np.float32)
    b -= a
    b *= w[:, None]
    a += b
    if scale != 1.0:
        a *= np.float32(scale)
    a[~ok] = np.nan
    return a
