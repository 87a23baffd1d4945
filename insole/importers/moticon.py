"""Moticon OpenGo text export (docs/formats.md, "Importable files").

The format, as the OpenGo software writes it (real exports: the test data of
Moticon's own reader, github.com/moticon-rego/moticon-opengo,
``tests/testdata/*.txt``; excerpts in ``tests/data/moticon/``)::

    # Start timestamp: 1663250316241          (newer exports only; epoch ms, UTC)
    # Start time: 27.09.2023 10:21:14.922     (local wall clock, day first)
    # Duration: 00:17.496
    # Sensor insoles: Left SN5968, Right SN9171
    # Size: 7
    # Recording type: normal
    # Name: 230927_10:21:14
    # Notes: Some walking steps
    # Tag: normal
    # time<TAB>left pressure 1[N/cm²]<TAB>...<TAB>right center of pressure Y[-0.5...+0.5]<TAB>right steps[]<TAB>...
    0.00<TAB><TAB>...<TAB>6.50<TAB>6.50<TAB>...
    ...

- UTF-8, LF, tab-separated, one row per sample at 100 Hz on a common time
  axis; a side that has no data yet has EMPTY fields (one insole often
  starts half a second after the other). Empty fields become NaN, never 0.
- Per side (``left `` / ``right ``): ``pressure 1..16[N/cm²]``,
  ``acceleration X/Y/Z[g]``, ``angular X/Y/Z[dps]``, ``total force[N]``,
  ``center of pressure X/Y[-0.5...+0.5]``. Trailing columns (``... steps[]``,
  event ``... label[]`` / value pairs, ``... COP velocity[1]``) are ignored.
- Columns are found by NAME: case, spacing and the ``²`` (``^2``, ``2``,
  missing, or mis-decoded) do not matter; the unit in brackets selects the
  conversion (N/cm² and kPa for pressure, g and m/s² for acceleration, dps
  and rad/s for angular rate).

What the samples frame holds (same shape as a decoded insole recording):
``p01``..``p16`` in kPa (1 N/cm² = 10 kPa), ``force_n`` = the file's
``total force[N]`` as it is, ``cop_x_mm`` / ``cop_y_mm`` in the FOOT frame
(x toward the lateral side of that foot, y from the heel end toward the toes,
origin on the insole's long axis at the back of the heel), and the IMU
channels ``acc_x_g``..``gyro_z_dps`` when the file has them (the insole's own
axes, unchanged).

Moticon's COP axes (``meta.extra["cop_conversion"]`` records what was used)
---------------------------------------------------------------------------
Moticon's own reader loads the COP columns as they are and documents no axes;
Moticon states only that "all COP data is given in a size and side agnostic,
normalized coordinate system" (moticon.com, "shoe size independent foot
pressure analysis"). The axes below are read off the real exports:

- **X is the long axis**: -0.5 at the heel end, +0.5 at the toe end. At
  heel strike (only sensors 1-4 loaded) X is about -0.35; at push-off
  (sensors 9-16) about +0.28; quiet standing about -0.24. The transverse
  values stay within about +-0.12 over a whole stance.
- **Y is across the insole, side agnostic, positive toward the MEDIAL
  edge** (inferred): on both feet Y starts slightly negative at heel strike,
  reaches its minimum (about -0.12) in midstance and rises toward 0 and
  above as the foot rolls off over the big toe - the classic gait line
  (lateral heel contact, lateral midfoot, medial push-off) only if negative
  means lateral. Quiet standing sits at Y of about -0.06 to -0.08 on both
  feet, symmetric, as a side-agnostic axis must. Not documented by Moticon:
  if it turns out the other way round, flip :data:`Y_NORM_MEDIAL_POSITIVE`.

Conversion: ``cop_y_mm = (X + 0.5) * insole_length_mm`` and
``cop_x_mm = -Y * insole_width_mm`` (so a point at normalised ``(-0.5, 0)``
is the heel end on the long axis, and ``Y = -0.5`` is ``+width/2``, lateral,
on both feet). The normalisation is taken to span the insole's outline
(length and width); the size table is :data:`INSOLE_SIZES_MM`.

A COP is NaN where the foot carries less than
:data:`~insole.signals.build.DEFAULT_COP_MIN_FORCE_N` or where the file's COP
is exactly ``(0, 0)``: the export writes ``0.000000 0.000000`` for a foot in
the air (seen up to 25 N).

Time base: the rows must lie on a uniform grid (``time * rate`` within a
quarter period of a whole number); the rate is 1 / the median time step,
rounded to 0.01 Hz (to a whole number when within 0.5 %). Missing rows
become NaN rows, never interpolated.

Metadata: ``source="import:moticon"``; ``protocol`` from ``# Recording type``
when it names one (``walk``, ``run``, ``standing``; OpenGo's own types
``normal`` / ``live`` are recording modes, so "unknown"); ``started_utc``
from ``# Start timestamp`` (true UTC) or else ``# Start time`` (the phone's
local time, written without a UTC offset: the time zone is not in the
file); ``subject`` from ``# Name``; ``devices`` from the serial numbers.

Speed: one ``pandas.read_csv`` call (C engine; the channels used as float32,
no ``usecols``, which doubles the parse time in pandas 3.1), then vectorised
conversion into one float32 block that becomes the samples frame without a
copy. A one-hour export (360 000 rows, 122 MB) loads in 0.25 s against
0.23-0.28 s for a bare ``pandas.read_csv`` of the file, with a peak of 260 MB
against its 437 MB (medians of 3; ``tests/data/moticon/README.md``).
"""

