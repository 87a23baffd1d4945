"""Export a run or walk as a FIT activity file (``insole export FILE --to fit``).

The file imports into Garmin Connect, Strava, intervals.icu and
GoldenCheetah. It is written with Garmin's own FIT SDK (``garmin-fit-sdk``)
from the results of :func:`insole.analyze`: this module only converts them.

Messages, in order: ``file_id`` (type activity, manufacturer development,
product name ``insole``), ``developer_data_id`` and one ``field_description``
per developer field, ``device_info`` (this program, then each insole), an
``event`` timer start, one ``record`` a second, an ``event`` timer stop, the
``lap`` messages, one ``session`` and the ``activity``.

Conventions
-----------
- Record ``k`` summarises the steps whose initial contact falls in second
  ``[k, k + 1)`` of the recording and carries the timestamp
  ``started_utc + k``. A second without a step (or without a step of each
  foot, for the balance) has no such field: never a 0.
- ``cadence`` + ``fractional_cadence`` are in FIT's running unit, strides
  (cycles) per minute: steps/min = 2 x (cadence + fractional_cadence), as
  Garmin devices write and Garmin Connect shows them. The fraction has a
  resolution of 1/128, so the steps/min survive to 0.016.
- ``stance_time`` is the mean contact time of the steps (both feet), ms.
- ``stance_time_balance`` is the LEFT foot's share of left + right stance
  time, ``100 L / (L + R)`` of the two feet's mean contact times, % (50 =
  even; Garmin Connect shows it as "L 48.9 % / R 51.1 %").
- Laps are per km when the distance is known (the distance the analysis
  used, given or stored in the file; at the run's mean pace, the analysis's
  own per-km windows), else every ``lap_s`` (10 min).
- The peak force and loading rate, which FIT has no field for, are developer
  fields on the laps and the session, named by their path in the analysis
  JSON (``insole analyze --json``): ``gait.asymmetry.peak_force.si_pct``,
  ``gait.left.peak_force_n``, ... (see :data:`DEV_FIELDS`). A lap's value is
  the same quantity over that lap's steps.
"""

from __future__ import annotations

import logging
import math
import os
import uuid
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import __version__
from .analysis.analyze import AnalysisResult, analyze, detect_protocol
from .analysis.asymmetry import symmetry_angle, symmetry_index
from .constants import LEFT, RIGHT, SIDES
from .errors import InsoleError
from .model import Recording
from .paths import atomic_output, check_output

log = logging.getLogger(__name__)

__all__ = ["APPLICATION_ID", "DEV_FIELDS", "LAP_S", "FitExport", "write_fit"]

#: developer fields: (name = path in the analysis JSON, units)
DEV_FIELDS: tuple[tuple[str, str], ...] = (
    ("gait.asymmetry.peak_force.si_pct", "%"),
    ("gait.asymmetry.peak_force.sa_pct", "%"),
    ("gait.left.peak_force_n", "N"),
    ("gait.right.peak_force_n", "N"),
    ("gait.asymmetry.loading_rate.si_pct", "%"),
    ("gait.asymmetry.loading_rate.sa_pct", "%"),
    ("gait.left.loading_rate_n_s", "N/s"),
    ("gait.right.loading_rate_n_s", "N/s"),
)
#: lap length without a known distance, s
LAP_S = 600.0
#: the developer application id of insole (a fixed UUID)
APPLICATION_ID = uuid.uuid5(uuid.NAMESPACE_URL, "insole:fit-export")
#: seconds from the Unix epoch to the FIT epoch (1989-12-31T00:00:00Z)
_FIT_EPOCH_S = 631065600
_DEV_INDEX = 0
_FLOAT32 = 136  # FIT base type id


@dataclass(frozen=True)
class FitExport:
    """What :func:`write_fit` wrote.

    Attributes
    ----------
    path : Path
    n_records : int
        Record messages (one a second).
    n_laps : int
    lap_by : str
        ``"km"`` or ``"time"``.
    sport : str
        ``"running"`` or ``"walking"``.
    start_utc : datetime
        Wall clock of the recording's time 0.
    start_from : str
        Where the start came from: ``"given"``, ``"recording"`` (its
        ``started_utc``) or ``"file time"`` (the file's modification time
        less the duration: the recording has none).
    """

    path: Path
    n_records: int
    n_laps: int
    lap_by: str
    sport: str
    start_utc: datetime
    start_from: str


