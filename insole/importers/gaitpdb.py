"""PhysioNet "Gait in Parkinson's Disease" (gaitpdb) walks (docs/formats.md, "Importable files").

The format (physionet.org/content/gaitpdb/1.0.0/, ``format.txt``): no header,
19 tab-separated columns, 100 Hz, CRLF::

    0.0000<TAB>199.1<TAB>87.34<TAB>...<TAB>662.2<TAB>748
    time [s] | L1..L8: vertical force on the 8 left sensors [N] | R1..R8 | total left [N] | total right [N]

What the samples frame holds (channels ``force_n``, ``cop_x_mm``,
``cop_y_mm`` and ``p01``..``p08`` per side, float32, index ``time_s``):

- ``p01``..``p08``: the 8 sensors' forces (L1..L8, R1..R8) as pressures over
  a nominal :data:`NOMINAL_AREA_MM2` each, so that pressure x area is the
  sensor's force in N as for every other insole; their layout is
  ``meta.extra["sensor_layouts"]`` and ``meta.extra["sensor_unit"]`` is
  ``"N"`` (maps show newtons per sensor, not kPa: the real sensor areas are
  not published).

- ``force_n`` is the file's total column for that foot, as it is (not
  recomputed; it equals the sum of the 8 sensors). The sensor newtons are NOT
  calibrated to body weight (the dataset's walks average about 1.2-1.4 x body
  weight): timing and left/right ratios are trustworthy, absolute force is
  not (``meta.extra["force_calibration_note"]``).
- ``cop_x_mm`` / ``cop_y_mm``: the force-weighted mean of the 8 sensor
  positions in each insole's FOOT frame (x toward the foot's lateral side,
  y from the heel end toward the toes, origin on the insole's long axis at
  the heel end): :data:`SENSOR_POSITIONS_MM`, also stored in
  ``meta.extra["sensor_positions_mm"]``. NaN where the foot carries less than
  20 N or less than 5 % of its median step peak.

Sensor positions. ``format.txt`` gives the 8 sensors per foot in arbitrary
units, origin between the feet, +Y forward, left foot at negative X (L1 at
(-500, -800) ... L8 at (-500, 800); the right foot mirrored). In each foot's
frame: ``x = |X| - 500`` (the insole's centre line is at |X| = 500; sensors
farther from the other foot are lateral), ``y = Y + 800`` (heel sensor
first), both times :data:`MM_PER_UNIT`, then shifted so the heel sensor sits
at :data:`HEEL_SENSOR_Y_MM` from the heel end. The scale: the sensors span
1600 units from heel to forefoot; that span is taken as 80 % of a 260 mm
insole (EU 40-41, the cohort's typical size), 0.13 mm per unit, the heel
sensor at 10 % of the length (26 mm) and the front sensor at 90 % (234 mm);
the same scale across (sensors 26 mm either side of the centre line). These
are approximations (the Infotronic insole's real layout is not published in
the dataset): COP paths in mm are good to a few mm in shape, not absolutely.

Time base: the time column is written with 4 decimals and steps by 0.0099 or
0.0100 s (the recorder ran at 100.007 Hz): each row is one 100 Hz sample, the
grid being ``k / 100`` with ``k`` counted from the time steps (a step of two
periods leaves one NaN row). The time column's own rate is kept in
``meta.extra["time_column_rate_hz"]``.

Metadata: ``subject`` = the file stem (``GaCo01_01``); ``body_mass_kg`` from
``demographics.txt`` in the file's folder or the folder above it (the
dataset keeps the walks in ``data/`` and demographics beside it), matched by
the ID before the ``_`` (``GaCo01``), else None; ``meta.extra``: ``study``
(Ga / Ju / Si), ``group`` (control / parkinson), ``walk`` (number),
``dual_task`` (walk 10 of the Ga study: serial-7 subtraction while walking).

Licence of the data: Open Data Commons Attribution License v1.0; credit
PhysioNet (Goldberger et al. 2000) and the authors (Hausdorff et al.; Yogev
et al. 2005; Frenkel-Toledo et al. 2005) wherever the data is shipped.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..constants import COP_X, COP_Y, FORCE, SIDES, TIME_INDEX
from ..errors import RecordingError, UnknownFormatError
from ..model import Recording, RecordingMeta
from ..paths import require_file
from ..protocol.layout import SensorLayout
from ..signals.build import DEFAULT_COP_MIN_FORCE_N
from .common import EOL, GRID_FACTOR, GRID_SLACK, MAX_ABS_VALUE, import_quality, side_quality

log = logging.getLogger(__name__)

__all__ = ["FORMAT", "RATE_HZ", "N_COLUMNS", "SENSOR_POSITIONS_MM", "MM_PER_UNIT", "FOOT_LENGTH_MM", "NOMINAL_AREA_MM2",
           "sensor_layout", "sniff", "load", "demographics"]

#: format name; ``meta.source`` is ``"import:gaitpdb"``
FORMAT = "gaitpdb"
RATE_HZ = 100.0
N_COLUMNS = 19
SENSORS_PER_FOOT = 8
#: per foot: the total, the COP, then the 8 sensors' forces as p01..p08
CHANNELS = (FORCE, COP_X, COP_Y) + tuple(f"p{i:02d}" for i in range(1, SENSORS_PER_FOOT + 1))
#: each sensor's "pressure" is its force over this nominal area (the sensors' real areas are not published):
#: p * area / 1000 is the sensor's force in N, as in every other recording; ``meta.extra["sensor_unit"]`` is N
NOMINAL_AREA_MM2 = 1000.0

#: format.txt's sensor coordinates (arbitrary units), L1..L8; the right foot is the mirror image (X -> -X)
FORMAT_TXT_LEFT_XY = np.array([(-500, -800), (-700, -400), (-300, -400), (-700, 0), (-300, 0), (-700, 400),
                               (-300, 400), (-500, 800)], dtype=np.float64)
#: assumed insole length, mm (EU 40-41; the scale of the arbitrary units rests on it)
FOOT_LENGTH_MM = 260.0
#: the heel-to-front sensor span (1600 units) is 80 % of the insole length
MM_PER_UNIT = 0.8 * FOOT_LENGTH_MM / 1600.0
#: the heel sensor (Y = -800) sits 10 % of the length from the heel end
HEEL_SENSOR_Y_MM = 0.1 * FOOT_LENGTH_MM
#: sensor positions (x lateral, y from the heel end) in mm, the same for both feet in the foot frame
SENSOR_POSITIONS_MM = np.column_stack([(np.abs(FORMAT_TXT_LEFT_XY[:, 0]) - 500.0) * MM_PER_UNIT,
                                       (FORMAT_TXT_LEFT_XY[:, 1] + 800.0) * MM_PER_UNIT + HEEL_SENSOR_Y_MM])
#: COP is undefined below max(this, COP_MIN_PEAK_SHARE x the foot's median step peak)
COP_MIN_PEAK_SHARE = 0.05
FORCE_CALIBRATION_NOTE = "sensor newtons are not calibrated to body weight (about 1.2-1.4 x BW)"

_STEP_TOL = 0.05  # a time step may be this many periods off a whole number (the file has 0.0099 s steps)
_SNIFF_STEP = (0.0095, 0.0105)
_SNIFF_LINES = 5
_MIN_STANCE_SAMPLES = 10
_STEM = re.compile(r"^(Ga|Ju|Si)(Co|Pt)(\d+)_(\d+)$", re.IGNORECASE)
_GROUPS = {"co": "control", "pt": "parkinson"}


def sensor_layout(side: str) -> SensorLayout:
    """The 8 sensors of one gaitpdb insole as a :class:`SensorLayout` (foot
    frame, :data:`SENSOR_POSITIONS_MM`; each of :data:`NOMINAL_AREA_MM2`, so
    the ``p01``..``p08`` channels times the area are the file's newtons; an
    outline 37 % of the length wide)."""
    return SensorLayout(side=side, size_eu=0, length_mm=FOOT_LENGTH_MM, width_mm=round(0.37 * FOOT_LENGTH_MM, 1),
                        pressure_lsb_kpa=1.0, x_mm=SENSOR_POSITIONS_MM[:, 0].copy(),
                        y_mm=SENSOR_POSITIONS_MM[:, 1].copy(), area_mm2=np.full(SENSORS_PER_FOOT, NOMINAL_AREA_MM2))


# --- sniffing ----------------------------------------------------------------

def _numeric_fields(line: bytes) -> list[float] | None:
    fields = line.split(b"\t")
    if len(fields) != N_COLUMNS:
        return None
    try:
        values = [float(f) for f in fields]
    except ValueError:
        return None
    return values if all(math.isfinite(v) for v in values) else None


def sniff(head: bytes) -> bool:
    """True when the first bytes of a file look like a gaitpdb walk: its
    first non-empty lines (up to five) each hold exactly 19 tab-separated
    numbers and the first column steps by 0.01 s. Never raises."""
    try:
        pieces = EOL.split(head)
        complete, tail = pieces[:-1], pieces[-1]  # the last piece may be cut short
        lines = [ln for ln in complete if ln.strip()][:_SNIFF_LINES]
        if len(lines) < 2 and tail.strip():
            lines.append(tail)
        if len(lines) < 2:
            return False
        rows = [_numeric_fields(ln.strip(b" \r\n")) for ln in lines]
        if any(r is None for r in rows):
            return False
        t = [r[0] for r in rows]
        return all(_SNIFF_STEP[0] <= b - a <= _SNIFF_STEP[1] for a, b in zip(t, t[1:]))
    except Exception:  # noqa: BLE001 - a sniffer must never raise
        return False


# --- demographics --------------------------------------------------------------

def demographics(path: str | os.PathLike, subject_id: str) -> dict[str, Any] | None:
    """One subject's row of a gaitpdb ``demographics.txt``, or None.

    Tab-separated with a header row (``ID``, ``Study``, ``Group``, ...,
    ``Weight`` in kg, ...); trailing tab-only lines and empty trailing fields
    are skipped; ``NaN`` and empty fields become None, numbers floats. Never
    raises for a broken or unreadable file (logs a warning, returns None).
    """
    try:
        text = Path(path).read_bytes().decode("utf-8", errors="replace")
    except OSError as exc:
        log.warning("%s: cannot be read (%s)", path, exc.strerror or exc)
        return None
    header: list[str] | None = None
    for raw in text.splitlines():
        fields = [f.strip() for f in raw.split("\t")]
        if not any(fields):
            continue
        if header is None:
            if "id" in (f.lower() for f in fields):
                header = [f.lower() for f in fields]
            continue
        row = dict(zip(header, fields))
        if row.get("id", "").lower() != subject_id.lower():
            continue
        out: dict[str, Any] = {}
        for key, value in row.items():
            if not key:
                continue
            try:
                num = float(value)
            except ValueError:
                out[key] = value or None
            else:
                out[key] = num if math.isfinite(num) else None
        return out
    if header is None:
        log.warning("%s: no header row with an 'ID' column", path)
    return None


def _demographics_file(p: Path) -> Path | None:
    for folder in (p.parent, p.parent.parent):
        f = folder / "demographics.txt"
        if f.is_file():
            return f
    return None


# --- reading -----------------------------------------------------------------

def _bad_value(where: str, data: bytes) -> RecordingError:
    try:  # as strings, with the same missing-value words as the fast pass
        raw = pd.read_csv(io.BytesIO(data), sep="\t", header=None, dtype=str, engine="c", quoting=csv.QUOTE_NONE,
                          index_col=False, names=range(N_COLUMNS), skip_blank_lines=False, encoding="utf-8",
                          encoding_errors="replace")
    except (ValueError, pd.errors.ParserError, UnicodeError):
        return RecordingError(f"{where}: a value is not a number; a gaitpdb walk holds numbers only")
    for j in range(N_COLUMNS):
        text = raw[j].fillna("").str.strip()
        bad = np.flatnonzero(pd.to_numeric(text.where(text != "", "0"), errors="coerce").isna().to_numpy())
        if bad.size:
            i = int(bad[0])
            value = str(text.iloc[i])
            shown = value if len(value) <= 40 else value[:37] + "..."
            return RecordingError(f"{where}: line {i + 1}: column {j + 1} is {shown!r}, not a number; a gaitpdb walk "
                                  f"holds numbers only")
    return RecordingError(f"{where}: a value is not a number; a gaitpdb walk holds numbers only")


def _read(where: str, data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """The 19 columns as float64 and each row's line number (blank lines
    skipped)."""
    try:
        df = pd.read_csv(io.BytesIO(data), sep="\t", header=None, dtype=np.float64, engine="c",
                         quoting=csv.QUOTE_NONE, index_col=False, names=range(N_COLUMNS), skip_blank_lines=False,
                         encoding="utf-8", encoding_errors="replace")
    except pd.errors.EmptyDataError:
        raise RecordingError(f"{where}: the file holds no rows") from None
    except pd.errors.ParserError as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else "unreadable table"
        m = re.search(r"Expected \d+ fields in line (\d+), saw (\d+)", msg)
        if m:
            raise RecordingError(f"{where}: line {m.group(1)}: {m.group(2)} values where a gaitpdb walk has "
                                 f"{N_COLUMNS} on every line") from None
        raise RecordingError(f"{where}: cannot be read as 19 tab-separated columns ({msg})") from None
    except (ValueError, OverflowError, UnicodeError):
        raise _bad_value(where, data) from None
    values = df.to_numpy(dtype=np.float64)
    blank = np.isnan(values).all(axis=1)
    lines = np.flatnonzero(~blank) + 1
    values = values[~blank]
    if values.shape[0] == 0:
        raise RecordingError(f"{where}: the file holds no rows")
    short = np.flatnonzero(np.isnan(values).any(axis=1))
    if short.size:
        i = int(short[0])
        n = int(np.isfinite(values[i]).sum())
        raise RecordingError(f"{where}: line {lines[i]}: {n} values where a gaitpdb walk has {N_COLUMNS} on every "
                             f"line (time, 8 left sensors, 8 right sensors, total left, total right)")
    big = np.flatnonzero(~(np.abs(values) <= MAX_ABS_VALUE).all(axis=1))
    if big.size:
        raise RecordingError(f"{where}: line {lines[big[0]]}: a value is infinite or too large to be a force in "
                             f"newtons or a time in seconds")
    return values, lines


def _grid(where: str, t: np.ndarray, lines: np.ndarray) -> np.ndarray:
    """Grid index of each row, counting 0.01 s periods from the first time."""
    d = np.diff(t)
    steps = d * RATE_HZ
    whole = np.rint(steps)
    bad = np.flatnonzero(~((whole >= 1) & (np.abs(steps - whole) <= _STEP_TOL)))
    if bad.size:
        i = int(bad[0])
        if d[i] <= 0:
            raise RecordingError(f"{where}: line {lines[i + 1]}: time {float(t[i + 1])!r} does not increase after "
                                 f"{float(t[i])!r}; a gaitpdb walk has one row per 0.01 s")
        raise RecordingError(f"{where}: line {lines[i + 1]}: time steps by {float(d[i]):g} s from line {lines[i]}; a "
                             f"gaitpdb walk steps by 0.01 s (100 Hz)")
    k = np.concatenate(([0], np.cumsum(whole.astype(np.int64))))
    if int(k[-1]) + 1 > GRID_FACTOR * t.size + GRID_SLACK:
        i = int(np.argmax(d))
        raise RecordingError(f"{where}: line {lines[i + 1]}: time jumps by {float(d[i]):g} s; split the file there")
    return k


def _median_peak(force: np.ndarray) -> float:
    """Median of the per-step peaks: runs above max(20 N, 10 % of the 99th
    percentile) lasting at least 0.1 s."""
    f = np.nan_to_num(force, nan=0.0)
    top = float(np.percentile(f, 99)) if f.size else 0.0
    level = max(DEFAULT_COP_MIN_FORCE_N, 0.1 * top)
    above = np.concatenate(([False], f > level, [False]))
    edges = np.flatnonzero(np.diff(above.astype(np.int8)))
    starts, stops = edges[::2], edges[1::2]
    peaks = [float(f[a:b].max()) for a, b in zip(starts, stops) if b - a >= _MIN_STANCE_SAMPLES]
    if peaks:
        return float(np.median(peaks))
    return float(f.max()) if f.size else 0.0


def load(path: str | os.PathLike) -> Recording:
    """Import a PhysioNet gaitpdb walk.

    Parameters
    ----------
    path : str or Path
        A walk such as ``GaCo01_01.txt``. A ``demographics.txt`` in the same
        folder, or the folder above, supplies the body mass.

    Returns
    -------
    Recording
        Samples frame indexed by ``time_s`` (uniform 100 Hz grid), columns
        ``(side, channel)``: ``force_n`` (N, the file's total column for
        that foot, uncalibrated), ``cop_x_mm`` (positive toward the foot's
        LATERAL side) and ``cop_y_mm`` (from the heel end toward the toes) in
        the foot frame from the 8 sensors, NaN while the foot is unloaded.
        ``meta.protocol == "walk"``; the sensor positions used are in
        ``meta.extra["sensor_positions_mm"]``.

    Raises
    ------
    UnknownFormatError
        Not a gaitpdb walk (the lines do not hold 19 tab-separated numbers).
    RecordingError
        A walk that is broken: a short line, a value that is not a number,
        times that do not step by 0.01 s. The message gives the line.
    """
    p = require_file(path)
    where = str(p)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise RecordingError(f"{where}: cannot be read ({exc.strerror or exc})") from None
    first = next((ln for ln in EOL.split(data[:65536]) if ln.strip()), b"")
    if len(first.strip(b" \r\n").split(b"\t")) != N_COLUMNS:
        raise UnknownFormatError(f"{where}: not a PhysioNet gaitpdb walk (expected 19 tab-separated numbers per "
                                 f"line: time, 8 left sensors, 8 right sensors, total left, total right)")
    values, lines = _read(where, data)
    del data
    t = values[:, 0]
    if not float(np.max(np.abs(t))) * RATE_HZ < 2.0**52:
        raise RecordingError(f"{where}: the time column holds values too large to be seconds")
    if t.size < 2:
        raise RecordingError(f"{where}: only one row; a walk needs more")
    k = _grid(where, t, lines)
    n_grid = int(k[-1]) + 1
    t0_k = int(round(t[0] * RATE_HZ))
    grid_s = (t0_k + np.arange(n_grid, dtype=np.float64)) / RATE_HZ

    out = np.full((n_grid, len(SIDES) * len(CHANNELS)), np.nan, dtype=np.float32)
    thresholds: dict[str, float] = {}
    for i, side in enumerate(SIDES):
        sensors = values[:, 1 + SENSORS_PER_FOOT * i: 1 + SENSORS_PER_FOOT * (i + 1)]
        total = values[:, 17 + i]
        threshold = max(DEFAULT_COP_MIN_FORCE_N, COP_MIN_PEAK_SHARE * _median_peak(total))
        thresholds[side] = threshold
        s = sensors.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            cx = sensors @ SENSOR_POSITIONS_MM[:, 0] / s
            cy = sensors @ SENSOR_POSITIONS_MM[:, 1] / s
        undefined = ~(total >= threshold) | ~(s > 0)
        cx[undefined] = np.nan
        cy[undefined] = np.nan
        base = len(CHANNELS) * i
        out[k, base] = total
        out[k, base + 1] = cx
        out[k, base + 2] = cy
        out[k, base + 3:base + 3 + SENSORS_PER_FOOT] = sensors * (1000.0 / NOMINAL_AREA_MM2)

    columns = pd.MultiIndex.from_product([list(SIDES), list(CHANNELS)], names=["side", "channel"])
    samples = pd.DataFrame(out, index=pd.Index(grid_s, name=TIME_INDEX), columns=columns, copy=False)

    side_q = {s: side_quality(s, out[:, len(CHANNELS) * i], grid_s, RATE_HZ) for i, s in enumerate(SIDES)}
    quality = import_quality(side_q, fmt=FORMAT, rows=t.size, resampled=False,
                             cop_min_force_n=max(thresholds.values()), cop_min_force_n_by_side=thresholds)

    stem = p.stem
    m = _STEM.match(stem)
    study = group = walk = None
    if m:
        study = m.group(1).capitalize()
        group = _GROUPS[m.group(2).lower()]
        walk = int(m.group(4))
    else:
        log.info("%s: the file name is not <study><Co|Pt><nn>_<walk>; study, group and walk are unknown", where)
    subject_id = stem.split("_")[0]
    body_mass = None
    demo = None
    demo_file = _demographics_file(p)
    if demo_file is not None:
        demo = demographics(demo_file, subject_id)
        if demo is None:
            log.info("%s: %s has no row for %s", where, demo_file, subject_id)
        else:
            w = demo.get("weight")
            body_mass = float(w) if isinstance(w, float) and 20.0 <= w <= 300.0 else None
    span_s = float(t[-1] - t[0])
    extra: dict[str, Any] = {
        "cop_frame": "foot",
        "study": study,
        "group": group,
        "walk": walk,
        "dual_task": bool(walk == 10 and study == "Ga"),
        "force_calibration_note": FORCE_CALIBRATION_NOTE,
        "sensor_positions_mm": {"left": SENSOR_POSITIONS_MM.tolist(), "right": SENSOR_POSITIONS_MM.tolist(),
                                "frame": "foot: x lateral, y from the heel end; sensors L1..L8 / R1..R8",
                                "scale_mm_per_unit": MM_PER_UNIT,
                                "assumed_foot_length_mm": FOOT_LENGTH_MM},
        "foot_length_mm": FOOT_LENGTH_MM,
        "sensor_layouts": {side: sensor_layout(side).to_dict() for side in SIDES},
        "sensor_unit": "N",
        "time_column_rate_hz": round(float(k[-1]) / span_s, 4) if span_s > 0 else None,
        "dataset": "PhysioNet gaitpdb 1.0.0 (Open Data Commons Attribution License v1.0)",
    }
    if demo is not None:
        extra["demographics"] = demo
    meta = RecordingMeta(
        source=f"import:{FORMAT}",
        protocol="walk",
        sampling_rate_hz=RATE_HZ,
        subject=stem,
        body_mass_kg=body_mass,
        started_utc="",
        devices={},
        phases=(),
        extra=extra,
    )
    log.info("%s: imported %d rows as %d samples at %g Hz", where, t.size, n_grid, RATE_HZ)
    return Recording(samples=samples, meta=meta, quality=quality, path=where)
