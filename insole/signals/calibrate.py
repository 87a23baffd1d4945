"""Zeroing and body-weight calibration (docs/science.md, pre-processing).

- Zeroing: each sensor's baseline is its median while its foot is in the
  air (the guided standing test lifts each foot in turn: phases
  ``lift_left`` and ``lift_right``); it is subtracted from that sensor.
- Calibration: while one foot is lifted, the other carries the whole body
  weight, so each insole gets its own gain ``BW / mean(F)``. This removes a
  gain mismatch between the insoles, which would otherwise shift the left
  share by about ``25 * e`` points for a mismatch ``e`` (docs/science.md). Without
  the lifts, a common factor ``BW / mean(F_L + F_R)`` over quiet two-legged
  standing puts forces in body weights but cannot correct a mismatch.

Every function returns a new recording; the input is never changed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..constants import COP_X, COP_Y, FORCE, LEFT, RIGHT, SENSOR_CHANNELS, SIDES
from ..errors import InsoleError
from ..model import Phase, Recording, body_weight_n
from .forces import NO_LOAD_N, force_and_cop, layout_for, sensor_channels

log = logging.getLogger(__name__)

__all__ = ["Calibration", "LIFT_PHASES", "unloaded_baselines", "subtract_baselines", "calibrate", "calibrated_from"]

#: phase in which each foot is in the air
LIFT_PHASES = {LEFT: "lift_left", RIGHT: "lift_right"}
#: the other foot's: while the left is lifted, the right carries everything
_CARRIER = {LEFT: RIGHT, RIGHT: LEFT}
CALIBRATION_METHODS = ("auto", "single_leg", "body_weight", "none")


@dataclass(frozen=True)
class Calibration:
    """What was done to the forces, for the report's methods page.

    Attributes
    ----------
    method : str
        ``"single_leg"``, ``"body_weight"`` or ``"none"``.
    gains : dict
        Side -> factor the force was multiplied by.
    zeroed : bool
        Whether sensor baselines were subtracted.
    baseline_n : dict
        Side -> force the subtracted baselines amounted to, N.
    body_weight_n : float or None
        Body weight used (from the body mass), N.
    two_leg_sum_bw : float or None
        Mean of ``F_L + F_R`` over quiet standing after calibration, in body
        weights: 1.0 when the insoles are right (real ones read 1.2-1.4 x
        before calibration).
    note : str
        Plain words for the report.
    """

    method: str
    gains: dict[str, float] = field(default_factory=dict)
    zeroed: bool = False
    baseline_n: dict[str, float] = field(default_factory=dict)
    body_weight_n: float | None = None
    two_leg_sum_bw: float | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "gains": self.gains, "zeroed": self.zeroed, "baseline_n": self.baseline_n,
                "body_weight_n": self.body_weight_n, "two_leg_sum_bw": self.two_leg_sum_bw, "note": self.note}


def _phase(recording: Recording, name: str) -> Phase | None:
    return next((p for p in recording.meta.phases if p.name == name), None)


def _window(recording: Recording, phase: Phase, settle_s: float) -> np.ndarray:
    t = recording.samples.index.to_numpy()
    return (t >= phase.start_s + settle_s) & (t < phase.end_s)


def unloaded_baselines(recording: Recording, *, settle_s: float = 0.5) -> dict[str, np.ndarray]:
    """Per-sensor baselines of each foot while it is lifted, kPa.

    Parameters
    ----------
    recording : Recording
        Needs per-sensor channels, the insole's stored sensor layout and the
        phases ``lift_left`` / ``lift_right``; a foot without them is left
        out.
    settle_s : float
        Seconds dropped at the start of each lift phase.

    Returns
    -------
    dict
        Side -> ``(n_sensors,)`` median pressure of each sensor, kPa.
    """
    out = {}
    for side in recording.sides:
        phase = _phase(recording, LIFT_PHASES[side])
        dev = recording.meta.devices.get(side)
        chans = sensor_channels(recording.samples.columns, side)
        if phase is None or not chans:
            continue
        if dev is None or not dev.layout:
            # per-sensor zeroing recomputes force and COP from the sensor layout:
            # without the insole's own layout (imported data) it is not done
            log.info("%s: no sensor layout stored; sensors not zeroed", side)
            continue
        sel = _window(recording, phase, settle_s)
        p = recording.samples.loc[sel, [(side, c) for c in chans]].to_numpy(dtype=np.float64)
        if np.isfinite(p).all(axis=1).sum() >= 10:
            out[side] = np.nanmedian(p, axis=0)
    return out


def subtract_baselines(recording: Recording, baselines: dict[str, np.ndarray]) -> Recording:
    """A new recording with each sensor's baseline subtracted and the foot's
    force and centre of pressure recomputed. Values may become slightly
    negative (noise around zero); they are not clipped, so means stay
    unbiased."""
    samples = recording.samples.copy()
    for side, base in baselines.items():
        cols = [(side, c) for c in sensor_channels(samples.columns, side)]
        p = samples[cols].to_numpy(dtype=np.float32) - base.astype(np.float32)
        layout = layout_for(recording.meta, side)
        force, cx, cy = force_and_cop(p, x_mm=layout.x_mm, y_mm=layout.y_mm, area_mm2=layout.area_mm2,
                                      min_force_n=recording.quality.get("cop_min_force_n", 20.0))
        samples[cols] = p
        samples[(side, FORCE)] = force
        samples[(side, COP_X)] = cx
        samples[(side, COP_Y)] = cy
    return replace(recording, samples=samples)


def _scaled(recording: Recording, gains: dict[str, float]) -> Recording:
    samples = recording.samples.copy()
    for side, g in gains.items():
        cols = [(side, c) for c in (*SENSOR_CHANNELS, FORCE) if (side, c) in samples.columns]
        samples[cols] = samples[cols] * np.float32(g)
    return replace(recording, samples=samples)


def _mean_force(recording: Recording, side: str, sel: np.ndarray) -> float:
    f = recording.samples[(side, FORCE)].to_numpy(dtype=np.float64)[sel]
    return float(np.nanmean(f)) if np.isfinite(f).any() else float("nan")


def _quiet_total(recording: Recording, quiet_phases: tuple[Phase, ...]) -> float:
    """Mean of ``F_L + F_R`` (the sum of each foot's mean) over the quiet phases, N."""
    sel = np.zeros(len(recording.samples), dtype=bool)
    for p in quiet_phases:
        sel |= _window(recording, p, 0.0)
    return sum(_mean_force(recording, s, sel) for s in recording.sides)


def calibrate(recording: Recording, *, quiet_phases: tuple[Phase, ...], method: str = "auto", zero: bool = True,
              body_mass_kg: float | None = None, settle_s: float = 0.5) -> tuple[Recording, Calibration]:
    """Zero the sensors and calibrate the forces of a standing recording.

    Parameters
    ----------
    recording : Recording
    quiet_phases : tuple of Phase
        Two-legged quiet standing (for the ``body_weight`` method and the
        check after calibration).
    method : str
        ``"auto"``: ``single_leg`` when both lift phases exist and the
        carrying foot has data in each, else ``body_weight`` when the body
        mass is known and quiet standing has data, else ``none`` (the note
        says why single-leg calibration was not possible).
    zero : bool
        Subtract the sensors' baselines from the lift phases first.
    body_mass_kg : float, optional
        Overrides the recording's body mass.
    settle_s : float
        Seconds dropped at the start of each lift phase.

    Returns
    -------
    (Recording, Calibration)
    """
    if method not in CALIBRATION_METHODS:
        raise InsoleError(f"calibration must be one of {', '.join(CALIBRATION_METHODS)}; got {method!r}")
    mass = body_mass_kg or recording.meta.body_mass_kg
    bw = body_weight_n(mass)
    baseline_n: dict[str, float] = {}
    zeroed = False
    if zero:
        baselines = unloaded_baselines(recording, settle_s=settle_s)
        if baselines:
            for side, b in baselines.items():
                area = layout_for(recording.meta, side).area_mm2
                baseline_n[side] = float(b @ area / 1000.0)
            recording = subtract_baselines(recording, baselines)
            zeroed = True
    lifts = {side: _phase(recording, LIFT_PHASES[side]) for side in SIDES}
    have_lifts = all(lifts.values()) and set(recording.sides) == set(SIDES)
    # while the left foot is lifted the right one carries the body weight
    carried = ({_CARRIER[s]: _mean_force(recording, _CARRIER[s], _window(recording, lifts[s], settle_s))
                for s in SIDES} if have_lifts else {})
    # a lift without data from the carrying foot (an insole connected late) cannot calibrate
    missing = [s for s in SIDES if have_lifts and np.isnan(carried[_CARRIER[s]])]
    why_not = ""
    if method == "auto":
        auto_total = _quiet_total(recording, quiet_phases) if bw else float("nan")
        method = ("single_leg" if have_lifts and not missing else
                  "body_weight" if bw and np.isfinite(auto_total) else "none")
        if missing:
            why_not = (f"; single-leg calibration was not possible: the {_CARRIER[missing[0]]} insole has no data "
                       f"while the {missing[0]} foot was lifted")
    gains: dict[str, float] = {}
    if method == "single_leg":
        if not have_lifts:
            raise InsoleError("single-leg calibration needs the phases lift_left and lift_right "
                              "(the guided standing test records them)")
        for lifted in SIDES:
            carrier, f, ph = _CARRIER[lifted], carried[_CARRIER[lifted]], lifts[lifted]
            if not f >= NO_LOAD_N:
                what = "had no data" if np.isnan(f) else f"read {f:.0f} N"
                raise InsoleError(f"calibration failed: the {carrier} insole {what} while the {lifted} foot was "
                                  f"lifted ({ph.name}, {ph.start_s:.1f}-{ph.end_s:.1f} s), when it should carry the "
                                  f"whole body; check the {carrier} insole and repeat the test")
        target = bw if bw else float(np.mean(list(carried.values())))
        gains = {side: target / f for side, f in carried.items()}
        note = ("each insole calibrated while it carried the whole body weight (the other foot lifted)"
                if bw else "insoles matched to each other while each carried the whole body (body mass unknown)")
    elif method == "body_weight":
        if not bw:
            raise InsoleError("body-weight calibration needs the body mass (--body-mass-kg)")
        total = _quiet_total(recording, quiet_phases)
        if not total >= NO_LOAD_N:
            what = "have no data" if np.isnan(total) else f"carry {total:.0f} N together"
            raise InsoleError(f"calibration failed: the feet {what} during quiet standing "
                              f"({', '.join(p.name for p in quiet_phases)}); nothing to calibrate against")
        g = bw / total
        gains = {side: g for side in recording.sides}
        note = "one common factor so that quiet two-legged standing sums to body weight; a gain mismatch between the insoles is not corrected"
    else:
        note = "forces as recorded (not calibrated)"
    note += why_not
    gains = {s: float(g) for s, g in gains.items()}
    if gains:
        if not all(np.isfinite(g) and g > 0 for g in gains.values()):
            raise InsoleError("calibration failed: a foot carried no force while the other was lifted")
        recording = _scaled(recording, gains)
    two_leg = None
    if bw and quiet_phases and set(recording.sides) == set(SIDES):
        sel = np.zeros(len(recording.samples), dtype=bool)
        for p in quiet_phases:
            sel |= _window(recording, p, 0.0)
        two_leg = float(sum(_mean_force(recording, s, sel) for s in SIDES) / bw)
    log.info("calibration %s gains %s zeroed %s", method, gains, zeroed)
    return recording, Calibration(method=method, gains=gains, zeroed=zeroed, baseline_n=baseline_n,
                                  body_weight_n=bw, two_leg_sum_bw=two_leg, note=note)


def calibrated_from(recording: Recording, standing: Recording, *,
                    body_mass_kg: float | None = None) -> tuple[Recording, Calibration]:
    """A walk or run with the single-leg gains of a standing test of the same insoles.

    A walk alone cannot tell a gain difference between the two insoles from
    a difference between the feet; the standing test's foot lifts can (each
    insole carries the whole body in turn). The walk's forces and sensor
    pressures are multiplied by those gains, and ``meta.extra["calibration"]``
    records it, so the walk's force metrics may vote
    (:func:`insole.analysis.gait.force_gains_unmatched`).

    Parameters
    ----------
    recording : Recording
        The walk or run.
    standing : Recording
        A standing test with the phases ``lift_left`` and ``lift_right``,
        recorded with the same insoles (same serial numbers where both
        recordings know them).
    body_mass_kg : float, optional
        Overrides the standing test's body mass.

    Returns
    -------
    (Recording, Calibration)

    Raises
    ------
    InsoleError
        When the standing test has no foot lifts, or was recorded with other
        insoles.
    """
    for side in SIDES:
        a, b = recording.meta.devices.get(side), standing.meta.devices.get(side)
        if a is not None and b is not None and a.serial and b.serial and a.serial != b.serial:
            raise InsoleError(f"the standing test was recorded with another {side} insole (serial {b.serial}, "
                              f"this recording {a.serial}); calibrate with a standing test of the same insoles")
    lifts = set(LIFT_PHASES.values())
    quiet = tuple(p for p in standing.meta.phases if p.name not in lifts)
    _, cal = calibrate(standing, quiet_phases=quiet, method="single_leg", zero=True, body_mass_kg=body_mass_kg)
    scaled = _scaled(recording, cal.gains)
    extra = {**recording.meta.extra,
             "calibration": {"method": cal.method, "gains": dict(cal.gains), "from": standing.path or "a standing test",
                             "note": cal.note}}
    return replace(scaled, meta=replace(scaled.meta, extra=extra)), cal

