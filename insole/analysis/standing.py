"""Quiet standing: load share per foot, sway, eyes open against eyes closed.

Definitions follow docs/science.md ("Quiet standing"). Signs: the left share is
reported directly (``left_load_pct``); a shift or asymmetry is positive when
it moves load to the LEFT only where its name says ``left`` (for example
``eyes_closed_shift_pp = left_load_pct(EC) - left_load_pct(EO)``); every
verdict also names the side in words.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..constants import FORCE, LEFT, RIGHT, SIDES
from ..errors import InsoleError
from ..model import Phase, Recording
from ..signals.calibrate import LIFT_PHASES, Calibration, calibrate
from ..signals.cop import DEFAULT_STANCE_WIDTH_MM, foot_cop_ground, net_cop_ground
from ..signals.filters import DEFAULT_CUTOFF_HZ, DEFAULT_ORDER, lowpass
from ..signals.forces import NO_LOAD_N
from ..signals.masks import true_runs
from .asymmetry import FavouredAlias
from .regions import RegionsResult, standing_regions
from .stats import block_bootstrap_sums, percentile_ci
from .sway import romberg_ratios, sway_metrics

log = logging.getLogger(__name__)

__all__ = ["StandingOptions", "PhaseResult", "StandingResult", "analyze_standing", "favoured_side"]

#: phases of at least this length are recommended (docs/science.md: 30 s; 60 s research standard)
RECOMMENDED_PHASE_S = 30.0


@dataclass(frozen=True)
class StandingOptions:
    """Parameters of the standing analysis (all reported on the methods page).

    Attributes
    ----------
    settle_s : float
        Seconds dropped at the start of each phase (*guide*: 3 s).
    typical_band_pct : tuple of float
        Left shares inside this band are typical (*guide*: 45-55 %).
    stance_width_mm : float
        Heel-centre distance assumed for the net COP of insole data, mm.
    cutoff_hz, filter_order : float, int
        Zero-lag Butterworth low-pass applied to forces and COP before the
        metrics (*guide*: 10 Hz, 4th order).
    calibration : str
        ``auto``, ``single_leg``, ``body_weight`` or ``none``
        (:func:`insole.signals.calibrate.calibrate`).
    zero : bool
        Subtract sensor baselines measured with each foot lifted.
    n_boot : int
        Bootstrap replicates for confidence intervals.
    block_s : float
        Block length of the moving-block bootstrap, s (longer than the
        correlation time of the load share).
    seed : int
        Seed of the bootstrap (results are reproducible).
    """

    settle_s: float = 3.0
    typical_band_pct: tuple[float, float] = (45.0, 55.0)
    stance_width_mm: float = DEFAULT_STANCE_WIDTH_MM
    cutoff_hz: float = DEFAULT_CUTOFF_HZ
    filter_order: int = DEFAULT_ORDER
    calibration: str = "auto"
    zero: bool = True
    n_boot: int = 2000
    block_s: float = 2.0
    seed: int = 0


@dataclass(frozen=True)
class PhaseResult(FavouredAlias):
    """One phase of the standing test.

    Attributes
    ----------
    left_load_pct, right_load_pct : float
        ``100 * mean(F_L) / mean(F_L + F_R)`` and its complement, %.
    ci95_left_load_pct : tuple of float
        95 % moving-block bootstrap interval of the left share, %.
    left_load_sd_pct : float
        SD over time of the instantaneous left share, percentage points.
    time_outside_band_pct : float
        Share of the time the instantaneous left share was outside the
        typical band, %.
    favoured_side : str
        ``left``, ``right`` or ``none`` (see :func:`favoured_side`).
    sway : dict
        :func:`insole.sway_metrics` of the net COP (ground frame).
    sway_feet : dict
        Side -> the same metrics of that foot's COP.
    """

    name: str
    start_s: float
    end_s: float
    analysed_from_s: float
    left_load_pct: float
    right_load_pct: float
    ci95_left_load_pct: tuple[float, float]
    left_load_sd_pct: float
    time_outside_band_pct: float
    favoured_side: str
    sway: dict[str, float] | None
    sway_feet: dict[str, dict[str, float] | None]
    replicates: np.ndarray = field(repr=False, compare=False)
    #: where each foot's load sits (:func:`insole.analysis.regions.standing_regions`), None without sensors
    regions: RegionsResult | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("replicates")
        d["favored_side"] = d.pop("favoured_side")  # the JSON keeps its documented key
        d["ci95_left_load_pct"] = list(self.ci95_left_load_pct)
        d["regions"] = {s: f.to_dict() for s, f in self.regions.feet.items()} if self.regions else None
        return d


@dataclass(frozen=True)
class StandingResult(FavouredAlias):
    """The standing test's result (the ``standing`` block of ``insole analyze --json``).

    Attributes
    ----------
    phases : tuple of PhaseResult
        Quiet-standing phases (the foot lifts are used for calibration only).
    left_load_pct, ci95_left_load_pct
        All quiet standing pooled.
    favoured_side : str
        ``left``, ``right`` or ``none``, from the pooled share.
    verdict : str
        One plain sentence for the report.
    eyes_closed_shift_pp : float or None
        ``left_load_pct(eyes_closed) - left_load_pct(eyes_open)``, points;
        positive = load moved to the LEFT with the eyes closed.
    romberg : dict or None
        Eyes closed / eyes open for mean velocity and ellipse area.
    series : pandas.DataFrame
        Filtered time series behind the numbers (for figures): ``left_share_pct``,
        ``net_ml_mm``, ``net_ap_mm``, ``left_x_mm``, ``left_y_mm``,
        ``right_x_mm``, ``right_y_mm`` (ground frame).
    """

    phases: tuple[PhaseResult, ...]
    left_load_pct: float
    right_load_pct: float
    ci95_left_load_pct: tuple[float, float]
    favoured_side: str
    verdict: str
    eyes_closed_shift_pp: float | None
    ci95_eyes_closed_shift_pp: tuple[float, float] | None
    romberg: dict[str, float | None] | None
    calibration: Calibration
    options: StandingOptions
    warnings: tuple[str, ...] = ()
    series: pd.DataFrame = field(default=None, repr=False, compare=False)  # type: ignore[assignment]

    def phase(self, name: str) -> PhaseResult | None:
        return next((p for p in self.phases if p.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "phases": [p.to_dict() for p in self.phases],
            "left_load_pct": self.left_load_pct,
            "right_load_pct": self.right_load_pct,
            "ci95_left_load_pct": list(self.ci95_left_load_pct),
            "typical_band_pct": list(self.options.typical_band_pct),
            "eyes_closed_shift_pp": self.eyes_closed_shift_pp,
            "ci95_eyes_closed_shift_pp": (list(self.ci95_eyes_closed_shift_pp)
                                          if self.ci95_eyes_closed_shift_pp else None),
            "romberg": self.romberg,
            "favored_side": self.favoured_side,
            "verdict": self.verdict,
            "calibration": self.calibration.to_dict(),
            "options": {**asdict(self.options), "typical_band_pct": list(self.options.typical_band_pct)},
            "warnings": list(self.warnings),
        }


#: decimals the load share is reported with (the verdict judges that number)
REPORTED_DECIMALS = 1


def favoured_side(left_pct: float, ci95: tuple[float, float], band: tuple[float, float]) -> str:
    """The side called favoured, or ``"none"``.

    A side is favoured when the left share, rounded to the
    :data:`REPORTED_DECIMALS` it is reported with, lies outside the typical
    band AND its 95 % interval excludes an even 50 %; otherwise the
    difference is within typical variation.

    Parameters
    ----------
    left_pct : float
        The left foot's share of the load, %.
    ci95 : tuple of float
        Its 95 % interval, %.
    band : tuple of float
        The typical band of the left share, %.
    """
    lo_band, hi_band = band
    if not np.isfinite(left_pct):
        return "none"
    # judged on the share as reported (0.1 %), so the verdict and the printed
    # number agree: 55.04 % prints as 55.0 %, which is not beyond 45-55 %
    shown = round(float(left_pct), REPORTED_DECIMALS)
    if shown > hi_band and ci95[0] > 50.0:
        return LEFT
    if shown < lo_band and ci95[1] < 50.0:
        return RIGHT
    return "none"


def _verdict(left: float, ci: tuple[float, float], band: tuple[float, float], side: str) -> str:
    a, b = band
    if side == "none":
        return (f"Weight is shared {left:.1f} / {100 - left:.1f} % (left / right; 95 % CI of the left share "
                f"{ci[0]:.1f}-{ci[1]:.1f} %): within the typical {a:g}-{b:g} % band, so no side is favoured.")
    share = left if side == LEFT else 100.0 - left
    lo, hi = (ci if side == LEFT else (100.0 - ci[1], 100.0 - ci[0]))
    return (f"The {side} foot carries {share:.1f} % of the weight (95 % CI {lo:.1f}-{hi:.1f} %), beyond the "
            f"typical {a:g}-{b:g} % band: the {side} side is favoured.")


def _phase_note(r: PhaseResult) -> str:
    when = {"eyes_open": "With the eyes open", "eyes_closed": "With the eyes closed"}.get(
        r.name, f"In {r.name.replace('_', ' ')}")
    lo, hi = r.ci95_left_load_pct
    if r.favoured_side == "none":
        return f"{when} the share stays within the typical band (left {r.left_load_pct:.1f} %)."
    share = r.left_load_pct if r.favoured_side == LEFT else r.right_load_pct
    return f"{when} the {r.favoured_side} side is favoured ({share:.1f} % of the weight)."


def _longest_finite_run(mask: np.ndarray) -> slice:
    starts, ends = true_runs(mask)
    if starts.size == 0:
        return slice(0, 0)
    k = int(np.argmax(ends - starts))
    return slice(int(starts[k]), int(ends[k]))


def _sway(ml: np.ndarray, ap: np.ndarray, rate: float) -> dict[str, float] | None:
    run = _longest_finite_run(np.isfinite(ml) & np.isfinite(ap))
    if run.stop - run.start < max(10, int(5 * rate)):  # under 5 s of COP: no sway metrics
        return None
    return sway_metrics(ap[run], ml[run], sampling_rate_hz=rate)


def analyze_standing(recording: Recording, *, options: StandingOptions | None = None,
                     body_mass_kg: float | None = None) -> StandingResult:
    """Load share, sway and the eyes-closed effect of a standing recording.

    Steps: zero and calibrate (:func:`~insole.signals.calibrate.calibrate`),
    low-pass forces and COP (zero-lag Butterworth), then per quiet phase (the
    first ``settle_s`` dropped): load share with a moving-block bootstrap CI,
    its variation over time, sway of the net and per-foot COP; then the
    eyes-closed shift and Romberg ratios.

    Parameters
    ----------
    recording : Recording
        Both feet. Phases named ``eyes_open`` / ``eyes_closed`` are compared;
        ``lift_left`` / ``lift_right`` are used for calibration; a recording
        without phases is analysed as one phase ``all``.
    options : StandingOptions, optional
    body_mass_kg : float, optional
        Overrides the recording's body mass.

    Raises
    ------
    InsoleError
        When a foot is missing or no phase has enough data.
    """
    o = options or StandingOptions()
    recording.require_both_feet("standing analysis")
    rate = recording.meta.sampling_rate_hz
    t = recording.samples.index.to_numpy()
    lifts = set(LIFT_PHASES.values())
    quiet = tuple(p for p in recording.meta.phases if p.name not in lifts)
    if not quiet:
        quiet = (Phase("all", float(t[0]), float(t[-1] + 1.0 / rate)),)
    rec, cal = calibrate(recording, quiet_phases=quiet, method=o.calibration, zero=o.zero,
                         body_mass_kg=body_mass_kg)
    s = rec.samples
    cop_frame = rec.meta.extra.get("cop_frame", "foot")
    filt = {"sampling_rate_hz": rate, "cutoff_hz": o.cutoff_hz, "order": o.filter_order}
    fl, fr = lowpass(np.column_stack([s[(LEFT, FORCE)], s[(RIGHT, FORCE)]]), **filt).T
    net = net_cop_ground(s, cop_frame=cop_frame, stance_width_mm=o.stance_width_mm)
    ml, ap = lowpass(net[["ml_mm", "ap_mm"]].to_numpy(), **filt).T
    feet = {side: lowpass(np.column_stack(foot_cop_ground(s, side, cop_frame=cop_frame,
                                                          stance_width_mm=o.stance_width_mm)), **filt)
            for side in SIDES}
    with np.errstate(invalid="ignore", divide="ignore"):
        share = 100.0 * fl / (fl + fr)
    series = pd.DataFrame({"left_share_pct": share, "net_ml_mm": ml, "net_ap_mm": ap,
                           "left_x_mm": feet[LEFT][:, 0], "left_y_mm": feet[LEFT][:, 1],
                           "right_x_mm": feet[RIGHT][:, 0], "right_y_mm": feet[RIGHT][:, 1]}, index=s.index)

    rng = np.random.default_rng(o.seed)
    block = max(1, int(round(o.block_s * rate)))
    band = o.typical_band_pct
    results: list[PhaseResult] = []
    pooled_sums: list[np.ndarray] = []
    pooled_point = np.zeros(2)
    warnings: list[str] = []
    unloaded: list[str] = []
    for p in quiet:
        sel = (t >= p.start_s + o.settle_s) & (t < p.end_s)
        both = sel & np.isfinite(fl) & np.isfinite(fr)
        if both.sum() < max(10, int(2 * rate)):
            warnings.append(f"{p.name}: under 2 s of data from both feet; not analysed")
            continue
        if p.duration_s < RECOMMENDED_PHASE_S:
            warnings.append(f"{p.name} lasted {p.duration_s:.0f} s; at least {RECOMMENDED_PHASE_S:.0f} s is "
                            "recommended (60 s is the research standard)")
        pair = np.column_stack([fl[both], fl[both] + fr[both]])
        point = pair.sum(axis=0)
        if not point[1] >= NO_LOAD_N * pair.shape[0]:
            unloaded.append(f"{p.name}: the feet carry {point[1] / pair.shape[0]:.0f} N together on average, "
                            "no load to share")
            warnings.append(unloaded[-1] + "; not analysed")
            continue
        sums = block_bootstrap_sums(pair, block_len=block, n_boot=o.n_boot, rng=rng)
        reps = 100.0 * sums[:, 0] / sums[:, 1]
        left = 100.0 * point[0] / point[1]
        ci = percentile_ci(reps)
        inst = share[both]
        results.append(PhaseResult(
            name=p.name, start_s=p.start_s, end_s=p.end_s, analysed_from_s=p.start_s + o.settle_s,
            left_load_pct=float(left), right_load_pct=float(100.0 - left), ci95_left_load_pct=ci,
            left_load_sd_pct=float(np.std(inst)),
            time_outside_band_pct=float(100.0 * np.mean((inst < band[0]) | (inst > band[1]))),
            favoured_side=favoured_side(left, ci, band),
            sway=_sway(ml[sel], ap[sel], rate),
            sway_feet={side: _sway(feet[side][sel, 0], feet[side][sel, 1], rate) for side in SIDES},
            replicates=reps,
            regions=standing_regions(rec, stretches_s=[(p.start_s + o.settle_s, p.end_s)], n_boot=o.n_boot,
                                     block_s=o.block_s, seed=o.seed),
        ))
        pooled_sums.append(sums)
        pooled_point += point
    if not results:
        lengths = ", ".join(f"{p.name} {p.duration_s:.0f} s" for p in quiet)
        if unloaded:
            raise InsoleError("no phase can be judged: " + "; ".join(unloaded))
        raise InsoleError(f"no phase has enough standing data from both feet ({lengths}; the first "
                          f"{o.settle_s:g} s of each is dropped as settling, and 30 s or more is recommended)")
    total = np.sum(pooled_sums, axis=0)
    left_all = float(100.0 * pooled_point[0] / pooled_point[1])
    ci_all = percentile_ci(100.0 * total[:, 0] / total[:, 1])
    side = favoured_side(left_all, ci_all, band)

    by_name = {r.name: r for r in results}
    eo, ec = by_name.get("eyes_open"), by_name.get("eyes_closed")
    shift = shift_ci = romberg = None
    if eo and ec:
        shift = ec.left_load_pct - eo.left_load_pct
        shift_ci = percentile_ci(ec.replicates - eo.replicates)
        if eo.sway and ec.sway:
            romberg = romberg_ratios(eo.sway, ec.sway)
    verdict = _verdict(left_all, ci_all, band, side)
    for r in results:  # a phase that disagrees with the pooled verdict is worth a sentence of its own
        if r.favoured_side != side and len(results) > 1:
            verdict += " " + _phase_note(r)
    return StandingResult(
        phases=tuple(results), left_load_pct=left_all, right_load_pct=100.0 - left_all, ci95_left_load_pct=ci_all,
        favoured_side=side, verdict=verdict, eyes_closed_shift_pp=shift,
        ci95_eyes_closed_shift_pp=shift_ci, romberg=romberg, calibration=cal, options=o,
        warnings=tuple(warnings), series=series,
    )
