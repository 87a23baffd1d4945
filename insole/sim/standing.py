"""Simulated quiet standing: foot lifts, eyes open, eyes closed.

The body model works on a fine time grid built once at construction (all
randomness drawn there from ``numpy.random.default_rng(seed)``); evaluation
interpolates that grid, so :meth:`StandingScenario.pressures_kpa` is a pure
function of ``(side, t_s)`` and gives the same values in chunks as in one
call.

Frames (docs/science.md). Ground frame: ``x`` (mediolateral, ML) to the subject's
right, ``y`` (anteroposterior, AP) forward, origin midway between the heel
centres on the line through the backs of the heels. Both feet are parallel
and face ``+y``; the left heel centre is at ``x = -stance_width_mm / 2``, the
right at ``+stance_width_mm / 2``. Foot frames: ``x`` toward the lateral side
of that foot, ``y`` from the back of the heel. So a foot-frame COP ``(u, v)``
sits in the ground frame at ``(-w/2 - u, v)`` for the left foot and
``(+w/2 + u, v)`` for the right foot, ``w = stance_width_mm``.

Physics. The summed vertical force of both feet equals body weight ``m * g``
in every two-legged sample (quiet standing: no vertical acceleration worth
modelling). The net COP is ``(F_L * X_L + F_R * X_R) / (F_L + F_R)``: its ML
sway comes from the left/right load ratio fluctuating (each foot's COP stays
put across the foot), its AP sway from both feet's COP moving along the foot
together. During a foot lift the whole body weight is on the other foot and
the net COP is that foot's COP, which sways in both directions.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..constants import REGIONS, STANDARD_GRAVITY_M_S2
from ..model import Phase
from ..protocol.layout import reference_layout
from ._distribute import as_times_s, check_range, check_seed, check_side, distribute_kpa, fractions_cop_mm
from .base import Scenario, bias_weights, check_region_bias, region_shares_pct

__all__ = ["StandingScenario"]

logger = logging.getLogger(__name__)

#: spacing of the model grid, s (the sway is smooth well below 10 Hz)
_GRID_DT_S = 0.005
#: seconds dropped at the start of a phase as settling (docs/science.md guide)
_SETTLE_S = 3.0
#: sway amplitude while standing on one leg, relative to eyes-open two-legged
_SINGLE_LEG_SWAY_FACTOR = 2.0
#: the eyes-closed shift of load and sway builds up over this time, s
_EYES_CLOSED_RAMP_S = 1.0
#: slow drift component of the sway: natural frequency (Hz), damping, variance share
_SLOW_FREQ_HZ = 0.08
_SLOW_DAMPING = 1.0
_SLOW_SHARE = 0.3
#: faster postural oscillation: damping ratio (its frequency follows the option)
_FAST_DAMPING = 0.6
#: foot-frame COP across the foot in standing, mm (slightly lateral)
_FOOT_COP_X_MM = 2.0
#: each foot's ML COP motion in two-legged stance (*guide*): this share of
#: the body's ML sway common to both feet, plus an own process of this many
#: times the ML sway level (Winter et al. 1996: the load ratio between the
#: feet carries most of the net ML sway in side-by-side stance, while each
#: foot's COP still moves across the foot by 1-2 mm)
_FOOT_ML_COMMON = 0.4
_FOOT_ML_OWN = 0.6
#: base loading pattern of a standing foot: force share per region
_STANDING_REGION_SHARE = {"heel": 0.48, "midfoot": 0.10, "forefoot": 0.38, "toes": 0.04}
#: sampling rate of the truth metrics, Hz
_TRUTH_RATE_HZ = 1000.0


def _oscillator_noise(rng: np.random.Generator, n: int, dt_s: float, freq_hz: float, damping: float) -> np.ndarray:
    """White noise through a second-order low-pass (damped oscillator).

    The AR(2) recursion has the poles of ``x'' + 2*zeta*w*x' + w^2*x = noise``
    sampled at ``dt_s``; its velocity-to-position RMS ratio is ``w``, so the
    process's mean frequency (Prieto 1996) is about ``freq_hz``. Returned with
    zero mean and unit variance; the start-up transient is discarded.
    """
    w = 2.0 * np.pi * freq_hz
    r = np.exp(-damping * w * dt_s)
    if damping < 1.0:
        a1 = -2.0 * r * np.cos(w * np.sqrt(1.0 - damping**2) * dt_s)
    else:
        a1 = -2.0 * r
    burn = int(np.ceil(12.0 / (damping * w * dt_s)))
    from scipy.signal import lfilter  # imported here: scipy.signal takes 0.5 s to import

    x = lfilter([1.0], [1.0, a1, r * r], rng.standard_normal(n + burn))[burn:]
    x -= x.mean()
    return x / x.std()


def _cosine_knots(t: np.ndarray, knot_t: np.ndarray, knot_v: np.ndarray) -> np.ndarray:
    """Raised-cosine interpolation through knots (flat at each knot), constant outside."""
    knot_t = np.asarray(knot_t, dtype=np.float64)
    knot_v = np.asarray(knot_v, dtype=np.float64)
    i = np.clip(np.searchsorted(knot_t, t, side="right") - 1, 0, knot_t.size - 2)
    u = np.clip((t - knot_t[i]) / (knot_t[i + 1] - knot_t[i]), 0.0, 1.0)
    return knot_v[i] + (knot_v[i + 1] - knot_v[i]) * 0.5 * (1.0 - np.cos(np.pi * u))


def _grid_mean(tg: np.ndarray, v: np.ndarray, start_s: float, end_s: float) -> float:
    """Time mean over [start_s, end_s] of the linear interpolant of v (both ends on the grid)."""
    i0, i1 = np.searchsorted(tg, [start_s, end_s])
    return float(np.trapezoid(v[i0 : i1 + 1], tg[i0 : i1 + 1]) / (end_s - start_s))


def _sway_metrics(ap_mm: np.ndarray, ml_mm: np.ndarray, rate_hz: float) -> dict[str, float]:
    """RMS per axis, mean velocity and mean frequency (docs/science.md) of a COP trace."""
    ap = ap_mm - ap_mm.mean()
    ml = ml_mm - ml_mm.mean()
    path_mm = float(np.hypot(np.diff(ap), np.diff(ml)).sum())
    mean_velocity = path_mm / (ap.size / rate_hz)
    mean_distance = float(np.hypot(ap, ml).mean())
    return {
        "net_cop_rms_ap_mm": float(np.sqrt(np.mean(ap * ap))),
        "net_cop_rms_ml_mm": float(np.sqrt(np.mean(ml * ml))),
        "mean_velocity_mm_s": mean_velocity,
        "mean_frequency_hz": mean_velocity / (2.0 * np.pi * mean_distance) if mean_distance > 0 else 0.0,
    }


class StandingScenario(Scenario):
    """A person standing quietly on two insoles, with eyes open then closed.

    Timeline (true time, s): ``lift_left`` (left foot in the air, the right
    insole carries the whole body weight), a transition of ``transition_s``
    in which the left foot comes down and the right one goes up,
    ``lift_right``, a transition in which the right foot comes down, then
    ``eyes_open`` and ``eyes_closed``. With ``lift_s=0`` the lifts and their
    transitions are left out; with ``eyes_closed_s=0`` the eyes-closed phase
    is. The eyes-closed change of load and sway builds up over the first
    second of that phase.

    Parameters
    ----------
    body_mass_kg : float
        Body mass, kg; body weight is ``body_mass_kg * 9.80665`` N.
    left_load_pct : float
        Eyes-open share of body weight on the left foot, %:
        ``100 * mean(F_L) / mean(F_L + F_R)`` over the phase.
    eyes_closed_shift_pp : float
        Eyes-closed left share minus eyes-open left share, percentage points
        (positive = more weight on the LEFT foot with eyes closed).
    lift_s : float
        Duration of each foot-lift phase, s (0 leaves the lifts out).
    transition_s : float
        Duration of each foot-down transition after a lift, s (0.2-3).
    eyes_open_s, eyes_closed_s : float
        Phase durations, s (``eyes_closed_s=0`` leaves that phase out).
    sway_ap_rms_mm, sway_ml_rms_mm : float
        RMS of the net COP about its mean in the eyes-open phase,
        anteroposterior and mediolateral, mm.
    eyes_closed_sway_factor : float
        Eyes-closed sway RMS relative to eyes open (both axes).
    sway_mean_frequency_hz : float
        Mean frequency of the sway (Prieto 1996), Hz (0.15-1.5).
    stance_width_mm : float
        Distance between the heel centres, mm.
    foot_cop_y_pct : float
        Mean COP of each foot along the foot, % of insole length from the
        back of the heel.
    region_bias : mapping or None
        Per-foot load bias, ``{side: {name: factor}}``, e.g.
        ``{"left": {"heel": 1.3, "medial": 1.1}}``; names ``heel``,
        ``midfoot``, ``forefoot``, ``toes``, ``medial``, ``lateral`` as in
        :class:`~insole.sim.gait.GaitScenario`. Factors (dimensionless,
        0.2-5; missing = 1) multiply each cell's (region x side of the long
        axis) share of the foot's base loading pattern by
        ``factor(region) * factor(side)``, renormalised to sum 1; the foot's
        force is unchanged and its COP moves with the load (the shift is
        added to :meth:`foot_cop_mm` and :meth:`net_cop_mm`). Realised shares
        of each foot's mean load are in :meth:`truth`.
    seed : int
        Seed of ``numpy.random.default_rng``.

    Raises
    ------
    ValueError
        For options outside their valid range.

    Notes
    -----
    Realised values: the left share's time mean over each two-legged phase
    equals the set value (zero-mean sway, corrected on the model grid); the
    net-COP RMS over each phase is normalised to its set value (RMS of the
    whole phase; the eyes-closed ramp makes it a percent or so lower). The
    realised values are in :meth:`truth`.
    """

    protocol = "standing"

    def __init__(
        self,
        *,
        body_mass_kg: float = 70.0,
        left_load_pct: float = 50.0,
        eyes_closed_shift_pp: float = 0.0,
        lift_s: float = 3.0,
        transition_s: float = 1.0,
        eyes_open_s: float = 30.0,
        eyes_closed_s: float = 30.0,
        sway_ap_rms_mm: float = 4.0,
        sway_ml_rms_mm: float = 2.5,
        eyes_closed_sway_factor: float = 1.4,
        sway_mean_frequency_hz: float = 0.4,
        stance_width_mm: float = 170.0,
        foot_cop_y_pct: float = 42.0,
        region_bias: Mapping[str, Mapping[str, float]] | None = None,
        seed: int = 0,
    ) -> None:
        check_range("body_mass_kg", body_mass_kg, 10.0, 300.0)
        check_range("left_load_pct", left_load_pct, 5.0, 95.0)
        check_range("left_load_pct + eyes_closed_shift_pp", left_load_pct + eyes_closed_shift_pp, 5.0, 95.0)
        if lift_s != 0.0:
            check_range("lift_s", lift_s, 0.5, 60.0, zero_ok=True)
        check_range("transition_s", transition_s, 0.2, 3.0)
        check_range("eyes_open_s", eyes_open_s, 5.0, 3600.0)
        if eyes_closed_s != 0.0:
            check_range("eyes_closed_s", eyes_closed_s, 5.0, 3600.0, zero_ok=True)
        check_range("sway_ap_rms_mm", sway_ap_rms_mm, 0.0, 20.0)
        check_range("sway_ml_rms_mm", sway_ml_rms_mm, 0.0, 15.0)
        check_range("eyes_closed_sway_factor", eyes_closed_sway_factor, 0.5, 3.0)
        check_range("sway_mean_frequency_hz", sway_mean_frequency_hz, 0.15, 1.5)
        check_range("stance_width_mm", stance_width_mm, 50.0, 600.0)
        check_range("foot_cop_y_pct", foot_cop_y_pct, 30.0, 55.0)
        bias = check_region_bias(region_bias)
        check_seed(seed)

        self.options: dict[str, Any] = {
            "body_mass_kg": float(body_mass_kg),
            "left_load_pct": float(left_load_pct),
            "eyes_closed_shift_pp": float(eyes_closed_shift_pp),
            "lift_s": float(lift_s),
            "transition_s": float(transition_s),
            "eyes_open_s": float(eyes_open_s),
            "eyes_closed_s": float(eyes_closed_s),
            "sway_ap_rms_mm": float(sway_ap_rms_mm),
            "sway_ml_rms_mm": float(sway_ml_rms_mm),
            "eyes_closed_sway_factor": float(eyes_closed_sway_factor),
            "sway_mean_frequency_hz": float(sway_mean_frequency_hz),
            "stance_width_mm": float(stance_width_mm),
            "foot_cop_y_pct": float(foot_cop_y_pct),
            "region_bias": bias,
            "seed": int(seed),
        }
        self.body_mass_kg = float(body_mass_kg)
        self.body_weight_n = self.body_mass_kg * STANDARD_GRAVITY_M_S2

        layout = reference_layout("left")
        self._x_mm, self._y_mm, self._area_mm2 = layout.x_mm, layout.y_mm, layout.area_mm2
        base = np.zeros(self._x_mm.size)
        for region, share in _STANDING_REGION_SHARE.items():
            idx = list(REGIONS[region])
            base[idx] = share * self._area_mm2[idx] / self._area_mm2[idx].sum()
        self._base_frac = base
        # regional bias: a weighted base pattern per foot, and the COP shift it makes
        b0 = base / base.sum()
        x0, y0 = fractions_cop_mm(b0[None, :], self._x_mm, self._y_mm)
        self._base_by_side: dict[str, np.ndarray] = {}
        self._bias_shift_mm: dict[str, tuple[float, float]] = {}
        for side in ("left", "right"):
            fb = b0 * bias_weights(b0[None, :], np.ones(1), bias[side], x_mm=self._x_mm)
            fb /= fb.sum()
            xb, yb = fractions_cop_mm(fb[None, :], self._x_mm, self._y_mm)
            self._base_by_side[side] = fb
            self._bias_shift_mm[side] = (float(xb[0] - x0[0]), float(yb[0] - y0[0]))
        self._foot_cop_y0_mm = foot_cop_y_pct / 100.0 * layout.length_mm
        self._half_width_mm = stance_width_mm / 2.0

        # --- timeline ---------------------------------------------------
        phases: list[Phase] = []
        t = 0.0
        if lift_s > 0.0:
            phases.append(Phase("lift_left", 0.0, lift_s))
            phases.append(Phase("lift_right", lift_s + transition_s, 2.0 * lift_s + transition_s))
            t = 2.0 * (lift_s + transition_s)
        phases.append(Phase("eyes_open", t, t + eyes_open_s))
        t += eyes_open_s
        if eyes_closed_s > 0.0:
            phases.append(Phase("eyes_closed", t, t + eyes_closed_s))
            t += eyes_closed_s
        self.phases = tuple(phases)
        self.duration_s = t
        self._build_grid(np.random.default_rng(seed))
        logger.debug(
            "StandingScenario: %.1f s, %d phases, body weight %.1f N, seed %d",
            self.duration_s, len(self.phases), self.body_weight_n, seed,
        )

    # --- construction -----------------------------------------------------
    def _build_grid(self, rng: np.random.Generator) -> None:
        o = self.options
        ph = {p.name: p for p in self.phases}
        eo = ph["eyes_open"]
        ec = ph.get("eyes_closed")
        lifts = "lift_left" in ph
        share_eo = o["left_load_pct"] / 100.0
        share_ec = share_eo + o["eyes_closed_shift_pp"] / 100.0
        ramp_s = min(_EYES_CLOSED_RAMP_S, o["eyes_closed_s"] / 4.0)

        # grid: uniform plus every knot, so phase means are exact on it
        knots = [0.0, self.duration_s]
        for p in self.phases:
            knots += [p.start_s, p.end_s]
        if ec is not None:
            knots.append(ec.start_s + ramp_s)
        uniform = np.arange(0.0, self.duration_s, _GRID_DT_S)
        tg = np.union1d(uniform, np.array(knots))
        self._tg = tg

        # unit sway processes (AP, ML), slow drift + postural oscillation
        f_mean = o["sway_mean_frequency_hz"]
        f_fast = np.sqrt((f_mean**2 - _SLOW_SHARE * _SLOW_FREQ_HZ**2) / (1.0 - _SLOW_SHARE))
        n = uniform.size + 1
        z = []
        for _axis in ("ap", "ml"):
            slow = _oscillator_noise(rng, n, _GRID_DT_S, _SLOW_FREQ_HZ, _SLOW_DAMPING)
            fast = _oscillator_noise(rng, n, _GRID_DT_S, f_fast, _FAST_DAMPING)
            zu = np.sqrt(_SLOW_SHARE) * slow + np.sqrt(1.0 - _SLOW_SHARE) * fast
            z.append(np.interp(tg, np.arange(n) * _GRID_DT_S, zu))
        z_ap, z_ml = z

        # left share target, single-leg envelope
        if lifts:
            ll, lr = ph["lift_left"], ph["lift_right"]
            mid = 0.5 * (ll.end_s + lr.start_s)
            share_kt = [0.0, ll.end_s, lr.start_s, lr.end_s, eo.start_s]
            share_kv = [0.0, 0.0, 1.0, 1.0, share_eo]
            lift_kt = [0.0, ll.end_s, mid, lr.start_s, lr.end_s, eo.start_s]
            lift_kv = [1.0, 1.0, 0.0, 1.0, 1.0, 0.0]
        else:
            share_kt, share_kv, lift_kt, lift_kv = [eo.start_s], [share_eo], [eo.start_s], [0.0]
        if ec is not None:
            share_kt += [ec.start_s, ec.start_s + ramp_s]
            share_kv += [share_eo, share_ec]
        share_kt.append(self.duration_s + 1.0)
        share_kv.append(share_kv[-1])
        lift_kt.append(self.duration_s + 1.0)
        lift_kv.append(lift_kv[-1])
        share_target = _cosine_knots(tg, share_kt, share_kv)
        lift_env = _cosine_knots(tg, lift_kt, lift_kv)

        # sin^2 bump per phase: subtracting a multiple of it sets the phase
        # mean without a jump at the phase edges
        windows = {}
        for p in self.phases:
            i0, i1 = np.searchsorted(tg, [p.start_s, p.end_s])
            win = np.zeros_like(tg)
            win[i0 : i1 + 1] = np.sin(np.pi * (tg[i0 : i1 + 1] - p.start_s) / p.duration_s) ** 2
            windows[p.name] = win / _grid_mean(tg, win, p.start_s, p.end_s)
        for zz in (z_ap, z_ml):
            for p in self.phases:
                zz -= windows[p.name] * _grid_mean(tg, zz, p.start_s, p.end_s)

        # amplitude envelopes: each phase's level makes the phase RMS of the
        # zero-mean unit process times the level equal the set RMS
        amps = []
        for zz, eo_rms in ((z_ap, o["sway_ap_rms_mm"]), (z_ml, o["sway_ml_rms_mm"])):
            targets = {
                "lift_left": _SINGLE_LEG_SWAY_FACTOR * eo_rms,
                "lift_right": _SINGLE_LEG_SWAY_FACTOR * eo_rms,
                "eyes_open": eo_rms,
                "eyes_closed": o["eyes_closed_sway_factor"] * eo_rms,
            }
            kt: list[float] = []
            kv: list[float] = []
            for p in self.phases:
                lv = targets[p.name] / np.sqrt(_grid_mean(tg, zz * zz, p.start_s, p.end_s))
                kt += [p.start_s + ramp_s, p.end_s] if p.name == "eyes_closed" else [p.start_s, p.end_s]
                kv += [lv, lv]
            amps.append(_cosine_knots(tg, [kt[0] - 1.0] + kt + [kt[-1] + 1.0], [kv[0]] + kv + [kv[-1]]))
        ap_sway = amps[0] * z_ap
        ml_sway = amps[1] * z_ml

        # each foot's own ML motion in two-legged stance (ankle inversion and
        # eversion): a part of the body's ML sway common to both feet plus a
        # part of each foot's own; the load ratio carries the rest of the net
        # ML sway, so the net sway keeps its set RMS
        u = self._foot_ml_motion(tg, ml_sway, amps[1], windows, f_fast)
        u_mean = 0.5 * (u["left"] + u["right"])
        # ML sway from the load ratio: net ML COP is d * (1 - 2 * share) + the
        # feet's mean ML shift, d the heel half-distance plus foot COP x
        d_mm = self._half_width_mm + _FOOT_COP_X_MM
        share = share_target - (1.0 - lift_env) * (ml_sway - u_mean) / (2.0 * d_mm)
        foot_y = self._foot_cop_y0_mm + ap_sway
        # what the envelope ramps left of the phase means, corrected the same way
        for p in self.phases:
            win = windows[p.name]
            foot_y -= win * (_grid_mean(tg, foot_y, p.start_s, p.end_s) - self._foot_cop_y0_mm)
            if p.name in ("eyes_open", "eyes_closed"):
                set_share = share_eo if p.name == "eyes_open" else share_ec
                share -= win * (_grid_mean(tg, share, p.start_s, p.end_s) - set_share)
        self._share = np.clip(share, 0.0, 1.0)
        self._foot_y_mm = foot_y
        # single-leg stance: the stance foot's COP sways across the foot
        # (foot frame x is lateral: +ML sway is lateral on the right foot,
        # medial on the left foot)
        self._foot_x_mm = {
            "left": _FOOT_COP_X_MM - lift_env * ml_sway - (1.0 - lift_env) * u["left"],
            "right": _FOOT_COP_X_MM + lift_env * ml_sway + (1.0 - lift_env) * u["right"],
        }
        self._truth: dict[str, Any] | None = None

    def _foot_ml_motion(self, tg: np.ndarray, ml_sway: np.ndarray, level: np.ndarray, windows: dict,
                        f_fast: float) -> dict[str, np.ndarray]:
        """Each foot's ML COP shift in the ground frame in two-legged stance, mm
        (positive to the right): ``_FOOT_ML_COMMON`` of the body's ML sway plus
        an own process of ``_FOOT_ML_OWN`` times its level, drawn from a
        generator of its own so the other draws of a seed are unchanged."""
        rng = np.random.default_rng([int(self.options["seed"]), 0x4D4C])
        n = int(np.ceil(self.duration_s / _GRID_DT_S)) + 1
        out = {}
        for side in ("left", "right"):
            z = np.interp(tg, np.arange(n) * _GRID_DT_S, _oscillator_noise(rng, n, _GRID_DT_S, f_fast, _FAST_DAMPING))
            for p in self.phases:
                z -= windows[p.name] * _grid_mean(tg, z, p.start_s, p.end_s)
            out[side] = _FOOT_ML_COMMON * ml_sway + _FOOT_ML_OWN * level * z
        return out

    # --- evaluation -------------------------------------------------------
    def force_n(self, side: str, t_s: np.ndarray) -> np.ndarray:
        """Vertical force of one foot, N.

        Parameters
        ----------
        side : str
            ``"left"`` or ``"right"``.
        t_s : numpy.ndarray
            True times, s since the start (clamped to ``[0, duration_s]``).

        Returns
        -------
        numpy.ndarray
            ``(len(t_s),)`` force, N; left + right = body weight.
        """
        check_side(side)
        t = as_times_s(t_s, self.duration_s)
        share = np.interp(t, self._tg, self._share)
        return self.body_weight_n * (share if side == "left" else 1.0 - share)

    def foot_cop_mm(self, side: str, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Target centre of pressure of one foot, foot frame, mm.

        Returns
        -------
        (numpy.ndarray, numpy.ndarray)
            ``x`` (toward the lateral side of that foot) and ``y`` (from the
            back of the heel toward the toes), mm.
        """
        check_side(side)
        t = as_times_s(t_s, self.duration_s)
        dx, dy = self._bias_shift_mm[side]
        return np.interp(t, self._tg, self._foot_x_mm[side]) + dx, np.interp(t, self._tg, self._foot_y_mm) + dy

    def net_cop_mm(self, t_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Net centre of pressure of both feet, ground frame, mm.

        Parameters
        ----------
        t_s : numpy.ndarray
            True times, s since the start.

        Returns
        -------
        (numpy.ndarray, numpy.ndarray)
            ``ap`` (forward from the backs of the heels) and ``ml`` (to the
            subject's right of the midpoint between the heels), mm.
        """
        t = as_times_s(t_s, self.duration_s)
        share = np.interp(t, self._tg, self._share)
        (dxl, dyl), (dxr, dyr) = self._bias_shift_mm["left"], self._bias_shift_mm["right"]
        ap = np.interp(t, self._tg, self._foot_y_mm) + (share * dyl + (1.0 - share) * dyr)
        x_left = -self._half_width_mm - (np.interp(t, self._tg, self._foot_x_mm["left"]) + dxl)
        x_right = self._half_width_mm + (np.interp(t, self._tg, self._foot_x_mm["right"]) + dxr)
        return ap, share * x_left + (1.0 - share) * x_right

    def pressures_kpa(self, side: str, t_s: np.ndarray) -> np.ndarray:
        """True pressure under each sensor, kPa; see :meth:`Scenario.pressures_kpa`.

        ``sum(p * area_mm2) / 1000`` equals :meth:`force_n` and the sensors'
        force-weighted centre equals :meth:`foot_cop_mm`.
        """
        check_side(side)
        t = as_times_s(t_s, self.duration_s)
        share = np.interp(t, self._tg, self._share)
        force = self.body_weight_n * (share if side == "left" else 1.0 - share)
        dx, dy = self._bias_shift_mm[side]
        return distribute_kpa(
            force,
            np.interp(t, self._tg, self._foot_x_mm[side]) + dx,
            np.interp(t, self._tg, self._foot_y_mm) + dy,
            self._base_by_side[side],
            x_mm=self._x_mm,
            y_mm=self._y_mm,
            area_mm2=self._area_mm2,
        )

    # --- ground truth -----------------------------------------------------
    def truth(self) -> dict[str, Any]:
        """Ground truth, JSON-serialisable.

        Returns
        -------
        dict
            ``protocol``, ``duration_s``, ``body_weight_n``, ``options`` (every
            constructor option), ``frame`` (a sentence on the frames and
            signs), ``settle_s``, and ``phases``: a list of dicts with
            ``name``, ``start_s``, ``end_s``, ``left_load_pct`` (realised
            ``100 * mean(F_L) / mean(F_L + F_R)`` over the whole phase),
            ``left_load_settled_pct`` (the same without the first ``settle_s``),
            ``left_load_sd_pct`` (SD over time), ``left_load_set_pct`` (the
            set value), and net-COP metrics computed at 1 kHz on the whole
            phase: ``net_cop_rms_ap_mm``, ``net_cop_rms_ml_mm``,
            ``mean_velocity_mm_s``, ``mean_frequency_hz``. Also
            ``delta_left_load_pp``: realised eyes-closed minus eyes-open left
            share (positive = more on the LEFT with eyes closed), or None.
            ``regions``: per foot, shares of its mean load over the eyes-open
            and eyes-closed phases, % (``heel``, ``midfoot``, ``forefoot``,
            ``toes``, ``medial``, ``lateral``, ``medial_lateral_index``), and
            the same per phase in each row's ``region_load_pct`` (None for a
            foot in the air); ``regions_definition`` says how.
        """
        if self._truth is None:
            self._truth = self._compute_truth()
        return self._truth

    def _region_load(self, side: str, t_s: np.ndarray) -> dict[str, float | None]:
        """Regional shares of one foot's mean load over the times ``t_s``, % (see :meth:`truth`)."""
        load = self.pressures_kpa(side, t_s) * (self._area_mm2 / 1000.0)
        if load.sum() < 1e-6 * self.body_weight_n * t_s.size:
            return region_shares_pct(np.zeros(self._x_mm.size), x_mm=self._x_mm)
        return region_shares_pct(load.sum(axis=0), x_mm=self._x_mm)

    def _compute_truth(self) -> dict[str, Any]:
        o = self.options
        tg = self._tg
        rows = []
        set_values = {
            "lift_left": 0.0,
            "lift_right": 100.0,
            "eyes_open": o["left_load_pct"],
            "eyes_closed": o["left_load_pct"] + o["eyes_closed_shift_pp"],
        }
        for p in self.phases:
            settle_end = min(p.start_s + _SETTLE_S, p.end_s - 1.0)
            t = np.arange(p.start_s, p.end_s, 1.0 / _TRUTH_RATE_HZ)
            ap, ml = self.net_cop_mm(t)
            share = np.interp(t, tg, self._share)
            row = {
                "name": p.name,
                "start_s": p.start_s,
                "end_s": p.end_s,
                "left_load_pct": 100.0 * _grid_mean(tg, self._share, p.start_s, p.end_s),
                "left_load_settled_pct": 100.0 * float(share[t >= settle_end].mean()),
                "left_load_sd_pct": 100.0 * float(share.std()),
                "left_load_set_pct": set_values[p.name],
            }
            row.update(_sway_metrics(ap, ml, _TRUTH_RATE_HZ))
            row["region_load_pct"] = {side: self._region_load(side, t) for side in ("left", "right")}
            rows.append(row)
        by_name = {r["name"]: r for r in rows}
        delta = None
        if "eyes_closed" in by_name:
            delta = by_name["eyes_closed"]["left_load_pct"] - by_name["eyes_open"]["left_load_pct"]
        both = [p for p in self.phases if p.name in ("eyes_open", "eyes_closed")]
        t_both = np.concatenate([np.arange(p.start_s, p.end_s, 1.0 / _TRUTH_RATE_HZ) for p in both])
        return {
            "protocol": self.protocol,
            "duration_s": self.duration_s,
            "body_weight_n": self.body_weight_n,
            "options": dict(o),
            "regions": {side: self._region_load(side, t_both) for side in ("left", "right")},
            "regions_definition": (
                "shares (%) of each foot's mean load (over the eyes-open and eyes-closed phases in 'regions', "
                "over the phase in each phase's 'region_load_pct'), from the true pressures at "
                f"{_TRUTH_RATE_HZ:g} Hz, by the regions of insole.constants.REGIONS; medial = sensors with x < 0, "
                "lateral = x > 0, a sensor on the axis counts half to each; medial_lateral_index = "
                "(I_med - I_lat) / (I_med + I_lat), positive = more medial; None for a foot carrying nothing"
            ),
            "frame": (
                "net COP in the ground frame: ap forward from the backs of the heels, ml to the subject's right "
                "of the midpoint between the heel centres; load shares are % of body weight on the LEFT foot"
            ),
            "settle_s": _SETTLE_S,
            "phases": rows,
            "delta_left_load_pp": delta,
        }
