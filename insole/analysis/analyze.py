"""``insole.analyze``: one call from a recording to the documented result."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ..constants import FORCE, SIDES
from ..errors import InsoleError
from ..jsonsafe import json_safe
from ..model import Recording, check_body_mass_kg
from ..signals.forces import NO_LOAD_N
from .gait import GaitOptions, analyze_gait
from .standing import StandingOptions, StandingResult, analyze_standing

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger("insole")

__all__ = ["AnalysisResult", "analyze", "detect_protocol", "require_load", "SCHEMA", "PROTOCOLS"]

SCHEMA = "insole.analysis/1"
PROTOCOLS = ("auto", "standing", "run", "walk")


@dataclass(frozen=True)
class AnalysisResult:
    """Everything ``insole analyze`` reports.

    Attributes
    ----------
    protocol : str
        ``standing``, ``run`` or ``walk``.
    standing : StandingResult or None
    gait : GaitResult or None
    quality : dict
        Data quality: packet loss per foot, gaps, clock drift between the
        feet, battery, calibration.
    source : str
        The file analysed ("" when built in memory).
    subject : str
        The recording's subject.
    body_mass_kg : float or None
        The body mass the analysis used (given, else the recording's), kg.
    recording_source : str
        Where the data came from (``meta.source``: ``"simulator"``,
        ``"import:gaitpdb"``, ``"frame"``, ...).
    data_quality : str
        The report's data-quality verdict: ``good``, ``fair`` or ``poor``.
    """

    protocol: str
    standing: StandingResult | None
    gait: Any
    quality: dict[str, Any]
    source: str = ""
    subject: str = ""
    body_mass_kg: float | None = None
    recording_source: str = ""
    data_quality: str = ""

    def summary(self) -> pd.Series:
        """One flat row of scalars for a cohort table (the column
        names are stable; more may be added).

        Always: ``subject``, ``source`` (where the data came from:
        ``meta.source``), ``protocol``, ``sampling_rate_hz``, ``duration_s``,
        ``body_mass_kg``, ``favoured_side`` (``left``/``right``/``none``),
        ``data_quality`` (``good``/``fair``/``poor``),
        ``packet_loss_left_pct``, ``packet_loss_right_pct``. Gait: cadence,
        steps per foot, per-side means ``<metric>_left``/``_right``, per
        asymmetry metric ``<metric>_si_pct``, ``_si_ci_low_pct``,
        ``_si_ci_high_pct``, ``_sa_pct``, ``_used_for_verdict`` (SI positive
        when the RIGHT side is larger), double support, PCI, speed, stride
        length, ``contact_time_slope_pp_per_10min``. Standing: the pooled
        ``left_load_pct`` with its 95 % CI, per phase
        ``<phase>_left_load_pct``, ``<phase>_sway_velocity_mm_s``,
        ``<phase>_ellipse95_area_mm2``, ``romberg_velocity``,
        ``romberg_area``, ``eyes_closed_shift_pp`` (positive = load moved to
        the LEFT with the eyes closed).

        Returns
        -------
        pandas.Series
            Index = column names; values float, int, str or bool; NaN where
            a number does not apply, None where a flag does not.
        """
        import pandas as pd

        return pd.Series(_summary_row(self), dtype=object, name=self.subject or self.source or None)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of `insole analyze --json` (docs/formats.md; NaN and infinity become null)."""
        return json_safe({
            "schema": SCHEMA,
            "protocol": self.protocol,
            "source": self.source,
            "standing": self.standing.to_dict() if self.standing else None,
            "gait": self.gait.to_dict() if self.gait is not None else None,
            "quality": self.quality,
        })


def detect_protocol(recording: Recording) -> str:
    """``standing``, ``run`` or ``walk``: from the metadata when it says, else
    from the forces (standing keeps both feet loaded; gait unloads each foot
    for a good share of the time, running also both at once)."""
    if recording.meta.protocol in ("standing", "run", "walk"):
        return recording.meta.protocol
    s = recording.samples
    if not set(SIDES) <= set(recording.sides):
        raise InsoleError("cannot tell the protocol with one foot only; give --protocol")
    f = np.column_stack([s[(side, FORCE)].to_numpy(dtype=np.float64) for side in SIDES])
    f = f[np.isfinite(f).all(axis=1)]
    if f.size == 0:
        raise InsoleError("the recording has no samples with both feet")
    level = 0.1 * np.percentile(f.sum(axis=1), 50)
    unloaded = f < level
    if unloaded.any(axis=1).mean() < 0.2:
        return "standing"
    return "run" if unloaded.all(axis=1).mean() > 0.05 else "walk"


def require_load(recording: Recording) -> None:
    """Raise :class:`~insole.errors.InsoleError` when a foot never carries
    any load (its force stays below :data:`~insole.signals.forces.NO_LOAD_N`
    throughout): a file without forces, or an insole that was not worn or not
    working, cannot be judged."""
    peak = {}
    for side in recording.sides:
        f = recording.samples[(side, FORCE)].to_numpy(dtype=np.float64)
        f = f[np.isfinite(f)]
        peak[side] = float(f.max()) if f.size else float("nan")
    dead = [side for side, v in peak.items() if not v >= NO_LOAD_N]
    if not dead:
        return
    where = f"{recording.path}: " if recording.path else ""
    if len(dead) == len(peak):
        feet = "both feet" if len(dead) == 2 else f"the {dead[0]} foot"
        raise InsoleError(f"{where}the data carry no load (the force stays below {NO_LOAD_N:g} N on {feet} "
                          "throughout), so there is nothing to judge; were the insoles worn and working, and are the "
                          "forces in newtons?")
    side = dead[0]
    other = next(s for s in peak if s not in dead)
    got = "has no samples" if np.isnan(peak[side]) else f"never reads more than {peak[side]:.0f} N"
    raise InsoleError(f"{where}the {side} insole {got} while the {other} one reads up to {peak[other]:.0f} N: "
                      f"the {side} insole was not worn or not working, and the analysis needs both feet")


def _quality(recording: Recording) -> dict[str, Any]:
    q = recording.quality
    return {
        "packet_loss_pct": q.get("packet_loss_pct", {}),
        "gaps": q.get("gaps", []),
        "clock_drift_between_feet_ppm": q.get("clock_drift_between_feet_ppm"),
        "battery_pct": q.get("battery_pct", {}),
        "damaged_file": q.get("damaged_file", False),
        "duration_s": recording.duration_s,
        "sampling_rate_hz": recording.meta.sampling_rate_hz,
    }


def analyze(recording: Recording | pd.DataFrame, *, protocol: str | None = None, body_mass_kg: float | None = None,
            standing_options: StandingOptions | None = None,
            gait_options: GaitOptions | None = None, distance_m: float | None = None,
            sampling_rate_hz: float | None = None, phases: Any = ()) -> AnalysisResult:
    """Analyse a recording, or a DataFrame of forces.

    Parameters
    ----------
    recording : Recording or pandas.DataFrame
        From :func:`insole.load`, or a DataFrame for
        :meth:`Recording.from_frame <insole.model.Recording.from_frame>`
        (then ``sampling_rate_hz`` and ``protocol`` are required).
    protocol : str
        ``auto`` (from the metadata, else from the forces; the default for a
        recording), ``standing``, ``run`` or ``walk``.
    body_mass_kg : float, optional
        Overrides the recording's body mass (a DataFrame: the body mass).
    sampling_rate_hz : float, optional
        A DataFrame's sampling rate, Hz (not for a recording).
    phases : iterable
        A DataFrame's phases: :class:`~insole.model.Phase` or
        ``(name, start_s, end_s)`` tuples, s (not for a recording).
    standing_options : StandingOptions, optional
    gait_options : GaitOptions, optional
    distance_m : float, optional
        Distance of a run, m: adds per-km drift windows.

    Returns
    -------
    AnalysisResult
        ``.to_dict()`` is the JSON of ``insole analyze --json``.
    """
    recording = _as_recording(recording, sampling_rate_hz=sampling_rate_hz, protocol=protocol,
                              body_mass_kg=body_mass_kg, phases=phases)
    protocol = "auto" if protocol is None else protocol
    if protocol not in PROTOCOLS:
        raise InsoleError(f"protocol must be one of {', '.join(PROTOCOLS)}; got {protocol!r}")
    check_body_mass_kg(body_mass_kg)
    require_load(recording)
    if protocol == "auto":
        protocol = detect_protocol(recording)
    quality = _quality(recording)
    if protocol == "standing":
        standing = analyze_standing(recording, options=standing_options, body_mass_kg=body_mass_kg)
        quality["calibration"] = standing.calibration.to_dict()
        return AnalysisResult(protocol="standing", standing=standing, gait=None, quality=quality,
                              **_about(recording, body_mass_kg, None))
    gait = analyze_gait(recording, protocol=protocol, body_mass_kg=body_mass_kg, distance_m=distance_m,
                        options=gait_options)
    quality["steps_excluded"] = gait.n_excluded
    quality["sensor_drift"] = gait.sensor.drifted
    return AnalysisResult(protocol=gait.mode, standing=None, gait=gait, quality=quality,
                          **_about(recording, body_mass_kg, gait))


def _as_recording(data: Any, *, sampling_rate_hz: float | None, protocol: str | None,
                  body_mass_kg: float | None, phases: Any) -> Recording:
    """The recording to analyse: ``data`` itself, or built from a DataFrame."""
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        if sampling_rate_hz is None or protocol is None:
            raise InsoleError("insole.analyze(df) needs the data's sampling_rate_hz and protocol, e.g. "
                              "insole.analyze(df, sampling_rate_hz=100, protocol='walk'); protocol is one of "
                              "standing, run, walk, auto")
        return Recording.from_frame(data, sampling_rate_hz=sampling_rate_hz, protocol=protocol,
                                    body_mass_kg=body_mass_kg, phases=phases)
    if not isinstance(data, Recording):
        raise InsoleError(f"insole.analyze needs a Recording (from insole.load) or a pandas DataFrame; got "
                          f"{type(data).__name__}")
    if sampling_rate_hz is not None or tuple(phases):
        raise InsoleError("sampling_rate_hz and phases are for a DataFrame; a Recording carries its own")
    return data


def _about(recording: Recording, body_mass_kg: float | None, gait: Any) -> dict[str, Any]:
    """The recording's facts the result keeps for :meth:`AnalysisResult.summary`."""
    from ..report.text import quality_verdict

    level, _ = quality_verdict([recording], [gait])
    return {"source": recording.path, "subject": recording.meta.subject,
            "body_mass_kg": body_mass_kg or recording.meta.body_mass_kg,
            "recording_source": recording.meta.source, "data_quality": level}


# --- the cohort row (AnalysisResult.summary) ----------------------------------

#: per-side gait means in the summary row (``<name>_left`` / ``<name>_right``)
SUMMARY_SIDE_METRICS = ("contact_time_s", "flight_time_s", "swing_time_s", "swing_pct", "stance_pct",
                        "stride_time_s", "peak_force_n", "impulse_ns", "loading_rate_n_s", "stride_time_cv_pct",
                        "swing_time_cv_pct", "stance_time_cv_pct")
#: asymmetry metrics in the summary row (all of them for runs and walks: NaN where one does not apply)
SUMMARY_ASYMMETRY_METRICS = ("contact_time", "flight_time", "swing_time", "peak_force", "impulse", "loading_rate")


def _num(x: Any) -> float:
    """A number as float; NaN for None or anything that is not one."""
    try:
        return float(x)
    except (TypeError, ValueError):
        return float("nan")


def _summary_row(r: AnalysisResult) -> dict[str, Any]:
    loss = r.quality.get("packet_loss_pct") or {}
    favoured = (r.gait.favoured_side if r.gait is not None
                else r.standing.favoured_side if r.standing is not None else "none")
    row: dict[str, Any] = {
        "subject": r.subject, "source": r.recording_source, "protocol": r.protocol,
        "sampling_rate_hz": _num(r.quality.get("sampling_rate_hz")), "duration_s": _num(r.quality.get("duration_s")),
        "body_mass_kg": _num(r.body_mass_kg), "favoured_side": favoured, "data_quality": r.data_quality,
        "packet_loss_left_pct": _num(loss.get("left")), "packet_loss_right_pct": _num(loss.get("right")),
    }
    if r.gait is not None:
        row.update(_gait_row(r.gait))
    if r.standing is not None:
        row.update(_standing_row(r.standing))
    return row


def _gait_row(g: Any) -> dict[str, Any]:
    row: dict[str, Any] = {"cadence_spm": _num(g.cadence_spm), "n_steps_left": int(g.n_steps["left"]),
                           "n_steps_right": int(g.n_steps["right"])}
    for name in SUMMARY_SIDE_METRICS:
        for side in SIDES:
            row[f"{name}_{side}"] = _num(g.per_side[side].get(name))
    asym = dict(g.asymmetry)
    if g.swing_asymmetry is not None:
        asym["swing_time"] = g.swing_asymmetry
    for name in SUMMARY_ASYMMETRY_METRICS:
        a = asym.get(name)
        ci = a.ci95_si_pct if a is not None and a.ci95_si_pct else (None, None)
        row[f"{name}_si_pct"] = _num(a.si_pct if a is not None else None)
        row[f"{name}_si_ci_low_pct"] = _num(ci[0])
        row[f"{name}_si_ci_high_pct"] = _num(ci[1])
        row[f"{name}_sa_pct"] = _num(a.sa_pct if a is not None else None)
        row[f"{name}_used_for_verdict"] = bool(a.used_for_verdict) if a is not None else None
    slope = (g.drift.get("slope_pp_per_10min") or {}).get("contact_time") or {}
    row.update({"double_support_pct": _num(g.double_support_pct), "pci_pct": _num(g.pci_pct),
                "speed_m_s": _num(g.speed_m_s), "stride_length_m": _num(g.stride_length_m),
                "contact_time_slope_pp_per_10min": _num(slope.get("value"))})
    return row


def _standing_row(st: StandingResult) -> dict[str, Any]:
    lo, hi = st.ci95_left_load_pct
    row: dict[str, Any] = {"left_load_pct": _num(st.left_load_pct), "left_load_ci_low_pct": _num(lo),
                           "left_load_ci_high_pct": _num(hi)}
    for p in st.phases:
        sway = p.sway or {}
        row[f"{p.name}_left_load_pct"] = _num(p.left_load_pct)
        row[f"{p.name}_sway_velocity_mm_s"] = _num(sway.get("mean_velocity_mm_s"))
        row[f"{p.name}_ellipse95_area_mm2"] = _num(sway.get("ellipse95_area_mm2"))
    romberg = st.romberg or {}
    row.update({"romberg_velocity": _num(romberg.get("mean_velocity")),
                "romberg_area": _num(romberg.get("ellipse95_area")),
                "eyes_closed_shift_pp": _num(st.eyes_closed_shift_pp)})
    return row