from __future__ import annotations

import csv
import io
import logging
import math
import os
import re
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..constants import (COP_X, COP_Y, FORCE, IMU_CHANNELS, N_SENSORS, SENSOR_CHANNELS, SIDES,
                         STANDARD_GRAVITY_M_S2, TIME_INDEX)
from ..errors import RecordingError, UnknownFormatError
from ..model import DeviceInfo, Recording, RecordingMeta
from ..paths import require_file
from ..signals.build import DEFAULT_COP_MIN_FORCE_N
from .common import EOL, GRID_FACTOR, GRID_SLACK, MAX_ABS_VALUE, import_quality, side_quality

log = logging.getLogger(__name__)

__all__ = ["FORMAT", "INSOLE_SIZES_MM", "Y_NORM_MEDIAL_POSITIVE", "sniff", "load", "insole_size_mm"]

#: format name; ``meta.source`` is ``"import:moticon"``
FORMAT = "moticon"

#: Moticon OpenGo insole outline per size code (``# Size: n``): (length, width) in mm.
#: Source: "values from the moticon datasheet" as copied into
#: github.com/opensimrt-ros/moticon_insoles ``config/size1..9.yaml`` and
#: github.com/fbkl/acquisition_fb_behaviors ``moticon_insole_vars_userdata_setter.py``
#: (size S6 is labelled "S6 (42-43)", i.e. EU shoe size 42-43). Consecutive sizes
#: grow by 5.0 % in length and 4.0 % in width; codes outside 1..9 are extrapolated
#: with those ratios and labelled so in the metadata.
INSOLE_SIZES_MM: dict[int, tuple[float, float]] = {
    1: (214.9, 80.2),
    2: (225.6, 83.4),
    3: (236.8, 86.7),
    4: (248.6, 90.2),
    5: (261.1, 93.8),
    6: (274.2, 97.5),
    7: (288.0, 101.4),
    8: (302.4, 105.5),
    9: (317.5, 109.7),
}
#: size assumed when the file has no usable ``# Size`` line (EU 42-43, close to
#: the project's 270 mm reference insole); labelled "assumed" in the metadata
DEFAULT_SIZE = 6
_SIZE_STEP = (1.05, 1.04)  # length, width growth per size code
_SIZE_RANGE = (0, 12)  # size codes accepted (0 and 10-12 extrapolated)

#: True: Moticon's normalised COP Y points toward the medial edge on both feet
#: (inferred from real exports; see the module docstring)
Y_NORM_MEDIAL_POSITIVE = True

_HEADER_SCAN_BYTES = 1 << 20
_UNIFORM_TOL = 0.25  # rows may sit this many periods off the grid
_MIN_RATE_HZ = 1.0
_MAX_RATE_HZ = 10_000.0
_PANDAS_FIELDS = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
_BOM_UTF8 = b"\xef\xbb\xbf"
_BOM_UTF16 = (b"\xff\xfe", b"\xfe\xff")

_NAME = re.compile(r"^(?:(left|right)\s+)?(.*?)\s*(\[[^\]]*\])?\s*$")
_PRESSURE = re.compile(r"^pressure\s*(\d+)$")
_ACC = re.compile(r"^acc(?:eleration)?\s*([xyz])$")
_GYRO = re.compile(r"^(?:angular(?:\s*(?:velocity|rate))?|gyro(?:scope)?)\s*([xyz])$")
_FORCE = re.compile(r"^total\s*force$")
_COP = re.compile(r"^(?:cent(?:er|re)\s*of\s*pressure|cop)\s*([xy])$")
#: header keys that mark an OpenGo export (Moticon's reader checks these three)
_SIGNATURE_KEYS = ("start time", "duration", "sensor insoles")
_HEADER_KEYS = ("start time", "start timestamp", "duration", "sensor insoles", "size", "recording type", "name",
                "notes", "tag")
_PROTOCOL_WORDS = (("walk", "walk"), ("gait", "walk"), ("run", "run"), ("jog", "run"), ("stand", "standing"),
                   ("balance", "standing"), ("sway", "standing"), ("posture", "standing"))


# --- header ------------------------------------------------------------------

