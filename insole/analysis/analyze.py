"""``insole.analyze``: one call from a recording to the documented result."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..constants import FORCE, SIDES
from ..errors import InsoleError
from ..jsonsafe import json_safe
from ..model import Recording, check_body_mass_kg
from ..signals.forces import NO_LOAD_N
from .gait import GaitOptions, analyze_gait
from .standing import StandingOptions, StandingResult, analyze_standing

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
    """

    protocol: str
    standing: StandingResult | None
    gait: Any
    quality: dict[str, Any]
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of INTERFACE.md (NaN and infinity become null)."""
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


def analyze(recording: Recording, *, protocol: str = "auto", body_mass_kg: float | None = None,
            standing_options: StandingOptions | None = None,
            gait_options: GaitOptions | None = None, distance_m: float | None = None) -> AnalysisResult:
    """Analyse a recording.

    Parameters
    ----------
    recording : Recording
        From :func:`insole.load`.
    protocol : str
        ``auto`` (from the metadata, else from the forces), ``standing``,
        ``run`` or ``walk``.
    body_mass_kg : float, optional
        Overrides the recording's body mass.
    standing_options : StandingOptions, optional
    gait_options : GaitOptions, optional
    distance_m : float, optional
        Distance of a run, m: adds per-km drift windows.

    Returns
    -------
    AnalysisResult
        ``.to_dict()`` is the JSON of ``insole analyze --json``.
    """
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
                              source=recording.path)
    gait = analyze_gait(recording, protocol=protocol, body_mass_kg=body_mass_kg, distance_m=distance_m,
                        options=gait_options)
    quality["steps_excluded"] = gait.n_excluded
    quality["sensor_drift"] = gait.sensor.drifted
    return AnalysisResult(protocol=gait.mode, standing=None, gait=gait, quality=quality, source=recording.path)