def write_fit(recording: Recording, path: str | os.PathLike, *, overwrite: bool = False,
              result: AnalysisResult | None = None, distance_m: float | None = None,
              start_utc: datetime | None = None, lap_s: float = LAP_S) -> FitExport:
    """Write a run or walk as a FIT activity file.

    Parameters
    ----------
    recording : Recording
        A run or walk, both feet.
    path : str or Path
        The ``.fit`` file. Written beside it and renamed into place.
    overwrite : bool
        Replace an existing file (never the recording's own).
    result : AnalysisResult, optional
        The recording's analysis (``insole.analyze(recording, ...)``); by
        default it is analysed here with ``distance_m``.
    distance_m : float, optional
        Distance of the run, m (laps per km), for the analysis made here;
        with ``result``, give it to :func:`insole.analyze` instead.
    start_utc : datetime, optional
        Wall clock of the recording's time 0 (timezone-aware); by default
        the recording's ``started_utc``, else its file's modification time
        less its duration (with a warning).
    lap_s : float
        Lap length when the distance is unknown, s.

    Returns
    -------
    FitExport

    Raises
    ------
    InsoleError
        A standing recording ("FIT export is for runs and walks"), too few
        steps, no start time to be had, or both ``result`` and
        ``distance_m``.
    OutputError
        ``path`` exists (without ``overwrite``), is the recording, a folder,
        or cannot be written.
    """
    path = check_output(path, inputs=[recording.path] if recording.path else [], force=overwrite)
    if not lap_s > 0:
        raise InsoleError(f"lap length must be positive; got {lap_s}")
    if result is not None and distance_m is not None:
        raise InsoleError("give the distance to insole.analyze when passing its result; it would be ignored here")
    if result is None:
        if detect_protocol(recording) == "standing":
            raise _standing()
        result = analyze(recording, distance_m=distance_m)
    if result.gait is None:
        raise _standing()
    start, start_from = _start_utc(recording, start_utc)
    t = recording.samples.index.to_numpy(dtype=np.float64)
    gait = result.to_dict()["gait"]
    kept = result.gait.steps[result.gait.steps["excluded"] == ""]
    laps, lap_by = _laps(gait, float(t[0]), float(t[0]) + recording.duration_s, lap_s=lap_s)
    sport = "walking" if result.protocol == "walk" else "running"
    second0 = math.floor(t[0])
    n_records = max(1, round(float(t[0]) + recording.duration_s - second0))
    seconds = second0 + np.arange(n_records + 1, dtype=np.float64)
    epoch = _fit_time(start)
    mesgs = [*_header_mesgs(recording, epoch + second0),
             {"mesg_num": 21, "timestamp": epoch + second0, "event": "timer", "event_type": "start"},
             *_records(_window_means(kept, seconds), epoch + second0)]
    end = epoch + round(float(t[0]) + recording.duration_s)
    mesgs.append({"mesg_num": 21, "timestamp": end, "event": "timer", "event_type": "stop_all"})
    mesgs += _lap_mesgs(kept, laps, epoch, sport=sport, lap_by=lap_by)
    mesgs.append(_session(gait, recording, laps, epoch, sport=sport))
    mesgs.append({"mesg_num": 34, "timestamp": end, "total_timer_time": recording.duration_s, "num_sessions": 1,
                  "type": "manual", "event": "activity", "event_type": "stop"})
    data = _encode(mesgs)
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)
    log.info("wrote %s: %d records, %d laps (%s)", path, n_records, len(laps), sport)
    return FitExport(path=path, n_records=n_records, n_laps=len(laps), lap_by=lap_by, sport=sport,
                     start_utc=start, start_from=start_from)


def _standing() -> InsoleError:
    return InsoleError("FIT export is for runs and walks; this is a standing recording")