@dataclass
class _Header:
    names: list[str]  # column names as in the file
    lines: int  # lines up to and including the column-name line (rows to skip)
    meta: dict[str, tuple[int, str]] = field(default_factory=dict)  # lower-case key -> (line, value)


@dataclass(frozen=True)
class _Column:
    index: int
    name: str
    side: str | None
    kind: str  # time, pressure, acc, gyro, force, cop
    key: str  # p01.., x/y/z
    unit: str  # normalised unit text, "" when none


def _as_utf8(data: bytes) -> bytes:
    if data[:2] in _BOM_UTF16:
        return data.decode("utf-16", errors="replace").encode("utf-8")
    return data


def _norm(text: str) -> str:
    s = text.replace("\u00b2", "2").replace("^2", "2").replace("\u00c2", "").replace("\ufffd", "")
    return re.sub(r"\s+", " ", s.strip().lstrip("#").strip().lower())


def _scan_header(buf: bytes, limit: int) -> _Header | None:
    """Leading ``#`` lines up to the ``# time<TAB>...`` column-name line, or
    None when the bytes do not start that way."""
    pos = len(_BOM_UTF8) if buf.startswith(_BOM_UTF8) else 0
    limit = min(limit, len(buf))
    line_no = 0
    meta: dict[str, tuple[int, str]] = {}
    while pos < limit:
        m = EOL.search(buf, pos)
        end, nxt = (m.start(), m.end()) if m else (len(buf), len(buf))
        line_no += 1
        text = buf[pos:end].decode("utf-8", errors="replace")
        pos = nxt
        stripped = text.strip()
        if not stripped:
            continue
        if not stripped.startswith("#"):
            return None
        body = stripped.lstrip("#").strip()
        if "\t" in body:
            names = text.strip(" \r\n").lstrip("#").split("\t")
            if _norm(names[0]).startswith("time"):
                return _Header(names=names, lines=line_no, meta=meta)
        key, colon, value = body.partition(":")
        if colon:
            meta.setdefault(re.sub(r"\s+", " ", key.strip().lower()), (line_no, value.strip()))
    return None


def _classify(index: int, name: str) -> _Column | None:
    m = _NAME.match(_norm(name))
    if m is None:
        return None
    side, base, unit = m.group(1), m.group(2).strip(), (m.group(3) or "").strip("[]").strip()
    if side is None:
        return _Column(index, name, None, "time", "", unit) if base == "time" else None
    for kind, rx in (("pressure", _PRESSURE), ("acc", _ACC), ("gyro", _GYRO), ("force", _FORCE), ("cop", _COP)):
        hit = rx.match(base)
        if hit is None:
            continue
        if kind == "pressure":
            n = int(hit.group(1)) if len(hit.group(1)) <= 3 else 0
            if not 1 <= n <= N_SENSORS:
                return None
            return _Column(index, name, side, kind, SENSOR_CHANNELS[n - 1], unit)
        return _Column(index, name, side, kind, hit.group(1) if hit.groups() else "", unit)
    return None


def _classify_all(names: list[str]) -> list[_Column]:
    return [c for c in (_classify(i, n) for i, n in enumerate(names)) if c is not None]


def _names_data(hdr: _Header) -> bool:
    return any(c.kind in ("force", "pressure") and c.side for c in _classify_all(hdr.names))


