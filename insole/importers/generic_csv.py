"""Generic per-foot CSV: force plates and other systems (docs/formats.md).

The format::

    # subject: P07
    # body_mass_kg: 65.3
    # protocol: standing
    time_s,left_force_n,right_force_n,left_cop_x_mm,left_cop_y_mm,right_cop_x_mm,right_cop_y_mm,phase
    0.000,372.1,281.0,-85.2,41.0,88.0,39.5,eyes_open
    0.010,371.8,281.4,-85.0,41.2,88.1,39.4,eyes_open
    ...

- Comma-separated, one header row; ``time_s``, ``left_force_n`` and
  ``right_force_n`` are required, the COP columns and ``phase`` optional.
  Columns are found by name (case and surrounding whitespace ignored), in any
  order; other columns are ignored. Empty fields are missing values (NaN).
- COP is in the GROUND frame (x to the subject's right, y forward, origin
  midway between the heels) and is kept as given: the recording carries
  ``meta.extra["cop_frame"] == "ground"``.
- Optional ``# key: value`` lines before the header: ``body_mass_kg``,
  ``subject``, ``sampling_rate_hz``, ``stance_width_mm``, ``protocol``,
  ``started_utc``; other keys go to ``meta.extra``.
- UTF-8 with or without a byte-order mark (UTF-16 with a BOM is accepted
  too), LF, CRLF or CR line ends.

Time base: a uniform time column (every step within 1 % of a whole number of
periods) is placed on the grid ``k / rate`` as it is, missing rows becoming
NaN rows. Any other time column is linearly interpolated onto the uniform
grid at its fitted rate, between two neighbouring samples less than 1.5
periods apart only: a gap is never bridged. The rate is a least-squares fit
of the times, rounded to 0.01 Hz (or the ``# sampling_rate_hz`` given, when
it agrees with the times within 1 %).

Speed: one vectorised ``pandas.read_csv`` pass with explicit columns and
dtypes, plus a vectorised count of the fields per line (a row with more
fields than the header, e.g. from a decimal comma, is an error, never a
silent shift); 600 000 rows (10 min of two force plates at 1000 Hz) import in
about half a second. The text is parsed a second time, to name the line,
only when a value is not a number.
"""

from __future__ import annotations

import io
import logging
import math
import os
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..constants import COP_X, COP_Y, FORCE, SIDES, STANDARD_GRAVITY_M_S2, TIME_INDEX
from ..errors import RecordingError, UnknownFormatError
from ..model import Phase, Recording, RecordingMeta
from ..paths import require_file
from .common import EOL, GRID_FACTOR, GRID_SLACK, MAX_ABS_VALUE, import_quality, side_quality
from ..signals.build import COP_MIN_FORCE_BW, DEFAULT_COP_MIN_FORCE_N

log = logging.getLogger(__name__)

__all__ = ["FORMAT", "REQUIRED_COLUMNS", "OPTIONAL_COLUMNS", "sniff", "load"]

#: format name; ``meta.source`` is ``"import:csv"``
FORMAT = "csv"
TIME_COLUMN = "time_s"
PHASE_COLUMN = "phase"
CHANNELS = (FORCE, COP_X, COP_Y)
#: file column -> (side, channel) of the samples frame
VALUE_COLUMNS: dict[str, tuple[str, str]] = {f"{side}_{ch}": (side, ch) for side in SIDES for ch in CHANNELS}
REQUIRED_COLUMNS = (TIME_COLUMN, f"{SIDES[0]}_{FORCE}", f"{SIDES[1]}_{FORCE}")
OPTIONAL_COLUMNS = tuple(c for c in VALUE_COLUMNS if c not in REQUIRED_COLUMNS) + (PHASE_COLUMN,)
PROTOCOLS = ("standing", "run", "walk", "unknown")
#: ``# key: value`` lines that set the recording's metadata (others go to ``meta.extra``)
_KNOWN_KEYS = ("body_mass_kg", "subject", "sampling_rate_hz", "stance_width_mm", "protocol", "started_utc")

