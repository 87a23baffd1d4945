"""A pandas DataFrame as a :class:`~insole.model.Recording` (the Python front
door: ``insole.Recording.from_frame`` and ``insole.analyze(df, ...)``).

Two layouts are accepted:

- Flat columns, named like the generic per-foot CSV (case and surrounding
  whitespace ignored): ``left_force_n`` and ``right_force_n`` (N, positive
  under load) are required; ``left_cop_x_mm``, ``left_cop_y_mm``,
  ``right_cop_x_mm``, ``right_cop_y_mm`` are optional and, as in the generic
  CSV, in the GROUND frame (x to the subject's right, y forward, origin
  midway between the heels): the recording carries
  ``meta.extra["cop_frame"] == "ground"``, which the analysis reads exactly
  as it reads an imported CSV. Per-sensor pressures ``left_p01`` ..
  ``left_p16`` (kPa, insole's reference sensor layout) are kept when all 16
  of a foot are given. Other columns are ignored.
- ``(side, channel)`` MultiIndex columns, as insole's own samples frame:
  channels ``force_n``, ``cop_x_mm``, ``cop_y_mm`` (FOOT frame: x lateral,
  y from the heel toward the toes), ``p01`` .. ``p16``.

Time: a ``time_s`` column (seconds), else the index: float seconds, a
``TimedeltaIndex``, or the default ``RangeIndex`` (sample numbers: time
``k / sampling_rate_hz``). Times must increase and step at
``sampling_rate_hz`` (median step within 1 %); times on that grid (every
step within 1 % of a whole number of periods) are placed on it as they are,
missing rows becoming NaN rows; jittered times are linearly interpolated onto
the grid between neighbours less than 1.5 periods apart, exactly as the
generic CSV importer does (a gap is never bridged).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from ..constants import COP_X, COP_Y, FORCE, SENSOR_CHANNELS, SIDES, TIME_INDEX
from ..errors import InsoleError, RecordingError
from ..model import Phase, Recording, RecordingMeta, check_body_mass_kg
from .common import GRID_FACTOR, GRID_SLACK, MAX_ABS_VALUE, import_quality, side_quality
from .generic_csv import _GAP_PERIODS, _MAX_RATE_HZ, _MIN_RATE_HZ, _NEGATIVE_FORCE_N, _UNIFORM_TOL, _on_grid, \
    _Timebase

log = logging.getLogger(__name__)

__all__ = ["SOURCE", "PROTOCOLS", "recording_from_frame"]

#: ``meta.source`` of a recording built from a DataFrame
SOURCE = "frame"
#: protocols accepted (``auto``: told from the forces at analysis, ``meta.protocol`` "unknown")
PROTOCOLS = ("standing", "run", "walk", "auto")
#: the samples frame's channels, in its order
CHANNELS = SENSOR_CHANNELS + (FORCE, COP_X, COP_Y)
_WHAT = "the DataFrame"


def recording_from_frame(df: Any, *, sampling_rate_hz: float, protocol: str, body_mass_kg: float | None = None,
                         phases: Iterable[Any] = (), subject: str = "") -> Recording:
    """Build a recording from a DataFrame (see the module docstring for the
    columns, time base and COP frames).

    Parameters
    ----------
    df : pandas.DataFrame
        Flat columns (``left_force_n``, ...) or ``(side, channel)`` columns.
    sampling_rate_hz : float
        Sampling rate of the data, Hz (1 Hz to 1 MHz).
    protocol : str
        ``standing``, ``run``, ``walk`` or ``auto``.
    body_mass_kg : float, optional
        Subject's body mass, kg.
    phases : iterable
        ``(name, start_s, end_s)`` tuples or :class:`~insole.model.Phase`,
        seconds on the DataFrame's time base. A standing recording without
        phases is analysed as one phase ``all``.
    subject : str
        Subject identifier.

    Returns
    -------
    Recording
        ``meta.source == "frame"``, ``path == ""``.

    Raises
    ------
    RecordingError
        For anything wrong with the input, in words that say what to pass.
    """
    if not isinstance(df, pd.DataFrame):
        raise RecordingError(f"from_frame needs a pandas DataFrame; got {type(df).__name__}")
    rate = _rate(sampling_rate_hz)
    proto = _protocol(protocol)
    _mass(body_mass_kg)
    if not isinstance(subject, str):
        raise RecordingError(f"subject must be a string; got {type(subject).__name__}")
    columns, cop_frame = _columns(df)
    t = _times(df, rate)
    values = {key: _numeric(df, col, key) for key, col in columns.items()}
    _check_values(values)
    samples, resampled = _samples(t, values, rate)
    sides = list(SIDES)
    if not any((s, COP_X) in columns for s in sides):
        what = "sway and centre-of-pressure metrics are not available" if proto == "standing" else \
            "the centre of pressure is not available"
        log.warning("%s has no COP columns (e.g. left_cop_x_mm): %s; load shares and forces are", _WHAT, what)
    grid_s = samples.index.to_numpy()
    side_q = {s: side_quality(s, samples[(s, FORCE)].to_numpy(dtype=np.float64), grid_s, rate) for s in sides}
    quality = import_quality(side_q, fmt=SOURCE, rows=t.size, resampled=resampled)
    meta = RecordingMeta(source=SOURCE, protocol="unknown" if proto == "auto" else proto, sampling_rate_hz=rate,
                         subject=subject, body_mass_kg=None if body_mass_kg is None else float(body_mass_kg),
                         phases=_phases(phases), extra={"cop_frame": cop_frame})
    return Recording(samples=samples, meta=meta, quality=quality, path="")


# --- arguments -----------------------------------------------------------------

def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, (bool, np.bool_))


def _rate(sampling_rate_hz: Any) -> float:
    if not _is_number(sampling_rate_hz) or not math.isfinite(float(sampling_rate_hz)) or sampling_rate_hz <= 0:
        raise RecordingError(f"sampling_rate_hz must be a positive number of Hz; got {sampling_rate_hz!r}")
    rate = float(sampling_rate_hz)
    if not _MIN_RATE_HZ <= rate <= _MAX_RATE_HZ:
        raise RecordingError(f"sampling_rate_hz must be from {_MIN_RATE_HZ:g} Hz to {_MAX_RATE_HZ:g} Hz; got {rate:g}")
    return rate


def _protocol(protocol: Any) -> str:
    if protocol not in PROTOCOLS:
        raise RecordingError(f"protocol must be one of {', '.join(PROTOCOLS)}; got {protocol!r}")
    return str(protocol)


def _mass(body_mass_kg: Any) -> None:
    if body_mass_kg is not None and not _is_number(body_mass_kg):
        raise RecordingError(f"body_mass_kg must be a number of kg or None; got {body_mass_kg!r}")
    try:
        check_body_mass_kg(None if body_mass_kg is None else float(body_mass_kg))
    except InsoleError as exc:  # the model's words, as a RecordingError like every other input error here
        raise RecordingError(str(exc)) from None


def _phases(phases: Any) -> tuple[Phase, ...]:
    if isinstance(phases, (str, bytes, Phase)) or not isinstance(phases, Iterable):
        raise RecordingError("phases must be a list of Phase or (name, start_s, end_s) tuples; "
                             f"got {type(phases).__name__}")
    out = []
    for p in phases:
        if isinstance(p, Phase):
            name, start, end = p.name, p.start_s, p.end_s
        elif isinstance(p, (tuple, list)) and len(p) == 3:
            name, start, end = p
        else:
            raise RecordingError(f"a phase must be a Phase or a (name, start_s, end_s) tuple; got {p!r}")
        if not (isinstance(name, str) and name.strip()):
            raise RecordingError(f"a phase's name must be a non-empty string; got {name!r}")
        if not (_is_number(start) and _is_number(end) and math.isfinite(start) and math.isfinite(end)
                and start < end):
            raise RecordingError(f"phase {name!r}: start_s and end_s must be numbers of seconds with start_s < end_s; "
                                 f"got {start!r}, {end!r}")
        out.append(Phase(name.strip(), float(start), float(end)))
    return tuple(out)


# --- columns -------------------------------------------------------------------

def _norm(name: Any) -> str:
    return str(name).strip().lower()


def _columns(df: pd.DataFrame) -> tuple[dict[tuple[str, str], Any], str]:
    """``(side, channel) -> column label`` of the DataFrame, and the COP frame."""
    if isinstance(df.columns, pd.MultiIndex):
        if df.columns.nlevels != 2:
            raise RecordingError(f"{_WHAT}'s columns have {df.columns.nlevels} levels; use flat names "
                                 "(left_force_n, ...) or two levels (side, channel)")
        pairs = [((_norm(a), _norm(b)), (a, b)) for a, b in df.columns]
        frame, names = "foot", "('left', 'force_n') and ('right', 'force_n')"
    else:
        pairs = [(tuple(_norm(c).partition("_")[::2]), c) for c in df.columns]
        frame, names = "ground", "left_force_n and right_force_n"
    found: dict[tuple[str, str], Any] = {}
    for key, label in pairs:
        if key in found and key[0] in SIDES and key[1] in CHANNELS:
            raise RecordingError(f"{_WHAT} has the column {key[0]}_{key[1]} more than once (names are read "
                                 "regardless of case and spaces); name each once")
        found[key] = label
    missing = [s for s in SIDES if (s, FORCE) not in found]
    if missing:
        raise RecordingError(f"{_WHAT} needs {names} columns (forces in N); "
                             f"{' and '.join(missing)} force missing")
    out = {(s, ch): found[(s, ch)] for s in SIDES for ch in (FORCE, COP_X, COP_Y) if (s, ch) in found}
    for s in SIDES:
        if ((s, COP_X) in found) != ((s, COP_Y) in found):
            raise RecordingError(f"{_WHAT} has only one of {s}_cop_x_mm and {s}_cop_y_mm; give both or neither")
        sensors = [ch for ch in SENSOR_CHANNELS if (s, ch) in found]
        if len(sensors) == len(SENSOR_CHANNELS):
            out.update({(s, ch): found[(s, ch)] for ch in sensors})
        elif sensors:
            log.warning("%s has %d of the %s foot's 16 sensor columns p01..p16; per-sensor data need all 16 "
                        "(the reference layout) and are left out", _WHAT, len(sensors), s)
    return out, frame


def _numeric(df: pd.DataFrame, col: Any, key: tuple[str, str]) -> np.ndarray:
    """One column as float64 (NaN for missing values), or a clear error."""
    name = f"{key[0]}_{key[1]}"
    s = df[col]
    if isinstance(s, pd.DataFrame):
        raise RecordingError(f"{_WHAT} has the column {name} more than once")
    kind = s.dtype.kind if isinstance(s.dtype, np.dtype) else ""
    if kind in "iuf" and kind:
        return s.to_numpy(dtype=np.float64, na_value=np.nan)
    if kind != "O" and not pd.api.types.is_string_dtype(s.dtype) and not pd.api.types.is_numeric_dtype(s.dtype):
        raise RecordingError(f"{name} is of type {s.dtype}, not numbers")
    if pd.api.types.is_bool_dtype(s.dtype):
        raise RecordingError(f"{name} holds true/false values, not numbers")
    try:
        v = pd.to_numeric(s.astype(object), errors="coerce")
    except (TypeError, ValueError):
        v = pd.Series(np.nan, index=s.index)
    given = s.notna().to_numpy()
    bad = np.flatnonzero(given & v.isna().to_numpy())
    if v.dtype.kind not in "iuf":
        bad = np.flatnonzero(given) if not bad.size else bad
    if bad.size:
        shown = repr(s.iloc[bad[0]])
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        raise RecordingError(f"{name}: row {bad[0]} is {shown}, not a number; use numbers, and NaN for a missing "
                             "value")
    return v.to_numpy(dtype=np.float64, na_value=np.nan)


def _check_values(values: dict[tuple[str, str], np.ndarray]) -> None:
    for (side, ch), v in values.items():
        bad = np.flatnonzero(~(np.abs(v) <= MAX_ABS_VALUE) & ~np.isnan(v))
        if bad.size:
            raise RecordingError(f"{side}_{ch}: row {bad[0]} is {v[bad[0]]!r}, not a finite number of plausible "
                                 "size; use NaN for a missing value")
    for side in SIDES:
        f = values[(side, FORCE)]
        if np.isfinite(f).any() and float(np.nanmedian(f)) < _NEGATIVE_FORCE_N:
            raise RecordingError(f"{side}_{FORCE} is mostly negative (median {float(np.nanmedian(f)):.1f} N); the "
                                 "vertical force must be positive under load (force plates often report Fz "
                                 "downward: flip its sign)")


# --- time base -----------------------------------------------------------------

def _times(df: pd.DataFrame, rate: float) -> np.ndarray:
    """The rows' times, s: increasing, finite."""
    cols = [c for c in df.columns if _norm(c if not isinstance(c, tuple) else "_".join(map(str, c))) == TIME_INDEX]
    if len(cols) > 1:
        raise RecordingError(f"{_WHAT} has more than one time_s column")
    idx = df.index
    if cols:
        t = _numeric(df, cols[0], ("time", "s"))
    elif isinstance(idx, pd.TimedeltaIndex):
        t = idx.total_seconds().to_numpy(dtype=np.float64)
    elif isinstance(idx, pd.RangeIndex) and idx.start == 0 and idx.step == 1:
        t = np.arange(len(idx), dtype=np.float64) / rate  # sample numbers
    elif not isinstance(idx, pd.MultiIndex) and idx.dtype.kind in "iuf":
        t = idx.to_numpy(dtype=np.float64)
    else:
        raise RecordingError(f"{_WHAT} needs a time_s column or an index of times in seconds; its index is "
                             f"{type(idx).__name__} of {idx.dtype}")
    if t.size < 2:
        raise RecordingError(f"{_WHAT} has {t.size} row(s); it needs at least two samples")
    bad = np.flatnonzero(~np.isfinite(t))
    if bad.size:
        raise RecordingError(f"time_s: row {bad[0]} is {t[bad[0]]!r}; every row needs a finite time in seconds")
    d = np.diff(t)
    bad = np.flatnonzero(~(d > 0))
    if bad.size:
        i = bad[0]
        raise RecordingError(f"time_s must increase: row {i + 1} ({t[i + 1]!r} s) is not after row {i} "
                             f"({t[i]!r} s); sort the rows by time and drop duplicates")
    step_hz = 1.0 / float(np.median(d))
    if abs(step_hz / rate - 1.0) > _UNIFORM_TOL:
        raise RecordingError(f"time_s steps at {step_hz:.6g} Hz but sampling_rate_hz is {rate:g}: give the rate of "
                             "the data (resample it first to analyse at another rate), or check that time_s is in "
                             "seconds")
    return t