def sniff(head: bytes) -> bool:
    """True when the first bytes of a file look like a Moticon OpenGo text
    export: ``#`` header lines, at least two of ``Start time``, ``Duration``
    and ``Sensor insoles`` among them (Moticon's own reader requires all
    three), then a ``# time<TAB>...`` column-name line naming a side's total
    force or pressure columns. Never raises."""
    try:
        if head[:2] in _BOM_UTF16:
            head = _as_utf8(head[: len(head) // 2 * 2])
        hdr = _scan_header(head, len(head))
        if hdr is None:
            return False
        keys = sum(k in hdr.meta for k in _SIGNATURE_KEYS)
        return keys >= 2 and _names_data(hdr)
    except Exception:  # noqa: BLE001 - a sniffer must never raise
        return False


# --- columns and units -------------------------------------------------------

def _factor(where: str, c: _Column) -> float:
    """Multiplier from the file's unit to the frame's (kPa, N, g, dps, s)."""
    u = c.unit.replace(" ", "").replace("\u00b0", "deg")
    if c.kind == "pressure":
        if u in ("", "n/cm2", "n/cm", "n/cm^2"):
            return 10.0
        if u == "kpa":
            return 1.0
        if u in ("n/mm2", "n/mm", "mpa"):
            return 1000.0
        if u == "pa":
            return 1e-3
    elif c.kind == "force":
        if u in ("", "n"):
            return 1.0
    elif c.kind == "acc":
        if u in ("", "g"):
            return 1.0
        if u in ("m/s2", "m/s^2", "m/s"):
            return 1.0 / STANDARD_GRAVITY_M_S2
    elif c.kind == "gyro":
        if u in ("", "dps", "deg/s", "degs", "deg/sec"):
            return 1.0
        if u in ("rad/s", "rads"):
            return 180.0 / math.pi
    elif c.kind == "cop":
        if u == "" or "0.5" in u:
            return 1.0
    elif c.kind == "time":
        if u in ("", "s", "sec"):
            return 1.0
        if u == "ms":
            return 1e-3
    raise RecordingError(f"{where}: column {c.name.strip()!r} has the unit [{c.unit}], which insole cannot convert; "
                         f"export with the OpenGo default units (N/cm², g, dps, N, -0.5...+0.5)")


@dataclass
class _Layout:
    time: _Column
    sides: dict[str, dict[tuple[str, str], _Column]]  # side -> (kind, key) -> column
    factors: dict[int, float]
    ignored: list[str]


def _layout(where: str, hdr: _Header) -> _Layout:
    cols = _classify_all(hdr.names)
    seen: dict[tuple[str | None, str, str], _Column] = {}
    for c in cols:
        k = (c.side, c.kind, c.key)
        if k in seen:
            raise RecordingError(f"{where}: line {hdr.lines}: columns {seen[k].name.strip()!r} and {c.name.strip()!r} "
                                 f"are the same channel; remove one of them")
        seen[k] = c
    times = [c for c in cols if c.kind == "time"]
    if not times:
        raise RecordingError(f"{where}: line {hdr.lines}: no 'time' column; the first column of an OpenGo export is "
                             f"'time'")
    sides: dict[str, dict[tuple[str, str], _Column]] = {}
    for c in cols:
        if c.side is not None:
            sides.setdefault(c.side, {})[(c.kind, c.key)] = c
    if not sides:
        raise RecordingError(f"{where}: line {hdr.lines}: no 'left ...' or 'right ...' data columns")
    for side, chans in sides.items():
        if ("force", "") not in chans:
            raise RecordingError(f"{where}: line {hdr.lines}: the {side} insole has no '{side} total force[N]' column; "
                                 f"export it with the total force channel")
    factors = {c.index: _factor(where, c) for c in cols}
    used = {c.index for c in cols}
    ignored = [n.strip() for i, n in enumerate(hdr.names) if i not in used and n.strip()]
    return _Layout(time=times[0], sides={s: sides[s] for s in SIDES if s in sides}, factors=factors,
                   ignored=ignored)


# --- metadata ----------------------------------------------------------------

def insole_size_mm(size: int | None) -> tuple[float, float, str]:
    """Insole (length, width) in mm for a Moticon size code, and where the
    numbers come from ("datasheet", "extrapolated", "assumed")."""
    if size is None:
        length, width = INSOLE_SIZES_MM[DEFAULT_SIZE]
        return length, width, f"assumed size {DEFAULT_SIZE} (EU 42-43): the file states no size"
    if size in INSOLE_SIZES_MM:
        length, width = INSOLE_SIZES_MM[size]
        return length, width, f"size {size}, Moticon datasheet values"
    ref = 1 if size < 1 else 9
    length, width = INSOLE_SIZES_MM[ref]
    return (length * _SIZE_STEP[0] ** (size - ref), width * _SIZE_STEP[1] ** (size - ref),
            f"size {size} extrapolated from size {ref} (+5 % length, +4 % width per size)")


def _parse_size(where: str, meta: dict[str, tuple[int, str]]) -> int | None:
    if "size" not in meta:
        log.warning("%s: no '# Size' line; COP in mm assumes insole size %d", where, DEFAULT_SIZE)
        return None
    line, value = meta["size"]
    m = re.fullmatch(r"\s*[sS]?\s*(-?\d{1,3})\s*(?:\(.*\))?\s*", value)
    if m is None or not _SIZE_RANGE[0] <= int(m.group(1)) <= _SIZE_RANGE[1]:
        log.warning("%s: line %d: '# Size: %s' is not a Moticon size code; COP in mm assumes size %d",
                    where, line, value, DEFAULT_SIZE)
        return None
    return int(m.group(1))


def _started(meta: dict[str, tuple[int, str]]) -> str:
    """ISO 8601 start: from the epoch timestamp (UTC) when there is one, else
    the local wall-clock time without a UTC offset (the zone is unknown)."""
    if "start timestamp" in meta:
        text = meta["start timestamp"][1].strip()
        if re.fullmatch(r"\d{9,16}", text):
            try:
                return datetime.fromtimestamp(int(text) / 1000.0, tz=timezone.utc).isoformat(timespec="milliseconds")
            except (OverflowError, OSError, ValueError):
                pass
    if "start time" in meta:
        text = meta["start time"][1].strip()
        for fmt in ("%d.%m.%Y %H:%M:%S.%f", "%d.%m.%Y %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S",
                    "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S"):
            try:
                return datetime.strptime(text, fmt).isoformat(timespec="milliseconds")
            except ValueError:
                continue
    return ""


def _protocol(meta: dict[str, tuple[int, str]]) -> str:
    value = meta.get("recording type", (0, ""))[1].lower()
    for word, proto in _PROTOCOL_WORDS:
        if word in value:
            return proto
    return "unknown"


def _devices(meta: dict[str, tuple[int, str]], size: int | None) -> dict[str, DeviceInfo]:
    out: dict[str, DeviceInfo] = {}
    if "sensor insoles" not in meta:
        return out
    for part in meta["sensor insoles"][1].split(","):
        m = re.fullmatch(r"\s*(left|right)\b\s*(.*?)\s*", part, flags=re.IGNORECASE)
        if m:
            side = m.group(1).lower()
            out[side] = DeviceInfo(side=side, manufacturer="Moticon", model="OpenGo sensor insole"
                                   + (f" size {size}" if size is not None else ""), serial=m.group(2))
    return out


# --- reading the table -------------------------------------------------------

def _bad_value(where: str, src: Any, hdr: _Header, lay: _Layout) -> RecordingError:
    """The first field that is not a number (the slow path, on error only)."""
    cols = [lay.time, *(c for chans in lay.sides.values() for c in chans.values())]
    if hasattr(src, "seek"):
        src.seek(0)
    try:
        # as strings, with the same missing-value words as the fast pass
        raw = pd.read_csv(src, sep="\t", header=None, names=range(len(hdr.names)), usecols=[c.index for c in cols],
                          dtype=str, skiprows=hdr.lines, engine="c", quoting=csv.QUOTE_NONE, index_col=False,
                          skip_blank_lines=False, encoding="utf-8", encoding_errors="replace")
    except (ValueError, pd.errors.ParserError, UnicodeError):
        return RecordingError(f"{where}: a value is not a number; numbers use '.' as the decimal point")
    first: tuple[int, str, str] | None = None
    for c in cols:
        text = raw[c.index].fillna("").str.strip()
        bad = np.flatnonzero(pd.to_numeric(text.where(text != "", "0"), errors="coerce").isna().to_numpy())
        if bad.size and (first is None or bad[0] < first[0]):
            first = (int(bad[0]), c.name.strip(), str(text.iloc[bad[0]]))
    if first is None:
        return RecordingError(f"{where}: a value is not a number; numbers use '.' as the decimal point")
    row, name, value = first
    shown = value if len(value) <= 40 else value[:37] + "..."
    return RecordingError(f"{where}: line {hdr.lines + 1 + row}: {name} is {shown!r}, not a number; OpenGo exports "
                          f"use '.' as the decimal point and an empty field for a missing value")


def _read(where: str, src: Any, hdr: _Header, lay: _Layout) -> pd.DataFrame:
    """The table in one ``read_csv`` pass: the channels insole uses as
    float32 (time float64), the other columns as pandas infers them.

    No ``usecols``: with pandas 3.1 selecting columns made the C parser about
    twice as slow on a one-hour export (0.54-0.70 s against 0.27-0.30 s for
    all 53 columns), while float32 dtypes keep the peak memory below a bare
    ``read_csv`` of the file (measured: tests/data/moticon/README.md)."""
    cols = [lay.time, *(c for chans in lay.sides.values() for c in chans.values())]
    dtype = {c.index: (np.float64 if c.kind == "time" else np.float32) for c in cols}
    try:
        with np.errstate(over="ignore", invalid="ignore"), warnings.catch_warnings(record=True) as caught:
            # > 3.4e38 becomes inf in float32 (rejected later); a field beyond the last column is dropped
            warnings.simplefilter("always", pd.errors.ParserWarning)
            df = pd.read_csv(src, sep="\t", header=None, names=range(len(hdr.names)), skiprows=hdr.lines,
                             engine="c", quoting=csv.QUOTE_NONE, index_col=False, encoding="utf-8",
                             encoding_errors="replace", dtype=dtype, skip_blank_lines=False)
        if any(issubclass(w.category, pd.errors.ParserWarning) for w in caught):
            log.warning("%s: some rows have more fields than the %d column names (line %d); the extra fields are "
                        "ignored", where, len(hdr.names), hdr.lines)
        return df
    except pd.errors.EmptyDataError:
        raise RecordingError(f"{where}: no data rows after the column names (line {hdr.lines}); the export holds "
                             f"no samples") from None
    except pd.errors.ParserError as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else "unreadable table"
        m = _PANDAS_FIELDS.search(msg)
        if m:
            raise RecordingError(f"{where}: line {m.group(2)}: {m.group(3)} tab-separated fields where the column "
                                 f"names (line {hdr.lines}) give {m.group(1)}; every row needs one field per column "
                                 f"(an empty field for a missing value)") from None
        raise RecordingError(f"{where}: the table after line {hdr.lines} cannot be read ({msg}); every row needs "
                             f"the {len(hdr.names)} tab-separated fields the column names promise") from None
    except (ValueError, OverflowError, UnicodeError):
        raise _bad_value(where, src, hdr, lay) from None


def _timebase(where: str, t: np.ndarray, lines: np.ndarray) -> tuple[float, np.ndarray]:
    """The sampling rate and each row's grid index ``round(t * rate)``;
    ``lines`` is each row's line number in the file."""
    n = t.size
    if n < 2:
        raise RecordingError(f"{where}: only {n} data row; the sampling rate cannot be told from one time")
    with np.errstate(all="ignore"):
        d = np.diff(t)
        bad = np.flatnonzero(~(d > 0))
        if bad.size:
            i = int(bad[0])
            word = "repeats" if t[i + 1] == t[i] else "is earlier than"
            raise RecordingError(f"{where}: line {lines[i + 1]}: time {float(t[i + 1])!r} {word} line "
                                 f"{lines[i]}'s ({float(t[i])!r}); times must increase")
        period = float(np.median(d))
        rate = 1.0 / period if period > 0 else math.inf
    if not (math.isfinite(rate) and _MIN_RATE_HZ <= rate <= _MAX_RATE_HZ):
        raise RecordingError(f"{where}: the time column steps by {period:g} s per row ({rate:g} Hz); the rate must be "
                             f"{_MIN_RATE_HZ:g} Hz to {_MAX_RATE_HZ:g} Hz (is time in seconds?)")
    rate = round(rate, 2) if abs(rate - round(rate)) > 0.005 * rate else float(round(rate))
    if not float(np.max(np.abs(t))) * rate < 2.0**52:
        raise RecordingError(f"{where}: the time column holds values too large to be seconds since the start")
    x = t * rate
    k = np.rint(x).astype(np.int64)
    off = np.abs(x - k)
    if off.max() > _UNIFORM_TOL:
        i = int(np.argmax(off))
        raise RecordingError(f"{where}: line {lines[i]}: time {float(t[i])!r} is off the {rate:g} Hz grid by "
                             f"{off[i]:.2f} periods; an OpenGo export has one row per sample")
    dk = np.diff(k)
    if (dk < 1).any():
        i = int(np.flatnonzero(dk < 1)[0])
        raise RecordingError(f"{where}: line {lines[i + 1]}: time {float(t[i + 1])!r} falls on the same "
                             f"{rate:g} Hz sample as line {lines[i]}")
    n_grid = int(k[-1] - k[0]) + 1
    if n_grid > GRID_FACTOR * n + GRID_SLACK:
        i = int(np.argmax(dk))
        raise RecordingError(f"{where}: line {lines[i + 1]}: time jumps by {float(d[i]):g} s; a gap that long would "
                             f"need {n_grid - n} empty rows: split the export there")
    return rate, k


# --- the importer ------------------------------------------------------------

def load(path: str | os.PathLike) -> Recording:
    """Import a Moticon OpenGo text export.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    Recording
        Samples frame indexed by ``time_s`` (the export's time column, on
        its uniform grid at ``meta.sampling_rate_hz``; missing rows are NaN
        rows), columns ``(side, channel)``: ``p01``..``p16`` (kPa),
        ``force_n`` (N, the export's total force), ``cop_x_mm`` (positive
        toward the foot's LATERAL side), ``cop_y_mm`` (from the heel end
        toward the toes) in the foot frame, NaN while the foot is unloaded,
        and ``acc_x_g``..``gyro_z_dps`` when the export has them. Fields that
        are empty in the file (an insole not started yet) are NaN.
        ``meta.extra["cop_conversion"]`` states the insole size and axes
        used for the COP.

    Raises
    ------
    UnknownFormatError
        Not an OpenGo text export (no ``# time<TAB>...`` header line).
    RecordingError
        An export that is broken: a value that is not a number, times that
        do not increase or are not uniform, no rows, a side without its total
        force column, a unit that cannot be converted. The message gives the
        line where there is one.
    """
    p = require_file(path)
    where = str(p)
    hdr, data = _header(where, p)
    lay = _layout(where, hdr)
    src: Any = io.BytesIO(data) if data is not None else p
    df = _read(where, src, hdr, lay)
    del data
    df, t, lines = _timed_rows(where, df, hdr, lay)
    rate, k = _timebase(where, t, lines)
    size = _parse_size(where, hdr.meta)
    length_mm, width_mm, size_note = insole_size_mm(size)
    out_cols, out = _grid_columns(where, df, lay, lines, k, length_mm=length_mm, width_mm=width_mm)
    del df
    n_rows, k0 = t.size, int(k[0])
    grid_s = (k0 + np.arange(out.shape[0], dtype=np.float64)) / rate
    columns = pd.MultiIndex.from_tuples(out_cols, names=["side", "channel"])
    samples = pd.DataFrame(out, index=pd.Index(grid_s, name=TIME_INDEX), columns=columns, copy=False)
    quality = _quality(where, lay, out_cols, out, grid_s, rate, n_rows=n_rows)
    meta = RecordingMeta(
        source=f"import:{FORMAT}",
        protocol=_protocol(hdr.meta),
        sampling_rate_hz=rate,
        subject=hdr.meta.get("name", (0, ""))[1],
        body_mass_kg=None,
        started_utc=_started(hdr.meta),
        devices=_devices(hdr.meta, size),
        phases=(),
        extra=_extra(hdr.meta, lay, size, length_mm=length_mm, width_mm=width_mm, size_note=size_note),
    )
    log.info("%s: imported %d rows as %d samples at %g Hz", where, n_rows, out.shape[0], rate)
    return Recording(samples=samples, meta=meta, quality=quality, path=where)


def _header(where: str, p: Path) -> tuple[_Header, bytes | None]:
    """The export's header, and its bytes re-encoded as UTF-8 when it is UTF-16 (else None)."""
    try:
        with open(p, "rb") as fh:
            head = fh.read(_HEADER_SCAN_BYTES)
        data = None
        if head[:2] in _BOM_UTF16:
            data = _as_utf8(p.read_bytes())
            head = data[:_HEADER_SCAN_BYTES]
    except OSError as exc:
        raise RecordingError(f"{where}: cannot be read ({exc.strerror or exc})") from None
    hdr = _scan_header(head, _HEADER_SCAN_BYTES)
    if hdr is None or not _names_data(hdr):
        raise UnknownFormatError(f"{where}: not a Moticon OpenGo text export (expected '#' header lines and a "
                                 f"'# time<TAB>left pressure 1[N/cm²]...' column line)")
    return hdr, data


def _timed_rows(where: str, df: pd.DataFrame, hdr: _Header, lay: _Layout
                ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Rows with a time (wholly empty rows dropped), their times in s and their file lines."""
    lines = np.arange(hdr.lines + 1, hdr.lines + 1 + len(df), dtype=np.int64)  # file line of each row
    t = df[lay.time.index].to_numpy(dtype=np.float64)
    if lay.factors[lay.time.index] != 1.0:
        t = t * lay.factors[lay.time.index]
    data_cols = [c.index for chans in lay.sides.values() for c in chans.values()]
    no_time = np.isnan(t)
    if no_time.any():
        empty = no_time & df[data_cols].isna().all(axis=1).to_numpy()
        if (no_time & ~empty).any():
            i = int(np.flatnonzero(no_time & ~empty)[0])
            raise RecordingError(f"{where}: line {lines[i]}: the time field is empty; every row needs a time")
        keep = ~empty
        df, t, lines = df.loc[keep], t[keep], lines[keep]
        log.debug("%s: %d empty rows skipped", where, int(empty.sum()))
    if t.size == 0:
        raise RecordingError(f"{where}: no data rows after the column names (line {hdr.lines}); the export holds "
                             f"no samples")
    if not np.isfinite(t).all():
        i = int(np.flatnonzero(~np.isfinite(t))[0])
        raise RecordingError(f"{where}: line {lines[i]}: time {float(t[i])!r} is not a finite number of seconds")
    return df, t, lines


def _column_plan(lay: _Layout) -> tuple[list[tuple[str, str]], list[tuple[str, Any]]]:
    """The output columns in order, and where each comes from: ("col", _Column or None) or ("cop_x"/"cop_y", side)."""
    out_cols: list[tuple[str, str]] = []
    plan: list[tuple[str, Any]] = []
    for side, chans in lay.sides.items():
        if any(kind == "pressure" for kind, _ in chans):
            for ch in SENSOR_CHANNELS:
                out_cols.append((side, ch))
                plan.append(("col", chans.get(("pressure", ch))))
        out_cols += [(side, FORCE), (side, COP_X), (side, COP_Y)]
        plan += [("col", chans[("force", "")]), ("cop_x", side), ("cop_y", side)]
        if any(kind in ("acc", "gyro") for kind, _ in chans):
            for ch in IMU_CHANNELS:
                kind = "acc" if ch.startswith("acc") else "gyro"
                out_cols.append((side, ch))
                plan.append(("col", chans.get((kind, ch.split("_")[1]))))
    return out_cols, plan


def _values(where: str, df: pd.DataFrame, lay: _Layout, lines: np.ndarray, c: _Column | None) -> np.ndarray | None:
    """One column in insole's units (float32), checked for implausible values; None for a missing column."""
    if c is None:
        return None
    v = df[c.index].to_numpy(dtype=np.float32)
    f = lay.factors[c.index]
    if f != 1.0:
        v = v * np.float32(f)
    with np.errstate(invalid="ignore"):
        big = np.flatnonzero(~(np.abs(v) <= MAX_ABS_VALUE) & ~np.isnan(v))
    if big.size:
        i = int(big[0])
        raise RecordingError(f"{where}: line {lines[i]}: {c.name.strip()} is {float(v[i])!r}, not a "
                             f"plausible measurement; leave the field empty for a missing value")
    return v


def _foot_cop_mm(force: np.ndarray, xn: np.ndarray, yn: np.ndarray, *, length_mm: float,
                 width_mm: float) -> tuple[np.ndarray, np.ndarray]:
    """Moticon's normalised COP (X along, Y across, -0.5..0.5) in the foot frame, mm: (x lateral, y from the heel)."""
    lateral_sign = -1.0 if Y_NORM_MEDIAL_POSITIVE else 1.0
    with np.errstate(invalid="ignore"):
        undefined = ~(force >= DEFAULT_COP_MIN_FORCE_N) | ((xn == 0) & (yn == 0)) | ~(np.abs(xn) <= 5.0) \
            | ~(np.abs(yn) <= 5.0)
    along = (xn + np.float32(0.5)) * np.float32(length_mm)
    across = yn * np.float32(lateral_sign * width_mm)
    along[undefined] = np.nan
    across[undefined] = np.nan
    return across, along


def _grid_columns(where: str, df: pd.DataFrame, lay: _Layout, lines: np.ndarray, k: np.ndarray, *,
                  length_mm: float, width_mm: float) -> tuple[list[tuple[str, str]], np.ndarray]:
    """The output columns and their values on the uniform grid ``k`` (NaN rows where the export has none)."""
    out_cols, plan = _column_plan(lay)
    k0 = int(k[0])
    n_grid = int(k[-1]) - k0 + 1
    contiguous = n_grid == len(df)
    rows = None if contiguous else (k - k0)
    out = np.empty((n_grid, len(out_cols)), dtype=np.float32, order="F")
    if not contiguous:
        out.fill(np.nan)
    cop: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for side, chans in lay.sides.items():
        cx_c, cy_c = chans.get(("cop", "x")), chans.get(("cop", "y"))
        if cx_c is None or cy_c is None:
            nan = np.full(len(df), np.nan, dtype=np.float32)
            cop[side] = (nan, nan)
            continue
        cop[side] = _foot_cop_mm(_values(where, df, lay, lines, chans[("force", "")]),
                                 _values(where, df, lay, lines, cx_c), _values(where, df, lay, lines, cy_c),
                                 length_mm=length_mm, width_mm=width_mm)
    for j, (what, payload) in enumerate(plan):
        values = (_values(where, df, lay, lines, payload) if what == "col"
                  else cop[payload][0 if what == "cop_x" else 1])
        if values is None:
            out[:, j] = np.nan
        elif contiguous:
            out[:, j] = values
        else:
            out[rows, j] = values
    return out_cols, out


def _quality(where: str, lay: _Layout, out_cols: list[tuple[str, str]], out: np.ndarray, grid_s: np.ndarray,
             rate: float, *, n_rows: int) -> dict[str, Any]:
    """The import's data-quality record (per side: gaps, loss, first sample)."""
    side_q = {}
    for s in lay.sides:
        fj = out_cols.index((s, FORCE))
        q = side_quality(s, out[:, fj], grid_s, rate)
        ok = np.flatnonzero(np.isfinite(out[:, fj]))
        q["first_sample_s"] = float(grid_s[ok[0]]) if ok.size else None
        side_q[s] = q
        if q["first_sample_s"] is None:
            log.warning("%s: the %s insole has no data in the export", where, s)
    return import_quality(side_q, fmt=FORMAT, rows=n_rows, resampled=False, cop_min_force_n=DEFAULT_COP_MIN_FORCE_N)


def _extra(m: dict, lay: _Layout, size: int | None, *, length_mm: float, width_mm: float,
           size_note: str) -> dict[str, Any]:
    """``meta.extra`` of an export: the COP conversion, the vendor's header, ignored columns."""
    moticon = {key: m[key][1] for key in _HEADER_KEYS if key in m}
    extra: dict[str, Any] = {
        "cop_frame": "foot", "event_convention": "moticon",
        "foot_length_mm": length_mm,
        "insole_width_mm": width_mm,
        "cop_conversion": {
            "insole_size": size,
            "insole_length_mm": length_mm,
            "insole_width_mm": width_mm,
            "size_source": size_note,
            "axes": ("Moticon X (-0.5 heel end .. +0.5 toe end) -> cop_y_mm = (X + 0.5) * length; Moticon Y "
                     "(side agnostic, + toward the " + ("medial" if Y_NORM_MEDIAL_POSITIVE else "lateral")
                     + " edge, inferred) -> cop_x_mm = " + ("-" if Y_NORM_MEDIAL_POSITIVE else "")
                     + "Y * width (x lateral)"),
            "undefined_below_n": DEFAULT_COP_MIN_FORCE_N,
        },
        "moticon": moticon,
    }
    if lay.ignored:
        extra["ignored_columns"] = lay.ignored
    if "start time" in m and "start timestamp" not in m:
        extra["start_time_zone"] = "unknown: '# Start time' is the recording phone's local time"
    return extra