#: how much of the file's start may hold comment lines and the header row
_HEADER_SCAN_BYTES = 1 << 20
#: field texts read as a missing value (besides an empty field)
_NA_VALUES = ["", "nan", "NaN", "NAN", "NA", "N/A", "n/a", "null", "NULL", "None"]
#: jitter allowed in a uniform time column, as a fraction of a period
_UNIFORM_TOL = 0.01
#: a time step longer than this many periods is a gap (never interpolated across)
_GAP_PERIODS = 1.5
_MIN_RATE_HZ = 1.0
_MAX_RATE_HZ = 1e6
#: a foot's median force below this means the file's sign convention is flipped
_NEGATIVE_FORCE_N = -20.0
_BLANK_TO_END = re.compile(rb"\s*\Z")
_META_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_PANDAS_FIELDS = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
_PANDAS_ROW = re.compile(r"(?:row|line) (\d+)")
_BOM_UTF8 = b"\xef\xbb\xbf"
_BOM_UTF16 = (b"\xff\xfe", b"\xfe\xff")


# --- header: comment lines and the column names ------------------------------

@dataclass
class _Header:
    names: list[str]  # normalised column names, in file order
    line: int  # 1-based line number of the header row
    data_offset: int  # byte offset of the first data line (in the UTF-8 buffer)
    separator: str  # "," or the wrong separator the header row uses
    meta: list[tuple[int, str, str]] = field(default_factory=list)  # (line, key, value)
    comments: list[str] = field(default_factory=list)


def _norm(name: str) -> str:
    return name.strip().strip("\"'").strip().lower()


def _split_header(text: str) -> tuple[list[str], str]:
    """Column names and separator; a ``;`` or tab header that names our
    columns is recognised so that the user hears what is wrong."""
    for sep in (",", ";", "\t"):
        names = [_norm(f) for f in text.split(sep)]
        if _names_look_right(names):
            return names, sep
    return [_norm(f) for f in text.split(",")], ","


def _names_look_right(names: list[str]) -> bool:
    return TIME_COLUMN in names and any(c in names for c in REQUIRED_COLUMNS[1:])


def _scan_header(buf: bytes, *, limit: int | None = None) -> _Header | None:
    """Leading blank and ``#`` lines, then the header row, or None when no
    header row starts within the first ``limit`` bytes of ``buf``."""
    pos = len(_BOM_UTF8) if buf.startswith(_BOM_UTF8) else 0
    line_no = 0
    meta: list[tuple[int, str, str]] = []
    comments: list[str] = []
    limit = len(buf) if limit is None else min(limit, len(buf))
    while pos < limit:
        m = EOL.search(buf, pos)
        if m is None:
            end = nxt = len(buf)
        else:
            end, nxt = m.start(), m.end()
        line_no += 1
        text = buf[pos:min(end, pos + limit)].decode("utf-8", errors="replace").strip()
        pos = nxt
        if not text:
            continue
        if text.startswith("#"):
            body = text.lstrip("#").strip()
            key, colon, value = body.partition(":")
            key = key.strip()
            spaced = re.sub(r"[\s\-]+", "_", key.lower())
            if colon and (_META_KEY.fullmatch(key) or spaced in _KNOWN_KEYS):
                meta.append((line_no, spaced, value.strip()))
            elif body:
                comments.append(body)
            continue
        names, sep = _split_header(text)
        return _Header(names=names, line=line_no, data_offset=pos, separator=sep, meta=meta, comments=comments)
    return None


def _as_utf8(data: bytes) -> bytes:
    """UTF-16 text (with a byte-order mark) re-encoded as UTF-8; other bytes
    as they are."""
    if data[:2] in _BOM_UTF16:
        return data.decode("utf-16", errors="replace").encode("utf-8")
    return data


