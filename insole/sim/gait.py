"""Simulated running and walking: per-step vertical force and plantar pressure.

Every step is drawn once at construction (``numpy.random.default_rng(seed)``):
its initial contact (IC), contact time, and the parameters of its force
curve. Evaluation only looks steps up and evaluates closed-form curves, so
:meth:`GaitScenario.pressures_kpa` is a pure, vectorised function of
``(side, t_s)``.

Force curves, as functions of the stance fraction ``s = (t - IC) / contact``:

- running: an active peak ``A * sin(pi * w(s))**1.5`` with a slight forward
  skew ``w(s) = s + kappa * s * (1 - s)`` (peak near 46 % of stance) plus,
  for rearfoot and midfoot strikes, an impact transient: a raised-cosine
  bump that rises over ``rise`` seconds and falls over ``fall`` seconds from
  IC, on top of the active curve (rearfoot: impact peak about 1.7 BW at
  about 12 % of stance; midfoot smaller and earlier; forefoot none);
- walking: the M-shaped double hump ``A * (sin(pi*w) + 0.35 * sin(3*pi*w))``
  (peaks about 1.1-1.2 BW near 25 % and 75 % of stance, valley about 0.8 BW).

The force is exactly 0 at IC and at toe-off (TO) and in swing. Each stride
(a left step and the right step after it) is scaled by one common factor so
that the impulse of the two steps equals body weight times the stride time
(impulse-momentum over whole strides on level ground), which keeps the set
peak-force asymmetry.

Asymmetry options are symmetry indices (Robinson 1987),
``SI = 100 * (X_R - X_L) / (0.5 * (X_R + X_L))``, positive when the RIGHT side
is larger; a side's value is ``mean * (1 + SI/200)`` (right) or
``mean * (1 - SI/200)`` (left). They can grow linearly over the run (fatigue).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np

from ..constants import STANDARD_GRAVITY_M_S2
from ..model import Phase
from ..protocol.layout import reference_layout
from ._distribute import (
    as_times_s,
    check_range,
    check_seed,
    check_side,
    fractions_cop_mm,
    gaussian_base_fractions,
    tilt_fractions,
)
from .base import Scenario, bias_weights, check_region_bias, region_membership, region_shares_pct

__all__ = ["GaitScenario"]

logger = logging.getLogger(__name__)

_MODES = ("run", "walk")
_STRIKES = ("rearfoot", "midfoot", "forefoot")
_DEFAULT_CADENCE_SPM = {"run": 170.0, "walk": 110.0}
_DEFAULT_CONTACT_TIME_S = {"run": 0.25, "walk": 0.67}

#: running active peak: exponent of the half sine, forward skew of its peak
_RUN_ACTIVE_POWER = 1.5
_RUN_SKEW = 0.15
#: running, before the per-stride impulse scaling: active peak (BW) and the
#: impact bump per strike: amplitude (BW), rise and fall times (s)
_RUN_ACTIVE_BW = 2.5
_RUN_IMPACT = {
    "rearfoot": {"amp_bw": 1.15, "rise_s": 0.028, "fall_s": 0.022},
    "midfoot": {"amp_bw": 0.7, "rise_s": 0.018, "fall_s": 0.014},
    "forefoot": {"amp_bw": 0.0, "rise_s": 0.018, "fall_s": 0.014},
}
#: walking double hump: amplitude of sin(pi*w) (BW) and share of sin(3*pi*w)
_WALK_AMP_BW = 1.153
_WALK_THIRD_HARMONIC = 0.35
#: step-to-step variability of the force amplitudes (CV): impact bump
_IMPACT_CV = 0.05
#: impact bump may take at most this share of the contact
_MAX_IMPACT_SHARE = 0.5
#: shortest swing allowed (same foot: TO to next IC), s
_MIN_SWING_S = 0.08

#: the first initial contact (left foot), in step times after t = 0
_FIRST_IC_STEPS = 0.5

#: loading-rate definition (docs/science.md): impact peak = first local maximum of
#: the force within this share of stance; slope between 20 % and 80 % of it;
#: without one, the mean slope between 3 % and 12 % of stance
_IMPACT_WINDOW = 0.2
_LR_LO, _LR_HI = 0.2, 0.8
_NO_IMPACT_LO, _NO_IMPACT_HI = 0.03, 0.12

#: COP path along the foot: (stance fraction, y as a share of insole length)
_COP_PATH = {
    ("run", "rearfoot"): ((0.0, 0.12), (0.10, 0.16), (0.30, 0.45), (0.55, 0.68), (0.85, 0.76), (1.0, 0.88)),
    ("run", "midfoot"): ((0.0, 0.45), (0.25, 0.58), (0.60, 0.70), (0.85, 0.77), (1.0, 0.88)),
    ("run", "forefoot"): ((0.0, 0.75), (0.25, 0.71), (0.65, 0.72), (0.87, 0.78), (1.0, 0.88)),
    ("walk", "rearfoot"): ((0.0, 0.10), (0.15, 0.17), (0.45, 0.50), (0.70, 0.70), (0.90, 0.78), (1.0, 0.88)),
    ("walk", "midfoot"): ((0.0, 0.42), (0.30, 0.56), (0.70, 0.71), (0.90, 0.78), (1.0, 0.88)),
    ("walk", "forefoot"): ((0.0, 0.72), (0.30, 0.71), (0.70, 0.73), (0.90, 0.79), (1.0, 0.88)),
}
#: COP across the foot as a function of its position along it (the gait
#: line: lateral heel, along the lateral midfoot, then across the metatarsal
#: heads to the medial forefoot and the hallux): (y share of length, x mm,
#: lateral positive)
_COP_ROLL = ((0.08, 3.5), (0.30, 8.0), (0.50, 10.0), (0.65, 2.5), (0.75, -4.5), (0.90, -12.0))
#: per-step variability of the gait line, tabulated: gain of the roll
#: (x of _COP_ROLL times it) and a lateral offset (mm); per-step values are
#: clipped to these grids and interpolated bilinearly between their tables
#: (fractions mix linearly, so the COP does too)
_ROLL_GAIN_GRID = (0.4, 1.0, 1.6)
_ROLL_OFFSET_GRID_MM = (-6.0, 0.0, 6.0)
#: stance samples per step for the regional impulse truth (midpoint rule)
_REGION_TRUTH_NODES = 256
#: loaded zone around the COP, mm
_ZONE_SIGMA_X_MM = 40.0
_ZONE_SIGMA_Y_MM = 28.0
#: rows of the stance-fraction table of force fractions
_TABLE_ROWS = 2001
#: share of the loaded zone the medial arch and the lateral midfoot take (see _arch_support)
_ARCH_MEDIAL = 0.15
_ARCH_LATERAL = 0.6
#: Gauss-Legendre nodes for the impulse of the smooth part of a step
_GL_NODES = 64
#: steps per block when computing the ground truth on fine grids
_TRUTH_BLOCK = 2048
_PEAK_GRID = 801
_IMPACT_GRID = 1001
#: window of the windowed symmetry indices, s
_WINDOW_S = 60.0


class GaitScenario(Scenario):
    """A person running or walking on two insoles.

    Steps alternate left, right, left, ... starting with the left foot at
    ``0.5`` step times after ``t = 0``; only steps that end (toe-off) within
    ``duration_s`` are made.

    Parameters
    ----------
    mode : str
        ``"run"`` or ``"walk"`` (the scenario's ``protocol``).
    duration_s : float
        Length of the scenario, s (5 s to 6 h).
    body_mass_kg : float
        Body mass, kg; body weight is ``body_mass_kg * 9.80665`` N.
    cadence_spm : float or None
        Steps per minute, both feet (None: 170 running, 110 walking).
    contact_time_s : float or None
        Mean contact time of a step, s (None: 0.25 running, 0.62 walking,
        which gives double support at 110 steps/min).
    contact_time_si_pct, peak_force_si_pct, loading_rate_si_pct : float
        Symmetry indices at the start, %; positive = RIGHT larger. The
        loading-rate SI acts through the impact rise time (rearfoot and
        midfoot running) or the steepness of the early rise (forefoot
        running, walking); the realised value also carries a little of the
        other two asymmetries (see :meth:`truth`).
    contact_time_si_growth_pp_per_10min, peak_force_si_growth_pp_per_10min, loading_rate_si_growth_pp_per_10min : float
        Linear growth of each SI over the run (fatigue), percentage points
        per 10 minutes, applied at each step's IC time.
    step_time_cv_pct, contact_time_cv_pct, peak_force_cv_pct : float
        Step-to-step variability (coefficient of variation, %) of step time,
        contact time and the force amplitude, independent between steps.
    strike : str or None
        ``"rearfoot"``, ``"midfoot"`` or ``"forefoot"`` (None: rearfoot).
        Sets where the COP starts (strike index about 12 %, 45 %, 75 % of
        the insole length running; 10 %, 42 %, 72 % walking) and, running,
        the impact transient.
    cop_roll_cv_pct : float
        Step-to-step variability of the mediolateral swing of the gait line:
        coefficient of variation (%) of its amplitude (0-25). Each step's
        foot-frame COP path across the foot is ``offset + gain * x(y)``, with
        ``x(y)`` the nominal gait line (about +3.5 mm lateral at the heel, +10
        mm at the lateral midfoot, -12 mm medial at the hallux).
    cop_offset_sd_mm : float
        Step-to-step SD of the lateral offset of that path, mm (0-3).
    region_bias : mapping or None
        Per-foot load bias, ``{side: {name: factor}}``, e.g.
        ``{"right": {"forefoot": 1.2, "lateral": 1.15}}``. Names: ``heel``,
        ``midfoot``, ``forefoot``, ``toes`` (regions of
        :data:`insole.constants.REGIONS`) and ``medial``, ``lateral`` (sides
        of the long axis, ``x < 0`` / ``x > 0``; sensors on the axis count
        half to each). Factors (dimensionless, 0.2-5; missing = 1) multiply
        the share of the foot's stance impulse of each cell (region x side)
        by ``factor(region) * factor(side)``, and the shares are then
        renormalised to sum 1, so the foot's force curve, contact times and
        impulse are unchanged. The factor is exact for the nominal step;
        the realised shares are in :meth:`truth` (``per_side[side]["regions"]``).
        The bias moves the COP with the load (e.g. forward and laterally).
    seed : int
        Seed of ``numpy.random.default_rng``. The gait-line variability is
        drawn from a separate stream, so it leaves the steps' timing and
        force draws unchanged.

    Raises
    ------
    ValueError
        For options outside their valid range, or combinations that would
        make a foot's stance overlap its next stance.
    """

    def __init__(
        self,
        *,
        mode: str = "run",
        duration_s: float = 120.0,
        body_mass_kg: float = 70.0,
        cadence_spm: float | None = None,
        contact_time_s: float | None = None,
        contact_time_si_pct: float = 0.0,
        peak_force_si_pct: float = 0.0,
        loading_rate_si_pct: float = 0.0,
        contact_time_si_growth_pp_per_10min: float = 0.0,
        peak_force_si_growth_pp_per_10min: float = 0.0,
        loading_rate_si_growth_pp_per_10min: float = 0.0,
        step_time_cv_pct: float = 2.0,
        contact_time_cv_pct: float = 2.0,
        peak_force_cv_pct: float = 2.0,
        strike: str | None = None,
        cop_roll_cv_pct: float = 12.0,
        cop_offset_sd_mm: float = 1.5,
        region_bias: Mapping[str, Mapping[str, float]] | None = None,
        seed: int = 0,
    ) -> None:
        if mode not in _MODES:
            raise ValueError(f"mode must be 'run' or 'walk', got {mode!r}")
        strike = "rearfoot" if strike is None else strike
        if strike not in _STRIKES:
            raise ValueError(f"strike must be one of {', '.join(_STRIKES)}, got {strike!r}")
        cadence_spm = _DEFAULT_CADENCE_SPM[mode] if cadence_spm is None else cadence_spm
        contact_time_s = _DEFAULT_CONTACT_TIME_S[mode] if contact_time_s is None else contact_time_s
        check_range("duration_s", duration_s, 5.0, 6 * 3600.0)
        check_range("body_mass_kg", body_mass_kg, 10.0, 300.0)
        check_range("cadence_spm", cadence_spm, 40.0, 250.0)
        check_range("contact_time_s", contact_time_s, 0.12, 1.5)
        for name, value in (
            ("step_time_cv_pct", step_time_cv_pct),
            ("contact_time_cv_pct", contact_time_cv_pct),
            ("peak_force_cv_pct", peak_force_cv_pct),
        ):
            check_range(name, value, 0.0, 10.0)
        si = {
            "contact_time": (contact_time_si_pct, contact_time_si_growth_pp_per_10min),
            "peak_force": (peak_force_si_pct, peak_force_si_growth_pp_per_10min),
            "loading_rate": (loading_rate_si_pct, loading_rate_si_growth_pp_per_10min),
        }
        for name, (si0, growth) in si.items():
            check_range(f"{name}_si_pct", si0, -60.0, 60.0)
            check_range(f"{name}_si_growth_pp_per_10min", growth, -60.0, 60.0)
            end = si0 + growth * duration_s / 600.0
            if abs(end) > 60.0:
                raise ValueError(
                    f"{name}_si_pct reaches {end:.1f} % by the end of the run ({si0:g} % plus "
                    f"{growth:g} pp per 10 min over {duration_s:g} s); keep it within +-60 %"
                )
        check_range("cop_roll_cv_pct", cop_roll_cv_pct, 0.0, 25.0)
        check_range("cop_offset_sd_mm", cop_offset_sd_mm, 0.0, 3.0)
        bias = check_region_bias(region_bias)
        check_seed(seed)
        step_s = 60.0 / cadence_spm
        ct_si_end = contact_time_si_pct + contact_time_si_growth_pp_per_10min * duration_s / 600.0
        ct_si_max = max(abs(contact_time_si_pct), abs(ct_si_end))
        longest_ct = contact_time_s * (1.0 + ct_si_max / 200.0) * (1.0 + 4.0 * contact_time_cv_pct / 100.0)
        shortest_stride = 2.0 * step_s * (1.0 - 4.0 * step_time_cv_pct / 100.0)
        if longest_ct > shortest_stride - _MIN_SWING_S:
            raise ValueError(
                f"contact_time_s={contact_time_s:g} is too long for cadence_spm={cadence_spm:g}: a foot's stance "
                f"(up to {longest_ct:.3f} s with asymmetry and variability) must end at least {_MIN_SWING_S:g} s "
                f"before its next contact (stride {2 * step_s:.3f} s); lower the contact time or the cadence"
            )

        self.protocol = mode
        self.mode = mode
        self.strike = strike
        self.duration_s = float(duration_s)
        self.body_mass_kg = float(body_mass_kg)
        self.body_weight_n = self.body_mass_kg * STANDARD_GRAVITY_M_S2
        self.phases = (Phase(mode, 0.0, self.duration_s),)
        self.options: dict[str, Any] = {
            "mode": mode,
            "duration_s": float(duration_s),
            "body_mass_kg": float(body_mass_kg),
            "cadence_spm": float(cadence_spm),
            "contact_time_s": float(contact_time_s),
            "contact_time_si_pct": float(contact_time_si_pct),
            "peak_force_si_pct": float(peak_force_si_pct),
            "loading_rate_si_pct": float(loading_rate_si_pct),
            "contact_time_si_growth_pp_per_10min": float(contact_time_si_growth_pp_per_10min),
            "peak_force_si_growth_pp_per_10min": float(peak_force_si_growth_pp_per_10min),
            "loading_rate_si_growth_pp_per_10min": float(loading_rate_si_growth_pp_per_10min),
            "step_time_cv_pct": float(step_time_cv_pct),
            "contact_time_cv_pct": float(contact_time_cv_pct),
            "peak_force_cv_pct": float(peak_force_cv_pct),
            "strike": strike,
            "cop_roll_cv_pct": float(cop_roll_cv_pct),
            "cop_offset_sd_mm": float(cop_offset_sd_mm),
            "region_bias": bias,
            "seed": int(seed),
        }
        layout = reference_layout("left")
        self._x_mm, self._y_mm, self._area_mm2 = layout.x_mm, layout.y_mm, layout.area_mm2
        self._length_mm = layout.length_mm
        self._build_steps(np.random.default_rng(seed), step_s)
        self._build_gait_lines(np.random.default_rng([int(seed), 0x6C]))
        self._build_table()
        self._truth: dict[str, Any] | None = None
        logger.debug(
            "GaitScenario %s: %.1f s, %d steps, body weight %.1f N, seed %d",
            mode, self.duration_s, self._ic.size, self.body_weight_n, seed,
        )

    # --- construction -----------------------------------------------------
    def _si_at(self, name: str, t_s: np.ndarray) -> np.ndarray:
        o = self.options
        return o[f"{name}_si_pct"] + o[f"{name}_si_growth_pp_per_10min"] * t_s / 600.0

    def _build_steps(self, rng: np.random.Generator, step_s: float) -> None:
        o = self.options
        run = self.mode == "run"
        n = int(np.ceil(self.duration_s / step_s * 1.2)) + 8
        # all draws at once, four per step in step order: the same seed gives
        # the same first steps whatever the duration
        z_step, z_ct, z_amp, z_imp = np.clip(rng.standard_normal((n, 4)), -4.0, 4.0).T
        step_dur = step_s * (1.0 + o["step_time_cv_pct"] / 100.0 * z_step)
        ic = _FIRST_IC_STEPS * step_s + np.concatenate([[0.0], np.cumsum(step_dur[:-1])])
        sign = np.where(np.arange(n) % 2 == 0, -1.0, 1.0)  # left steps first
        m_ct = 1.0 + sign * self._si_at("contact_time", ic) / 200.0
        m_pf = 1.0 + sign * self._si_at("peak_force", ic) / 200.0
        m_lr = 1.0 + sign * self._si_at("loading_rate", ic) / 200.0
        ct = o["contact_time_s"] * m_ct * (1.0 + o["contact_time_cv_pct"] / 100.0 * z_ct)
        # a foot's stance ends before its next contact (guaranteed by the
        # option checks; kept here against extreme draws)
        next_same = np.concatenate([ic[2:] - ic[:-2], [2.0 * step_s, 2.0 * step_s]])
        ct = np.minimum(ct, next_same - _MIN_SWING_S)

        amp = m_pf * (1.0 + o["peak_force_cv_pct"] / 100.0 * z_amp)
        if run:
            imp = _RUN_IMPACT[self.strike]
            active0, impact0 = _RUN_ACTIVE_BW, imp["amp_bw"]
            rise0, fall0, kappa0 = imp["rise_s"], imp["fall_s"], _RUN_SKEW
        else:
            active0, impact0 = _WALK_AMP_BW, 0.0
            rise0, fall0, kappa0 = 0.01, 0.01, 0.0
        self._has_impact_model = impact0 > 0.0
        active_raw = active0 * amp
        # loading-rate asymmetry: a one-parameter family of curves, q = 1 the
        # reference; with an impact peak q stiffens the impact (rise time /
        # q, amplitude * sqrt(q)), without one it steepens the early rise
        # (1 + kappa scaled by q). q per step is found from a table of the
        # reference step's loading rate, so that, other things equal, a
        # side's loading rate is the mean times m_lr.
        ref = {"ct": o["contact_time_s"], "active": active0, "impact": impact0, "rise": rise0, "fall": fall0,
               "kappa": kappa0}
        if self._has_impact_model:
            def family(q):
                return {"rise": rise0 / q, "impact": impact0 * np.sqrt(q)}
            grid = np.geomspace(0.4, 2.5, 241)
        else:
            def family(q):
                return {"kappa": (1.0 + kappa0) * q - 1.0}
            grid = np.linspace(0.4, 1.9, 301) / (1.0 + kappa0)
        q = self._calibrate_loading_rate(ref, family, grid, m_lr)
        par = family(q)
        rise = par.get("rise", np.full(n, rise0))
        kappa = par.get("kappa", np.full(n, kappa0))
        impact_raw = par.get("impact", impact0) * (1.0 + _IMPACT_CV * z_imp) if self._has_impact_model else np.zeros(n)
        fall = np.full(n, fall0)
        shrink = np.minimum(1.0, _MAX_IMPACT_SHARE * ct / (rise + fall))
        rise, fall = rise * shrink, fall * shrink
        impulse_raw = self._raw_impulse(ct, active_raw, impact_raw, rise, fall, kappa)
        # one factor per stride (left step 2j, right step 2j+1): impulse of
        # the pair = body weight * stride time
        n_pairs = (n - 2) // 2
        pair_imp = impulse_raw[0 : 2 * n_pairs : 2] + impulse_raw[1 : 2 * n_pairs : 2]
        stride = ic[2 : 2 * n_pairs + 2 : 2] - ic[0 : 2 * n_pairs : 2]
        scale = np.repeat(stride / pair_imp, 2)
        n = 2 * n_pairs
        bw = self.body_weight_n
        to = ic[:n] + ct[:n]
        late = np.flatnonzero(to > self.duration_s)
        n_keep = int(late[0]) if late.size else n  # up to the first step that would end too late
        sl = slice(0, n_keep)
        self._ic = ic[sl]
        self._ct = ct[sl]
        self._to = to[sl]
        self._side_code = (np.arange(n_keep) % 2).astype(np.int8)  # 0 left, 1 right
        self._active_n = (bw * scale * active_raw[:n])[sl]
        self._impact_n = (bw * scale * impact_raw[:n])[sl]
        self._rise_s = rise[sl]
        self._fall_s = fall[sl]
        self._kappa = kappa[sl]
        self._impulse_ns = (bw * scale * impulse_raw[:n])[sl]
        # per-side views for evaluation (contiguous copies)
        self._by_side = {}
        for code, side in enumerate(("left", "right")):
            idx = np.flatnonzero(self._side_code == code)
            self._by_side[side] = {
                "ic": self._ic[idx].copy(),
                "to": self._to[idx].copy(),
                "ct": self._ct[idx].copy(),
                "active": self._active_n[idx].copy(),
                "impact": self._impact_n[idx].copy(),
                "rise": self._rise_s[idx].copy(),
                "fall": self._fall_s[idx].copy(),
                "kappa": self._kappa[idx].copy(),
            }

    def _raw_impulse(self, ct, active, impact, rise, fall, kappa) -> np.ndarray:
        """Impulse of steps before the stride scaling: smooth part by Gauss-Legendre, bump in closed form."""
        nodes, weights = np.polynomial.legendre.leggauss(_GL_NODES)
        s_gl = 0.5 * (nodes + 1.0)
        shape = self._smooth_shape(s_gl, np.asarray(kappa, dtype=np.float64)[..., None])
        smooth = (shape * (0.5 * weights)).sum(axis=-1)
        return active * ct * smooth + impact * 0.5 * (rise + fall)

    def _calibrate_loading_rate(self, ref: dict, family, grid: np.ndarray, m_lr: np.ndarray) -> np.ndarray:
        """Family parameter q per step that scales the reference step's loading rate by ``m_lr``.

        The loading rate of the reference step ``ref`` with ``family(q)``
        applied, after the impulse normalisation that the stride scaling
        does, is tabulated over ``grid`` (keeping only curves that have an
        impact peak exactly when the model has one, so the definition does
        not switch) and inverted by interpolation; targets beyond the table
        are clipped to it.
        """
        par = {k: np.full(grid.size, float(v)) for k, v in ref.items()}
        par.update(family(grid))
        _, rate, impact_peak = self._step_metrics(**par)
        rate = rate * (self._raw_impulse(**ref) / self._raw_impulse(**par))
        usable = (np.isfinite(impact_peak) == self._has_impact_model) & np.isfinite(rate)
        g, r = grid[usable], rate[usable]
        if g.size < 2 or np.any(np.diff(r) <= 0.0) or not g[0] <= 1.0 <= g[-1]:
            raise RuntimeError("loading-rate calibration table is not monotonic")  # a model bug, not user input
        return np.interp(np.interp(1.0, g, r) * m_lr, r, g)

    def _smooth_shape(self, s: np.ndarray, kappa: np.ndarray) -> np.ndarray:
        """Smooth part of the force curve at unit amplitude, >= 0, 0 at s = 0 and 1."""
        w = s + kappa * s * (1.0 - s)
        if self.mode == "run":
            return np.maximum(np.sin(np.pi * w), 0.0) ** _RUN_ACTIVE_POWER
        return np.maximum(np.sin(np.pi * w) + _WALK_THIRD_HARMONIC * np.sin(3.0 * np.pi * w), 0.0)

    @staticmethod
    def _bump(tau_s: np.ndarray, rise_s: np.ndarray, fall_s: np.ndarray) -> np.ndarray:
        """Impact transient at unit amplitude: raised-cosine rise then fall, 0 after."""
        up = 0.5 * (1.0 - np.cos(np.pi * np.minimum(tau_s / rise_s, 1.0)))
        down = 0.5 * (1.0 + np.cos(np.pi * np.clip((tau_s - rise_s) / fall_s, 0.0, 1.0)))
        return np.where(tau_s < rise_s, up, down)

    def _force(self, s: np.ndarray, ct, active, impact, rise, fall, kappa) -> np.ndarray:
        """Vertical force (N) at stance fractions ``s`` for per-sample step parameters."""
        force = active * self._smooth_shape(s, kappa)
        if self._has_impact_model:
            force += impact * self._bump(s * ct, rise, fall)
        return force

    def _build_gait_lines(self, rng: np.random.Generator) -> None:
        """Per step: gain and lateral offset of the gait line, as bilinear cells of the table grid."""
        o = self.options
        z = np.clip(rng.standard_normal((self._ic.size, 2)), -3.0, 3.0)  # step order
        gain = np.clip(1.0 + o["cop_roll_cv_pct"] / 100.0 * z[:, 0], _ROLL_GAIN_GRID[0], _ROLL_GAIN_GRID[-1])
        offset = np.clip(o["cop_offset_sd_mm"] * z[:, 1], _ROLL_OFFSET_GRID_MM[0], _ROLL_OFFSET_GRID_MM[-1])
        self._roll_gain, self._roll_offset_mm = gain, offset
        for side, code in (("left", 0), ("right", 1)):
            idx = self._side_code == code
            st = self._by_side[side]
            for key, v, grid in (("gain", gain[idx], _ROLL_GAIN_GRID), ("offset", offset[idx], _ROLL_OFFSET_GRID_MM)):
                g = np.asarray(grid)
                i = np.clip(np.searchsorted(g, v, side="right") - 1, 0, g.size - 2)
                st[f"{key}_i"] = i
                st[f"{key}_w"] = (v - g[i]) / (g[i + 1] - g[i])

    def _build_table(self) -> None:
        """Force fractions of the 16 sensors along the stance, per side and gait-line cell.

        ``self._table[side]`` is ``(n_gain, n_offset, _TABLE_ROWS, 16)``:
        the COP goes from the strike location to the toes along the foot and
        across it as ``offset + gain * roll(y)``; a side's ``region_bias``
        weights the sensors (renormalised per row).
        """
        s = np.linspace(0.0, 1.0, _TABLE_ROWS)
        knots = np.array(_COP_PATH[(self.mode, self.strike)])
        y_mm = np.interp(s, knots[:, 0], knots[:, 1]) * self._length_mm
        roll = np.array(_COP_ROLL)
        x0_mm = np.interp(y_mm / self._length_mm, roll[:, 0], roll[:, 1])
        base = gaussian_base_fractions(
            x0_mm, y_mm, x_mm=self._x_mm, y_mm=self._y_mm, area_mm2=self._area_mm2,
            sigma_x_mm=_ZONE_SIGMA_X_MM, sigma_y_mm=_ZONE_SIGMA_Y_MM,
        ) * _arch_support(self._x_mm, self._y_mm / self._length_mm)
        cells = np.empty((len(_ROLL_GAIN_GRID), len(_ROLL_OFFSET_GRID_MM), _TABLE_ROWS, self._x_mm.size))
        for a, gain in enumerate(_ROLL_GAIN_GRID):
            for b, offset in enumerate(_ROLL_OFFSET_GRID_MM):
                x_mm = offset + gain * x0_mm
                cells[a, b] = tilt_fractions(base, x_mm, y_mm, x_mm=self._x_mm, y_mm=self._y_mm)
        nominal = cells[list(_ROLL_GAIN_GRID).index(1.0), list(_ROLL_OFFSET_GRID_MM).index(0.0)]
        cx, cy = fractions_cop_mm(nominal, self._x_mm, self._y_mm)
        self._cop_table_error_mm = float(np.max(np.hypot(cx - x0_mm, cy - y_mm)))
        # the nominal step's force curve weights the regional bias
        o = self.options
        load = self._force(s, o["contact_time_s"], *(float(np.mean(a)) for a in (
            self._active_n, self._impact_n, self._rise_s, self._fall_s, self._kappa)))
        self._table = {}
        self._bias_w = {}
        for side in ("left", "right"):
            w = bias_weights(nominal, load, o["region_bias"][side], x_mm=self._x_mm)
            t = cells * w
            self._table[side] = (t / t.sum(axis=-1, keepdims=True)).reshape(-1, self._x_mm.size)
            self._bias_w[side] = w
        self._kpa_per_n = 1000.0 / self._area_mm2

    def _fractions(self, side: str, kj: np.ndarray, s: np.ndarray) -> np.ndarray:
        """Force fractions ``(len(s), 16)`` of steps ``kj`` (index within side) at stance fractions ``s``."""
        st = self._by_side[side]
        table = self._table[side]
        n_off = len(_ROLL_OFFSET_GRID_MM)
        pos = s * (_TABLE_ROWS - 1)
        i0 = np.minimum(pos.astype(np.intp), _TABLE_ROWS - 2)
        ws = (pos - i0)[:, None]
        gi, gw = st["gain_i"][kj], st["gain_w"][kj]
        oi, ow = st["offset_i"][kj], st["offset_w"][kj]
        out = np.zeros((s.size, table.shape[1]))
        for da, wa in ((0, 1.0 - gw), (1, gw)):
            for db, wb in ((0, 1.0 - ow), (1, ow)):
                row = ((gi + da) * n_off + (oi + db)) * _TABLE_ROWS + i0
                f0 = table[row]
                out += (wa * wb)[:, None] * (f0 + ws * (table[row + 1] - f0))
        return out

    # --- evaluation -------------------------------------------------------
    def contact_times_s(self, side: str) -> tuple[np.ndarray, np.ndarray]:
        """One foot's true initial contacts and toe-offs, s (copies, in time order)."""
        st = self._by_side[check_side(side)]
        return st["ic"].copy(), st["to"].copy()

    def _stance(self, side: str, t_s) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Samples in stance: (time array, their indices, step index within side, stance fraction)."""
        check_side(side)
        t = as_times_s(t_s, self.duration_s)
        st = self._by_side[side]
        if st["ic"].size == 0:
            empty = np.zeros(0, dtype=np.intp)
            return t, empty, empty, np.zeros(0)
        k = np.searchsorted(st["ic"], t, side="right") - 1
        kk = np.maximum(k, 0)
        j = np.flatnonzero((k >= 0) & (t < st["to"][kk]))
        kj = kk[j]
        s = (t[j] - st["ic"][kj]) / st["ct"][kj]
        return t, j, kj, s

    def _stance_force(self, side: str, kj: np.ndarray, s: np.ndarray) -> np.ndarray:
        st = self._by_side[side]
        if not self._has_impact_model:
            return st["active"][kj] * self._smooth_shape(s, st["kappa"][kj])
        return self._force(
            s, st["ct"][kj], st["active"][kj], st["impact"][kj], st["rise"][kj], st["fall"][kj], st["kappa"][kj]
        )

    def force_n(self, side: str, t_s: np.ndarray) -> np.ndarray:
        """Vertical force of one foot, N (exactly 0 in swing).

        Parameters
        ----------
        side : str
            ``"left"`` or ``"right"``.
        t_s : numpy.ndarray
            True times, s since the start (clamped to ``[0, duration_s]``).

        Returns
        -------
        numpy.ndarray
            ``(len(t_s),)`` force, N.
        """
        t, j, kj, s = self._stance(side, t_s)
        out = np.zeros(t.size)
        out[j] = self._stance_force(side, kj, s)
        return out

    def pressures_kpa(self, side: str, t_s: np.ndarray) -> np.ndarray:
        """True pressure under each sensor, kPa; see :meth:`Scenario.pressures_kpa`.

        ``sum(p * area_mm2) / 1000`` equals :meth:`force_n`; the loaded zone
        moves from the strike location to the toes over the stance, along
        the step's gait line (lateral heel and midfoot, then medial forefoot
        and hallux), weighted by the side's ``region_bias``.
        """
        t, j, kj, s = self._stance(side, t_s)
        out = np.zeros((t.size, self._x_mm.size))
        if j.size:
            force = self._stance_force(side, kj, s)
            out[j] = (force[:, None] * self._fractions(side, kj, s)) * self._kpa_per_n
        return out

    # --- ground truth -----------------------------------------------------
    def truth(self) -> dict[str, Any]:
        """Ground truth, JSON-serialisable (computed once, then cached).

        Returns
        -------
        dict
            ``protocol``, ``duration_s``, ``body_weight_n``, ``options`` (every
            constructor option, defaults filled in), ``definitions`` (the
            event and loading-rate definitions used), ``steps`` (columns of
            equal length, one entry per step in time order: ``side``,
            ``ic_s`` and ``to_s`` (exact instants where the force leaves and
            returns to 0), ``contact_time_s``, ``flight_time_s`` (next IC of
            the other foot minus this TO; negative = double support; None
            for the last step), ``peak_force_n``, ``impulse_ns``,
            ``loading_rate_n_s``, ``impact_peak_n`` (None without an impact
            peak), ``strike_index_pct`` (COP along the foot at IC, from the
            pressures), ``medial_lateral_index`` (of the step's sensor
            impulses, positive = more medial), ``cop_roll_gain`` and
            ``cop_offset_mm`` (the step's gait line)), ``per_side`` (realised
            means per side, and ``regions``: the side's shares of stance
            impulse, %, ``heel``, ``midfoot``, ``forefoot``, ``toes``,
            ``medial``, ``lateral``, ``medial_lateral_index``,
            ``sensor_impulse_pct`` (p01..p16), ``bias_factors``; see
            ``definitions["regions"]``), ``symmetry_index_pct`` (realised SI of those means over
            the whole run, positive = RIGHT larger), ``windows`` (the same
            SIs per ``60 s`` window of IC time, None where a side has no
            step), ``cadence_spm``, ``mean_total_force_bw`` (impulse of
            whole strides divided by body weight times their duration).
        """
        if self._truth is None:
            self._truth = self._compute_truth()
        return self._truth

    def _step_metrics(self, *, ct, active, impact, rise, fall, kappa) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per step: peak force, loading rate (per s) and impact peak (NaN if none), on fine grids.

        Parameters are per-step arrays of the force curve (see :meth:`_force`);
        the results are in the units of ``active`` and ``impact``.
        """
        n = ct.size
        peak = np.empty(n)
        rate = np.empty(n)
        impact_peak = np.full(n, np.nan)
        s_peak = np.linspace(0.0, 1.0, _PEAK_GRID)
        s_imp = np.linspace(0.0, _IMPACT_WINDOW, _IMPACT_GRID)
        for b0 in range(0, n, _TRUTH_BLOCK):
            sl = slice(b0, min(n, b0 + _TRUTH_BLOCK))
            par = [a[sl, None] for a in (ct, active, impact, rise, fall, kappa)]
            rows = np.arange(sl.stop - sl.start)
            # peak: grid maximum refined by a parabola through its neighbours
            f = self._force(s_peak[None, :], *par)
            i = np.clip(np.argmax(f, axis=1), 1, _PEAK_GRID - 2)
            fm, f0, fp = f[rows, i - 1], f[rows, i], f[rows, i + 1]
            den = fm - 2.0 * f0 + fp
            peak[sl] = np.where(den < 0, f0 - 0.125 * (fp - fm) ** 2 / np.where(den < 0, den, -1.0), f0)
            # impact peak: first local maximum within the impact window
            f = self._force(s_imp[None, :], *par)
            d = np.diff(f, axis=1)
            is_max = (d[:, :-1] > 0) & (d[:, 1:] <= 0)
            has = is_max.any(axis=1)
            i = np.argmax(is_max, axis=1) + 1
            fm, f0, fp = f[rows, i - 1], f[rows, i], f[rows, i + 1]
            den = fm - 2.0 * f0 + fp
            fi = np.where(den < 0, f0 - 0.125 * (fp - fm) ** 2 / np.where(den < 0, den, -1.0), f0)
            dt = ct[sl] * (s_imp[1] - s_imp[0])
            t_lo = _first_crossing(f, _LR_LO * fi, i) * dt
            t_hi = _first_crossing(f, _LR_HI * fi, i) * dt
            with np.errstate(invalid="ignore", divide="ignore"):
                rate_imp = (_LR_HI - _LR_LO) * fi / (t_hi - t_lo)
            # no impact peak: mean slope over 3-12 % of stance
            ends = self._force(np.array([[_NO_IMPACT_LO, _NO_IMPACT_HI]]), *par)
            rate_flat = (ends[:, 1] - ends[:, 0]) / ((_NO_IMPACT_HI - _NO_IMPACT_LO) * ct[sl])
            rate[sl] = np.where(has, rate_imp, rate_flat)
            impact_peak[sl] = np.where(has, fi, np.nan)
        return peak, rate, impact_peak

    def _sensor_impulses_ns(self, side: str) -> np.ndarray:
        """Impulse under each sensor per step of one side, N s, ``(n_steps_side, 16)`` (midpoint rule)."""
        st = self._by_side[side]
        n = st["ic"].size
        m = _REGION_TRUTH_NODES
        s_nodes = (np.arange(m) + 0.5) / m
        out = np.empty((n, self._x_mm.size))
        block = max(1, _TRUTH_BLOCK // 8)
        for b0 in range(0, n, block):
            kj = np.repeat(np.arange(b0, min(n, b0 + block)), m)
            s = np.tile(s_nodes, kj.size // m)
            f = self._stance_force(side, kj, s)[:, None] * self._fractions(side, kj, s)
            out[b0 : b0 + kj.size // m] = f.reshape(-1, m, self._x_mm.size).sum(axis=1) * (st["ct"][kj[::m]] / m)[:, None]
        return out

    def _region_truth(self) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
        """Per side: regional shares of the stance impulse; per step: strike index (%) and ML index."""
        per_side = {}
        strike = np.empty(self._ic.size)
        ml_index = np.empty(self._ic.size)
        for side, code in (("left", 0), ("right", 1)):
            idx = np.flatnonzero(self._side_code == code)
            imp = self._sensor_impulses_ns(side)
            total = imp.sum(axis=0)
            regions = region_shares_pct(total, x_mm=self._x_mm)
            regions["sensor_impulse_pct"] = (100.0 * total / total.sum()).tolist() if total.sum() > 0 else None
            regions["bias_factors"] = dict(self.options["region_bias"][side])
            per_side[side] = regions
            kj = np.arange(idx.size)
            _, cy = fractions_cop_mm(self._fractions(side, kj, np.zeros(idx.size)), self._x_mm, self._y_mm)
            strike[idx] = 100.0 * cy / self._length_mm
            ml_index[idx] = _ml_index(imp, self._x_mm)
        return per_side, strike, ml_index

    def _compute_truth(self) -> dict[str, Any]:
        bw = self.body_weight_n
        n = self._ic.size
        peak, rate, impact = self._step_metrics(
            ct=self._ct, active=self._active_n, impact=self._impact_n, rise=self._rise_s, fall=self._fall_s,
            kappa=self._kappa,
        )
        flight = np.full(n, np.nan)
        flight[:-1] = self._ic[1:] - self._to[:-1]
        side = np.where(self._side_code == 0, "left", "right")
        metrics = {
            "contact_time_s": self._ct,
            "flight_time_s": flight,
            "peak_force_n": peak,
            "loading_rate_n_s": rate,
            "impulse_ns": self._impulse_ns,
        }
        left = self._side_code == 0
        right = ~left
        per_side = {}
        si = {}
        for name, v in metrics.items():
            mean_l = float(np.nanmean(v[left])) if left.any() else float("nan")
            mean_r = float(np.nanmean(v[right])) if right.any() else float("nan")
            per_side.setdefault("left", {})[name] = _json_float(mean_l)
            per_side.setdefault("right", {})[name] = _json_float(mean_r)
            si[name] = _json_float(_si(mean_l, mean_r))
        per_side["left"]["n_steps"] = int(left.sum())
        per_side["right"]["n_steps"] = int(right.sum())
        regions, strike, ml_index = self._region_truth()
        for name in ("left", "right"):
            per_side[name]["regions"] = regions[name]

        # windowed SIs over IC time
        n_win = int(np.ceil(self.duration_s / _WINDOW_S))
        win = np.minimum((self._ic // _WINDOW_S).astype(np.intp), n_win - 1)
        windows: dict[str, Any] = {
            "start_s": [k * _WINDOW_S for k in range(n_win)],
            "end_s": [min((k + 1) * _WINDOW_S, self.duration_s) for k in range(n_win)],
        }
        count_l = np.bincount(win[left], minlength=n_win)
        count_r = np.bincount(win[right], minlength=n_win)
        ok = (count_l > 0) & (count_r > 0)
        for name in ("contact_time_s", "peak_force_n", "loading_rate_n_s"):
            v = metrics[name]
            with np.errstate(invalid="ignore", divide="ignore"):
                mean_l = np.bincount(win[left], weights=v[left], minlength=n_win) / count_l
                mean_r = np.bincount(win[right], weights=v[right], minlength=n_win) / count_r
            key = name.rsplit("_", 1)[0] if name != "loading_rate_n_s" else "loading_rate"
            windows[f"{key}_si_pct"] = [
                float(x) if good else None for x, good in zip(_si(mean_l, mean_r), ok)
            ]
        windows["n_steps"] = (count_l + count_r).tolist()

        # body-weight identity over whole strides (left IC to left IC)
        left_ic = self._ic[left]
        if left_ic.size >= 2:
            in_strides = (self._ic >= left_ic[0]) & (self._ic < left_ic[-1])
            mean_total_bw = float(self._impulse_ns[in_strides].sum() / (bw * (left_ic[-1] - left_ic[0])))
        else:
            mean_total_bw = None
        cadence = 60.0 * (n - 1) / (self._ic[-1] - self._ic[0]) if n >= 2 else None

        steps = {
            "side": side.tolist(),
            "ic_s": self._ic.tolist(),
            "to_s": self._to.tolist(),
            "contact_time_s": self._ct.tolist(),
            "flight_time_s": [_json_float(x) for x in flight],
            "peak_force_n": peak.tolist(),
            "impulse_ns": self._impulse_ns.tolist(),
            "loading_rate_n_s": rate.tolist(),
            "impact_peak_n": [_json_float(x) for x in impact],
            "strike_index_pct": strike.tolist(),
            "medial_lateral_index": ml_index.tolist(),
            "cop_roll_gain": self._roll_gain.tolist(),
            "cop_offset_mm": self._roll_offset_mm.tolist(),
        }
        return {
            "protocol": self.protocol,
            "duration_s": self.duration_s,
            "body_weight_n": bw,
            "options": dict(self.options),
            "definitions": {
                "symmetry_index": "SI = 100 * (R - L) / (0.5 * (R + L)); positive = RIGHT larger",
                "events": "ic_s / to_s: exact instants where the foot's vertical force leaves / returns to 0",
                "flight_time": "IC of the next step (other foot) minus TO of this step; negative = double support",
                "loading_rate": (
                    f"impact peak = first local maximum of the force within the first {100 * _IMPACT_WINDOW:g} % of "
                    f"stance; loading rate = mean slope between {100 * _LR_LO:g} % and {100 * _LR_HI:g} % of it; "
                    f"without an impact peak, mean slope between {100 * _NO_IMPACT_LO:g} % and "
                    f"{100 * _NO_IMPACT_HI:g} % of stance"
                ),
                "strike_index": "COP along the foot at IC, % of insole length from the back of the heel",
                "windows": f"{_WINDOW_S:g} s windows of IC time",
                "regions": _REGIONS_DEFINITION,
                "gait_line": (
                    "per step the foot-frame COP across the foot follows offset + gain * the nominal gait line "
                    "(lateral heel, lateral midfoot, medial forefoot, hallux); steps' cop_roll_gain (dimensionless) "
                    "and cop_offset_mm (lateral positive)"
                ),
            },
            "steps": steps,
            "per_side": per_side,
            "symmetry_index_pct": si,
            "windows": windows,
            "cadence_spm": cadence,
            "mean_total_force_bw": mean_total_bw,
            "strike_index_pct": float(strike.mean()) if n else None,
        }


_REGIONS_DEFINITION = (
    "shares (%) of each foot's stance impulse, summed over its steps, under the sensors of each region of "
    "insole.constants.REGIONS on the reference layout (heel 0-30 %, midfoot 30-55 %, forefoot 55-85 %, toes "
    "85-100 % of insole length); medial = sensors with x < 0, lateral = x > 0 (foot frame, x lateral), a "
    "sensor on the axis counts half to each; medial_lateral_index = (I_med - I_lat) / (I_med + I_lat), "
    "positive = more medial; sensor_impulse_pct: the same per sensor p01..p16"
)


def _arch_support(x_mm: np.ndarray, rel_y: np.ndarray) -> np.ndarray:
    """How much of the loaded zone each sensor takes, by where it lies: the
    medial arch carries little and the lateral midfoot less than heel and
    forefoot (*guide*: plantar-pressure studies of normal feet put the
    midfoot at 10-20 % of the stance impulse, nearly all of it lateral)."""
    mid = (rel_y >= 0.30) & (rel_y < 0.55)
    return np.where(mid & (x_mm < 0), _ARCH_MEDIAL, np.where(mid, _ARCH_LATERAL, 1.0))


def _ml_index(sensor_load: np.ndarray, x_mm: np.ndarray) -> np.ndarray:
    """``(I_med - I_lat) / (I_med + I_lat)`` per row of ``(n, n_sensors)`` loads; NaN-free for loaded rows."""
    _, side = region_membership(x_mm)
    med, lat = sensor_load @ side.T[:, 0], sensor_load @ side.T[:, 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        return (med - lat) / (med + lat)


def _first_crossing(f: np.ndarray, level: np.ndarray, upto: np.ndarray) -> np.ndarray:
    """Fractional grid index where each row of ``f`` first reaches ``level`` (at or before ``upto``)."""
    reached = f >= level[:, None]
    i = np.maximum(np.argmax(reached, axis=1), 1)
    i = np.minimum(i, upto)
    rows = np.arange(f.shape[0])
    f0, f1 = f[rows, i - 1], f[rows, i]
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(f1 > f0, (level - f0) / (f1 - f0), 1.0)
    return (i - 1) + np.clip(frac, 0.0, 1.0)


def _si(left, right):
    """Symmetry index, %: 100 * (R - L) / (0.5 * (R + L)); positive = RIGHT larger."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return 100.0 * (np.asarray(right) - np.asarray(left)) / (0.5 * (np.asarray(right) + np.asarray(left)))


def _json_float(x) -> float | None:
    x = float(x)
    return x if np.isfinite(x) else None