def _start_utc(recording: Recording, given: datetime | None) -> tuple[datetime, str]:
    """The wall clock of time 0 and where it came from (see :class:`FitExport`)."""
    if given is not None:
        if given.tzinfo is None:
            raise InsoleError("start_utc needs a timezone (e.g. datetime(..., tzinfo=datetime.UTC))")
        return given, "given"
    try:
        dt = datetime.fromisoformat(recording.meta.started_utc)
        return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)), "recording"
    except (TypeError, ValueError):
        pass
    if recording.path and Path(recording.path).is_file():
        mtime = datetime.fromtimestamp(Path(recording.path).stat().st_mtime, tz=UTC)
        log.warning("%s has no start time; the FIT file starts at its modification time less its duration",
                    recording.path)
        return mtime - timedelta(seconds=recording.duration_s), "file time"
    raise InsoleError("the recording has no start time (started_utc); give one for the FIT file")


def _fit_time(dt: datetime) -> int:
    """Whole seconds since the FIT epoch (fractions dropped)."""
    return math.floor(dt.timestamp()) - _FIT_EPOCH_S


def _window_means(kept: pd.DataFrame, edges_s: np.ndarray) -> pd.DataFrame:
    """Per window ``[edges[i], edges[i+1])`` of the steps' initial contact:
    ``cadence_spm``, ``stance_time_s`` (both feet), ``balance_pct`` (left
    share of the feet's mean contact times) and each foot's mean peak force
    and loading rate (``left_peak_force_n``, ...). NaN where a window has no
    such step."""
    n = len(edges_s) - 1
    win = np.searchsorted(edges_s, kept["ic_s"].to_numpy(dtype=np.float64), side="right") - 1
    inside = (win >= 0) & (win < n)
    is_left = (kept["side"] == LEFT).to_numpy()

    def mean(col: str, rows: np.ndarray) -> np.ndarray:
        x = kept[col].to_numpy(dtype=np.float64)
        ok = inside & rows & np.isfinite(x)
        total = np.bincount(win[ok], weights=x[ok], minlength=n)
        count = np.bincount(win[ok], minlength=n)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, total / count, np.nan)

    every = np.ones(len(kept), dtype=bool)
    out = {"cadence_spm": 60.0 / mean("step_time_s", every), "stance_time_s": mean("contact_time_s", every)}
    ct = {LEFT: mean("contact_time_s", is_left), RIGHT: mean("contact_time_s", ~is_left)}
    out["balance_pct"] = 100.0 * ct[LEFT] / (ct[LEFT] + ct[RIGHT])
    for col in ("peak_force_n", "loading_rate_n_s"):
        out[f"left_{col}"] = mean(col, is_left)
        out[f"right_{col}"] = mean(col, ~is_left)
    return pd.DataFrame(out)


def _cadence(spm: float, *, prefix: str = "") -> dict[str, Any]:
    """FIT cadence fields for ``spm`` steps/min: whole strides/min and the
    fraction in 1/128 (``{}`` for NaN)."""
    if not np.isfinite(spm) or spm <= 0:
        return {}
    rpm = spm / 2.0
    whole = math.floor(rpm)
    frac = round((rpm - whole) * 128) / 128
    if frac >= 1.0:
        whole, frac = whole + 1, 0.0
    return {f"{prefix}cadence": int(min(whole, 254)), f"{prefix}fractional_cadence": float(frac)}


def _gait_fields(cadence_spm: float, stance_time_s: float, balance_pct: float, *, avg: bool) -> dict[str, Any]:
    """Cadence, stance time (ms) and balance fields, finite ones only."""
    p = "avg_" if avg else ""
    out = _cadence(cadence_spm, prefix=p)
    if np.isfinite(stance_time_s):
        out[f"{p}stance_time"] = float(1000.0 * stance_time_s)
    if np.isfinite(balance_pct):
        out[f"{p}stance_time_balance"] = float(balance_pct)
    return out


def _records(w: pd.DataFrame, first_timestamp: int) -> list[dict[str, Any]]:
    return [{"mesg_num": 20, "timestamp": first_timestamp + k,
             **_gait_fields(row.cadence_spm, row.stance_time_s, row.balance_pct, avg=False)}
            for k, row in enumerate(w.itertuples(index=False))]