def sniff(head: bytes) -> bool:
    """True when the first bytes of a file look like a generic per-foot CSV:
    (after optional blank and ``#`` lines) a header row naming ``time_s`` and
    ``left_force_n`` or ``right_force_n``. Never raises."""
    if head[:2] in _BOM_UTF16:
        head = _as_utf8(head[: len(head) // 2 * 2])
    hdr = _scan_header(head)
    return hdr is not None and _names_look_right(hdr.names)


# --- metadata lines ----------------------------------------------------------

def _number(where: str, line: int, key: str, value: str, unit: str) -> float:
    """A positive number from a ``# key: value`` line; the key's unit may
    follow the number (``65.3 kg``)."""
    suffix = key.rpartition("_")[2]
    text = value[: -len(suffix)] if value.lower().endswith(suffix) else value
    try:
        v = float(text)
    except ValueError:
        v = math.nan
    if not (math.isfinite(v) and v > 0):
        raise RecordingError(f"{where}: line {line}: '# {key}: {value}' is not a positive number of {unit}; "
                             f"fix or remove the line")
    return v


def _meta_from_header(where: str, hdr: _Header) -> dict[str, Any]:
    out: dict[str, Any] = {"extra": {}}
    seen: dict[str, int] = {}
    for line, key, value in hdr.meta:
        if key in seen:
            log.warning("%s: line %d repeats '# %s' (line %d); the later value is used", where, line, key, seen[key])
        seen[key] = line
        if key == "body_mass_kg":
            out["body_mass_kg"] = _number(where, line, key, value, "kilograms")
        elif key == "sampling_rate_hz":
            out["sampling_rate_hz"] = _number(where, line, key, value, "hertz")
        elif key == "stance_width_mm":
            out["extra"]["stance_width_mm"] = _number(where, line, key, value, "millimetres")
        elif key == "protocol":
            proto = value.strip().lower()
            if proto not in PROTOCOLS:
                raise RecordingError(f"{where}: line {line}: protocol {value!r} is not one of "
                                     f"{', '.join(PROTOCOLS)}; fix or remove the line")
            out["protocol"] = proto
        elif key in ("subject", "started_utc"):
            out[key] = value
        else:
            out["extra"][key] = value
    if hdr.comments:
        out["extra"]["comments"] = list(hdr.comments)
    return out


# --- reading the table -------------------------------------------------------

@dataclass
class _Table:
    time: np.ndarray  # float64 per kept row
    values: dict[str, np.ndarray]  # file column -> float64 per kept row
    phase: np.ndarray | None  # object (str) per kept row
    lines: np.ndarray  # int64 file line number per kept row


def _find_columns(where: str, hdr: _Header) -> dict[str, int]:
    wanted = {TIME_COLUMN, *VALUE_COLUMNS, PHASE_COLUMN}
    found: dict[str, int] = {}
    ignored = []
    for i, name in enumerate(hdr.names):
        if name in wanted:
            if name in found:
                raise RecordingError(f"{where}: line {hdr.line}: column {name!r} appears twice (columns "
                                     f"{found[name] + 1} and {i + 1}); keep one")
            found[name] = i
        elif name:
            ignored.append(name)
    if ignored:
        log.debug("%s: columns ignored: %s", where, ", ".join(ignored))
    missing = [c for c in REQUIRED_COLUMNS if c not in found]
    if missing:
        raise RecordingError(
            f"{where}: line {hdr.line}: the header row lacks {', '.join(missing)}; a generic CSV needs the "
            f"columns {', '.join(REQUIRED_COLUMNS)} (optional: {', '.join(OPTIONAL_COLUMNS)})")
    return found


def _read_csv(source: Any, hdr: _Header, cols: dict[str, int], *, as_text: bool) -> pd.DataFrame:
    names = [f"c{i}" for i in range(len(hdr.names))]
    usecols = [names[i] for i in sorted(cols.values())]
    dtype = {names[i]: (str if (as_text or c == PHASE_COLUMN) else np.float64) for c, i in cols.items()}
    return pd.read_csv(
        source, sep=",", header=None, names=names, usecols=usecols, index_col=False, dtype=dtype,
        skipinitialspace=True, skip_blank_lines=False, keep_default_na=False, na_values=_NA_VALUES,
        encoding="utf-8", encoding_errors="replace", engine="c",
    )


def _parse_error(where: str, hdr: _Header, exc: Exception) -> RecordingError:
    msg = str(exc).strip()
    m = _PANDAS_FIELDS.search(msg)
    if m:
        expected, line, saw = (int(g) for g in m.groups())
        return RecordingError(f"{where}: line {hdr.line + line}: {saw} fields, but the header row (line {hdr.line}) "
                              f"has {expected}; every row needs the header's columns")
    m = _PANDAS_ROW.search(msg)
    if "EOF inside string" in msg and m:
        return RecordingError(f"{where}: line {hdr.line + 1 + int(m.group(1))}: a '\"' opens a quoted field that "
                              f"is never closed; remove the stray quote")
    return RecordingError(f"{where}: cannot be read as CSV ({msg.splitlines()[-1] if msg else type(exc).__name__})")


def _check_field_counts(where: str, hdr: _Header, data: bytes) -> None:
    """No data row may have more fields than the header row (pandas would
    drop the extra ones silently when reading selected columns: a decimal
    comma would shift every value after it). Lines with quotes are left to
    the CSV parser."""
    body = np.frombuffer(data, dtype=np.uint8)[hdr.data_offset:]
    if body.size == 0:
        return
    nl = body == 10
    cr_alone = body == 13
    cr_alone[:-1] &= ~nl[1:]
    ends = np.flatnonzero(nl | cr_alone)
    if ends.size == 0 or ends[-1] != body.size - 1:
        ends = np.append(ends, body.size)  # last line without a line end
    line_of = np.searchsorted(ends, np.flatnonzero(body == 44))  # commas per line
    counts = np.bincount(line_of, minlength=ends.size)
    over = counts > len(hdr.names) - 1
    if not over.any():
        return
    quoted = np.zeros(ends.size, dtype=bool)
    quoted[np.searchsorted(ends, np.flatnonzero(body == 34))] = True
    bad = np.flatnonzero(over & ~quoted)
    if bad.size:
        i = int(bad[0])
        raise RecordingError(f"{where}: line {hdr.line + 1 + i}: {counts[i] + 1} fields, but the header row (line "
                             f"{hdr.line}) has {len(hdr.names)}; every row needs the header's columns (a decimal "
                             f"comma? numbers must use '.')")


def _read_table(where: str, hdr: _Header, cols: dict[str, int], data: bytes) -> _Table:
    names = {c: f"c{i}" for c, i in cols.items()}
    if _BLANK_TO_END.match(data, hdr.data_offset):
        raise RecordingError(f"{where}: no data rows after the header row; the file holds no samples")
    _check_field_counts(where, hdr, data)

    def read(as_text: bool) -> pd.DataFrame:
        src = io.BytesIO(data)  # shares the bytes, no copy
        src.seek(hdr.data_offset)
        try:
            return _read_csv(src, hdr, cols, as_text=as_text)
        except pd.errors.EmptyDataError:
            return pd.DataFrame({n: pd.Series(dtype=np.float64) for n in names.values()})
        except pd.errors.ParserError as exc:
            raise _parse_error(where, hdr, exc) from None

    try:
        df = read(as_text=False)
    except (ValueError, TypeError, OverflowError) as exc:
        # a field that is not a number: read again as text to say where
        try:
            text = read(as_text=True)
        except (ValueError, TypeError, OverflowError):
            raise RecordingError(f"{where}: cannot be read as CSV ({exc})") from None
        raise _not_a_number(where, hdr, text, names) from None

    def num(col: str) -> np.ndarray:
        return df[names[col]].to_numpy(dtype=np.float64, na_value=np.nan)

    time = num(TIME_COLUMN)
    values = {c: num(c) for c in VALUE_COLUMNS if c in names}
    phase = None
    if PHASE_COLUMN in names:
        phase = df[names[PHASE_COLUMN]].fillna("").astype(str).str.strip().to_numpy(dtype=object)
    # blank lines (and rows of empty fields) carry nothing: drop them
    empty = np.isnan(time)
    for v in values.values():
        empty &= np.isnan(v)
    if phase is not None:
        empty &= phase == ""
    keep = np.flatnonzero(~empty)
    lines = hdr.line + 1 + keep
    table = _Table(time=time[keep], values={c: v[keep] for c, v in values.items()},
                   phase=None if phase is None else phase[keep], lines=lines)
    if empty.any():
        log.debug("%s: %d blank rows skipped", where, int(empty.sum()))
    return table


def _not_a_number(where: str, hdr: _Header, df: pd.DataFrame, names: dict[str, str]) -> RecordingError:
    first: tuple[int, str, str] | None = None
    for col, name in names.items():
        if col == PHASE_COLUMN:
            continue
        text = df[name].str.strip()
        coerced = pd.to_numeric(text, errors="coerce")
        bad = np.flatnonzero(text.notna().to_numpy() & coerced.isna().to_numpy())
        if bad.size and (first is None or bad[0] < first[0]):
            first = (int(bad[0]), col, str(text.iloc[bad[0]]))
    if first is None:
        return RecordingError(f"{where}: a value is not a number; numbers use '.' as the decimal point and an empty "
                              f"field for a missing value")
    row, col, value = first
    shown = value if len(value) <= 40 else value[:37] + "..."
    return RecordingError(f"{where}: line {hdr.line + 1 + row}: {col} is {shown!r}, not a number; use numbers with "
                          f"'.' as the decimal point, and an empty field for a missing value")


def _check_table(where: str, t: _Table) -> None:
    if t.time.size == 0:
        raise RecordingError(f"{where}: no data rows after the header row; the file holds no samples")
    bad = np.flatnonzero(np.isnan(t.time))
    if bad.size:
        raise RecordingError(f"{where}: line {t.lines[bad[0]]}: time_s is empty; every row needs a time in seconds")
    for col, v in ((TIME_COLUMN, t.time), *t.values.items()):
        limit = np.inf if col == TIME_COLUMN else MAX_ABS_VALUE
        bad = np.flatnonzero(~(np.abs(v) <= limit) & ~np.isnan(v))
        if bad.size:
            raise RecordingError(f"{where}: line {t.lines[bad[0]]}: {col} is {float(v[bad[0]])!r}, not a finite "
                                 f"number of plausible size; leave the field empty for a missing value")
    with np.errstate(invalid="ignore", over="ignore"):
        d = np.diff(t.time)
    bad = np.flatnonzero(~(d > 0))
    if bad.size:
        i = bad[0]
        a, b = float(t.time[i]), float(t.time[i + 1])
        la, lb = t.lines[i], t.lines[i + 1]
        if a == b:
            raise RecordingError(f"{where}: line {lb}: time_s {b!r} repeats line {la}'s; times must increase "
                                 f"(remove the duplicate row, or write time_s with more decimals)")
        raise RecordingError(f"{where}: line {lb}: time_s {b!r} is earlier than {a!r} on line {la}; times must "
                             f"increase: sort the rows by time")
    for side in SIDES:
        f = t.values[f"{side}_{FORCE}"]
        if np.isfinite(f).any():
            med = float(np.nanmedian(f))
            if med < _NEGATIVE_FORCE_N:
                raise RecordingError(f"{where}: {side}_{FORCE} is mostly negative (median {med:.1f} N); the vertical "
                                     f"force must be positive under load (force plates often report Fz downward: "
                                     f"flip its sign)")


# --- time base ---------------------------------------------------------------

@dataclass
class _Timebase:
    rate_hz: float
    grid_k: np.ndarray  # int64 grid indices; grid times are grid_k / rate_hz
    row_k: np.ndarray | None  # int64 grid index of each row when the rows sit on the grid, else None


def _timebase(where: str, t: np.ndarray, lines: np.ndarray, given_hz: float | None) -> _Timebase:
    n = t.size
    if given_hz is not None and not _MIN_RATE_HZ <= given_hz <= _MAX_RATE_HZ:
        raise RecordingError(f"{where}: '# sampling_rate_hz: {given_hz:g}' is outside {_MIN_RATE_HZ:g} Hz to "
                             f"{_MAX_RATE_HZ:g} Hz; fix or remove the line")
    if n == 1:
        if given_hz is None:
            raise RecordingError(f"{where}: only one data row, so the sampling rate cannot be told from the times; "
                                 f"add rows or a '# sampling_rate_hz: <Hz>' line")
        k = np.array([_grid_index(where, t[0], given_hz, lines[0])], dtype=np.int64)
        return _Timebase(given_hz, k, k)
    with np.errstate(all="ignore"):
        d = np.diff(t)
        med = float(np.median(d))
        regular = d <= _GAP_PERIODS * med
        period = float(d[regular].mean()) if regular.any() else med
        steps = d / period
        whole = np.rint(steps)
        on_grid = bool(np.all((whole >= 1) & (np.abs(steps - whole) <= _UNIFORM_TOL)))
        fine_hz = float(np.divide(1.0, _fitted_period(t, whole) if n > 2 else period))  # inf, not an error
    if not (math.isfinite(fine_hz) and _MIN_RATE_HZ <= fine_hz <= _MAX_RATE_HZ):
        hint = "is time_s in milliseconds? it must be in seconds" if fine_hz < _MIN_RATE_HZ else "check time_s"
        raise RecordingError(f"{where}: time_s steps by {period:g} s per row, a rate of {fine_hz:g} Hz; the rate must "
                             f"be {_MIN_RATE_HZ:g} Hz to {_MAX_RATE_HZ:g} Hz ({hint})")
    if given_hz is not None:
        if abs(fine_hz / given_hz - 1.0) > _UNIFORM_TOL:
            raise RecordingError(f"{where}: '# sampling_rate_hz: {given_hz:g}' disagrees with time_s, which steps at "
                                 f"{fine_hz:.6g} Hz; fix or remove the line")
        rate = given_hz
    else:
        rate = round(fine_hz, 2)
    k0 = _grid_index(where, t[0], rate, lines[0])
    if on_grid and not bool(np.all(whole < 2.0**40)):  # a gap of more than 10**12 samples: not a recording's time
        raise RecordingError(f"{where}: time_s jumps by more than 10^12 samples between two rows; check time_s")
    if on_grid:
        row_k = k0 + np.concatenate(([0], np.cumsum(whole.astype(np.int64))))
        k_end = int(row_k[-1])
    else:
        row_k = None
        k0 = int(math.ceil(t[0] * rate - 1e-6))
        k_end = int(math.floor(t[-1] * rate + 1e-6))
    n_grid = k_end - k0 + 1
    if n_grid > GRID_FACTOR * n + GRID_SLACK:
        i = int(np.argmax(d))
        raise RecordingError(f"{where}: line {lines[i + 1]}: time_s jumps by {d[i]:g} s from line {lines[i]}; "
                             f"a gap that long would need {n_grid - n} empty rows at {rate:g} Hz: split the file "
                             f"there, or check that time_s is in seconds")
    if not on_grid:
        log.info("%s: time_s is not uniform; resampled onto a %g Hz grid (linear, gaps kept)", where, rate)
    return _Timebase(rate, np.arange(k0, k_end + 1, dtype=np.int64), row_k)


def _fitted_period(t: np.ndarray, whole: np.ndarray) -> float:
    """Least-squares slope of the times against the sample count (``whole``:
    periods per step): the period to a small fraction of the time column's
    resolution, where its two ends alone would be off by their rounding."""
    idx = np.concatenate(([0.0], np.cumsum(whole)))
    x = idx - idx.mean()
    y = t - t.mean()
    return float(np.divide(x @ y, x @ x))


def _grid_index(where: str, t0: float, rate: float, line: int) -> int:
    k = t0 * rate
    if not abs(k) < 2.0**52:
        raise RecordingError(f"{where}: line {line}: time_s {t0!r} is too large; time_s counts seconds from the "
                             f"start of the recording")
    return int(round(k))


def _on_grid(tb: _Timebase, t: np.ndarray, block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows' values on the grid and each row's time on the grid."""
    if tb.row_k is not None:
        out = np.full((tb.grid_k.size, block.shape[1]), np.nan)
        out[tb.row_k - tb.grid_k[0]] = block
        return out, tb.row_k / tb.rate_hz
    g = tb.grid_k / tb.rate_hz
    n = t.size
    period = 1.0 / tb.rate_hz
    eps = 1e-6 * period
    i = np.clip(np.searchsorted(t, g, side="right") - 1, 0, n - 1)
    j = np.minimum(i + 1, n - 1)
    has_next = i + 1 < n
    exact_a = np.abs(g - t[i]) <= eps
    exact_b = has_next & (np.abs(t[j] - g) <= eps) & ~exact_a
    span = t[j] - t[i]
    inside = has_next & (g > t[i]) & (span < _GAP_PERIODS * period) & ~exact_a & ~exact_b
    w = np.where(inside, (g - t[i]) / np.where(span > 0, span, 1.0), 0.0)
    out = block[i] + w[:, None] * (block[j] - block[i])
    out[exact_a] = block[i[exact_a]]
    out[exact_b] = block[j[exact_b]]
    out[~(exact_a | exact_b | inside)] = np.nan
    return out, t


# --- phases and quality --------------------------------------------------------

def _phases(labels: np.ndarray, times: np.ndarray, period: float) -> tuple[Phase, ...]:
    """Contiguous runs of one non-empty label; a run ends one period after
    its last row."""
    if labels.size == 0:
        return ()
    start = np.flatnonzero(np.concatenate(([True], labels[1:] != labels[:-1])))
    end = np.concatenate((start[1:], [labels.size])) - 1
    return tuple(Phase(str(labels[a]), float(times[a]), float(times[b] + period))
                 for a, b in zip(start, end) if labels[a] != "")


# --- the importer ------------------------------------------------------------

def load(path: str | os.PathLike) -> Recording:
    """Import a generic per-foot CSV.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    Recording
        Samples frame indexed by ``time_s`` (uniform grid at
        ``meta.sampling_rate_hz``), columns ``(side, channel)`` with channels
        ``force_n`` (N, positive under load), ``cop_x_mm`` (positive to the
        subject's right) and ``cop_y_mm`` (positive forward) in the GROUND
        frame (``meta.extra["cop_frame"] == "ground"``), all NaN when the
        file has no COP. ``meta.source`` is ``"import:csv"``; phases come from
        the ``phase`` column.

    Raises
    ------
    UnknownFormatError
        The file is not a generic per-foot CSV (no header row naming
        ``time_s`` and the forces).
    RecordingError
        A generic CSV that is broken: a required column missing, a value that
        is not a number, times that do not increase, no rows, bad ``#``
        metadata. The message gives the line number where there is one.
    """
    p = require_file(path)
    where = str(p)
    try:
        data = _as_utf8(p.read_bytes())
    except OSError as exc:
        raise RecordingError(f"{where}: cannot be read ({exc.strerror or exc})") from None
    hdr = _scan_header(data, limit=_HEADER_SCAN_BYTES)
    if hdr is None or not _names_look_right(hdr.names):
        raise UnknownFormatError(f"{where}: not a generic per-foot CSV (expected a header row with the columns "
                                 f"{', '.join(REQUIRED_COLUMNS)})")
    if hdr.separator != ",":
        sep = "tabs" if hdr.separator == "\t" else f"'{hdr.separator}'"
        raise RecordingError(f"{where}: line {hdr.line}: the columns are separated by {sep}; a generic CSV is "
                             f"comma-separated with '.' as the decimal point: save it again as comma-separated CSV")
    cols = _find_columns(where, hdr)
    m = _meta_from_header(where, hdr)
    table = _read_table(where, hdr, cols, data)
    del data
    _check_table(where, table)
    tb = _timebase(where, table.time, table.lines, m.get("sampling_rate_hz"))
    rate = tb.rate_hz

    sides = [s for s in SIDES if np.isfinite(table.values[f"{s}_{FORCE}"]).any()]
    if not sides:
        raise RecordingError(f"{where}: {REQUIRED_COLUMNS[1]} and {REQUIRED_COLUMNS[2]} are empty on every row; "
                             f"the file holds no forces")
    for s in SIDES:
        if s not in sides:
            log.warning("%s: %s_%s is empty on every row; the %s foot is left out", where, s, FORCE, s)
    nan = np.full(table.time.size, np.nan)
    block = np.column_stack([table.values.get(f"{s}_{ch}", nan) for s in sides for ch in CHANNELS])
    values, row_s = _on_grid(tb, table.time, block)
    grid_s = tb.grid_k / rate
    columns = pd.MultiIndex.from_product([sides, list(CHANNELS)], names=["side", "channel"])
    samples = pd.DataFrame(values.astype(np.float32), index=pd.Index(grid_s, name=TIME_INDEX), columns=columns,
                           copy=False)

    body_mass = m.get("body_mass_kg")
    min_force_n = COP_MIN_FORCE_BW * body_mass * STANDARD_GRAVITY_M_S2 if body_mass else DEFAULT_COP_MIN_FORCE_N
    if body_mass and len(sides) == 2:
        total = values[:, 0] + values[:, len(CHANNELS)]
        if np.isfinite(total).any():
            ratio = float(np.nanmedian(total)) / (body_mass * STANDARD_GRAVITY_M_S2)
            if not 0.2 < ratio < 5.0:
                log.warning("%s: the median total force is %.2f x body weight; are the forces in newtons?",
                            where, ratio)
    side_q = {s: side_quality(s, values[:, i * len(CHANNELS)], grid_s, rate) for i, s in enumerate(sides)}
    quality = import_quality(side_q, fmt=FORMAT, rows=table.time.size, resampled=tb.row_k is None,
                             cop_min_force_n=min_force_n)
    phases = _phases(table.phase, row_s, 1.0 / rate) if table.phase is not None else ()
    meta = RecordingMeta(
        source=f"import:{FORMAT}",
        protocol=m.get("protocol", "unknown"),
        sampling_rate_hz=rate,
        subject=m.get("subject", ""),
        body_mass_kg=body_mass,
        started_utc=m.get("started_utc", ""),
        devices={},
        phases=phases,
        extra={**m["extra"], "cop_frame": "ground"},
    )
    log.info("%s: imported %d rows as %d samples at %g Hz", where, table.time.size, grid_s.size, rate)
    return Recording(samples=samples, meta=meta, quality=quality, path=where)