def _samples(t: np.ndarray, values: dict[tuple[str, str], np.ndarray], rate: float) -> tuple[pd.DataFrame, bool]:
    """The samples frame on the uniform grid ``k / rate``, and whether the
    rows had to be interpolated onto it."""
    steps = np.diff(t) * rate
    whole = np.rint(steps)
    on_grid = bool(np.all((whole >= 1) & (np.abs(steps - whole) <= _UNIFORM_TOL)))
    if not np.abs(t[0] * rate) < 2.0**52:
        raise RecordingError(f"time_s {t[0]!r} is too large; time_s counts seconds from the start of the recording")
    if on_grid:
        k0 = int(round(t[0] * rate))
        row_k = k0 + np.concatenate(([0], np.cumsum(whole.astype(np.int64))))
        grid_k = np.arange(k0, int(row_k[-1]) + 1, dtype=np.int64)
    else:
        row_k = None
        grid_k = np.arange(math.ceil(t[0] * rate - 1e-6), math.floor(t[-1] * rate + 1e-6) + 1, dtype=np.int64)
        log.info("%s: time_s is not uniform; resampled onto a %g Hz grid (linear, gaps of %g periods kept)",
                 _WHAT, rate, _GAP_PERIODS)
    if grid_k.size > GRID_FACTOR * t.size + GRID_SLACK:
        i = int(np.argmax(np.diff(t)))
        raise RecordingError(f"time_s jumps by {t[i + 1] - t[i]:g} s after row {i}: split the data there, or check "
                             "that time_s is in seconds")
    nan = np.full(t.size, np.nan)
    keys = [(s, ch) for s in SIDES for ch in CHANNELS if (s, ch) in values or ch in (FORCE, COP_X, COP_Y)]
    block = np.column_stack([values.get(k, nan) for k in keys])
    grid, _ = _on_grid(_Timebase(rate, grid_k, row_k), t, block)
    columns = pd.MultiIndex.from_tuples(keys, names=["side", "channel"])
    samples = pd.DataFrame(grid.astype(np.float32), index=pd.Index(grid_k / rate, name=TIME_INDEX), columns=columns,
                           copy=False)
    return samples, not on_grid