def _laps(gait: dict[str, Any], t0_s: float, t1_s: float, *, lap_s: float) -> tuple[pd.DataFrame, str]:
    """Lap ``start_s``, ``end_s`` and ``distance_m`` (NaN unknown), and ``"km"`` or ``"time"``."""
    drift = gait["drift"]
    if drift.get("per_km"):
        per_km = pd.DataFrame(drift["per_km"])
        n = len(per_km)
        dist = np.full(n, 1000.0)
        dist[-1] = drift["distance_m"] - 1000.0 * (n - 1)
        return pd.DataFrame({"start_s": per_km["start_s"], "end_s": per_km["end_s"], "distance_m": dist}), "km"
    edges = np.append(np.arange(t0_s, t1_s, lap_s), t1_s)
    if len(edges) > 2 and edges[-1] - edges[-2] < 1.0:
        edges = np.delete(edges, -2)  # no lap of less than a second at the end
    return pd.DataFrame({"start_s": edges[:-1], "end_s": edges[1:], "distance_m": np.nan}), "time"


def _dev_values(d: dict[str, np.ndarray | float], i: int | None = None) -> dict[str, float]:
    """Developer field values from per-side means (arrays, indexed by ``i``), finite ones only."""
    def at(key: str) -> float:
        v = d[key]
        return float(v[i] if i is not None else v)

    out = {}
    for metric, col in (("peak_force", "peak_force_n"), ("loading_rate", "loading_rate_n_s")):
        lm, rm = at(f"left_{col}"), at(f"right_{col}")
        out[f"gait.left.{col}"], out[f"gait.right.{col}"] = lm, rm
        if lm > 0 and rm > 0:
            out[f"gait.asymmetry.{metric}.si_pct"] = float(symmetry_index(lm, rm))
            out[f"gait.asymmetry.{metric}.sa_pct"] = float(symmetry_angle(lm, rm))
    return {k: v for k, v in out.items() if np.isfinite(v)}


def _lap_mesgs(kept: pd.DataFrame, laps: pd.DataFrame, epoch: int, *, sport: str, lap_by: str) -> list[dict[str, Any]]:
    edges = np.append(laps["start_s"].to_numpy(), laps["end_s"].to_numpy()[-1])
    w = _window_means(kept, edges)
    out = []
    for i, lap in enumerate(laps.itertuples(index=False)):
        elapsed = float(lap.end_s - lap.start_s)
        mesg = {"mesg_num": 19, "message_index": i, "timestamp": epoch + round(lap.end_s),
                "start_time": epoch + round(lap.start_s), "total_elapsed_time": elapsed,
                "total_timer_time": elapsed, "event": "lap", "event_type": "stop", "sport": sport,
                "sub_sport": "generic",
                "lap_trigger": "session_end" if i == len(laps) - 1 else ("distance" if lap_by == "km" else "time"),
                **_gait_fields(w["cadence_spm"][i], w["stance_time_s"][i], w["balance_pct"][i], avg=True),
                "developer_fields": _dev_values({k: w[k].to_numpy() for k in w.columns}, i)}
        out.append(_with_distance(mesg, lap.distance_m, elapsed))
    return out


def _with_distance(mesg: dict[str, Any], distance_m: float, elapsed_s: float) -> dict[str, Any]:
    if np.isfinite(distance_m) and distance_m > 0 and elapsed_s > 0:
        mesg["total_distance"] = float(distance_m)
        mesg["enhanced_avg_speed"] = float(distance_m / elapsed_s)
    return mesg


def _session(gait: dict[str, Any], recording: Recording, laps: pd.DataFrame, epoch: int, *,
             sport: str) -> dict[str, Any]:
    """The session: the analysis's own whole-run values."""
    side = {s: gait[s] for s in SIDES}
    ct = {s: side[s]["contact_time_s"] for s in SIDES}
    n = gait["n_steps"]
    stance = balance = float("nan")
    if all(v is not None for v in ct.values()):
        stance = (n[LEFT] * ct[LEFT] + n[RIGHT] * ct[RIGHT]) / max(n[LEFT] + n[RIGHT], 1)
        balance = 100.0 * ct[LEFT] / (ct[LEFT] + ct[RIGHT])
    t0 = float(recording.samples.index[0])
    per_side = {f"{s}_{col}": _nan(side[s][col]) for s in SIDES for col in ("peak_force_n", "loading_rate_n_s")}
    dev = _dev_values(per_side)
    # the indices as the analysis reports them (its per-side means are the same)
    for metric in ("peak_force", "loading_rate"):
        a = gait["asymmetry"].get(metric) or {}
        for key in ("si_pct", "sa_pct"):
            dev.pop(f"gait.asymmetry.{metric}.{key}", None)
            if a.get(key) is not None:
                dev[f"gait.asymmetry.{metric}.{key}"] = float(a[key])
    mesg = {"mesg_num": 18, "message_index": 0, "timestamp": epoch + round(t0 + recording.duration_s),
            "start_time": epoch + math.floor(t0), "total_elapsed_time": recording.duration_s,
            "total_timer_time": recording.duration_s, "event": "session", "event_type": "stop",
            "trigger": "activity_end", "sport": sport, "sub_sport": "generic", "first_lap_index": 0,
            "num_laps": len(laps), **_gait_fields(_nan(gait["cadence_spm"]), stance, balance, avg=True),
            "developer_fields": dev}
    return _with_distance(mesg, float(gait["drift"].get("distance_m") or np.nan), recording.duration_s)


def _nan(v: Any) -> float:
    return float("nan") if v is None else float(v)


def _header_mesgs(recording: Recording, created: int) -> list[dict[str, Any]]:
    """file_id, the developer data id and field descriptions, device_info."""
    major, minor = (int(x) for x in (__version__.split(".") + ["0"])[:2])
    serial = zlib.crc32(f"{recording.meta.started_utc}|{recording.meta.subject}|{recording.path}".encode()) or 1
    out: list[dict[str, Any]] = [
        {"mesg_num": 0, "type": "activity", "manufacturer": "development", "product": 0,
         "product_name": "insole", "serial_number": serial, "time_created": created},
        {"mesg_num": 207, "developer_data_index": _DEV_INDEX, "application_id": list(APPLICATION_ID.bytes),
         "manufacturer_id": "development", "application_version": major * 100 + minor},
    ]
    out += [{"mesg_num": 206, "developer_data_index": _DEV_INDEX, "field_definition_number": i,
             "fit_base_type_id": _FLOAT32, "field_name": name, "units": units}
            for i, (name, units) in enumerate(DEV_FIELDS)]
    out.append({"mesg_num": 23, "timestamp": created, "device_index": "creator", "manufacturer": "development",
                "product": 0, "product_name": "insole", "software_version": major + minor / 100.0,
                "serial_number": serial})
    for i, side in enumerate(recording.sides, start=1):
        dev = recording.meta.devices.get(side)
        mesg = {"mesg_num": 23, "timestamp": created, "device_index": i, "manufacturer": "development",
                "product": 0, "product_name": f"insole {side}"}
        if dev is not None:
            if " ".join(x for x in (dev.model, dev.serial) if x):
                mesg["descriptor"] = " ".join(x for x in (dev.model, dev.serial) if x)
            if dev.battery_pct is not None:
                mesg["battery_level"] = int(dev.battery_pct)
        out.append(mesg)
    return out


def _encode(mesgs: list[dict[str, Any]]) -> bytes:
    """The FIT file's bytes (header, messages, CRC), by Garmin's encoder."""
    from garmin_fit_sdk import Encoder

    dev_id = next(m for m in mesgs if m["mesg_num"] == 207)
    enc = Encoder()
    for m in mesgs:
        if m["mesg_num"] == 206:
            enc.add_developer_field(m["field_name"], dev_id, m)
    for m in mesgs:
        if m.get("developer_fields") == {}:
            m = {k: v for k, v in m.items() if k != "developer_fields"}
        try:
            enc.write_mesg(m)
        except ValueError as exc:  # a value FIT cannot hold (out of range): a bug here, said plainly
            raise InsoleError(f"cannot encode FIT message {m['mesg_num']}: {exc}") from None
    return enc.close()
