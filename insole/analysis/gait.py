"""Running and walking: contacts, the per-step table, per-side summaries,
asymmetry with confidence, and drift over the run (docs/science.md, "Gait")."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from ..constants import FORCE, LEFT, RIGHT, SIDES
from ..errors import InsoleError
from ..model import Recording, body_weight_n
from .asymmetry import LOAD_METRICS, WALK_LIMIT_SI_PCT, FavouredAlias, MetricAsymmetry, metric_asymmetry
from .contacts import DEFAULT_CONVENTION, EVENT_CONVENTIONS, ContactOptions, Contacts, detect_contacts
from .drift import DriftOptions, SensorDrift, change_point, sensor_drift, trend, windowed_indices
from .regions import RegionsResult, gait_regions
from .steps import step_table, steady_mask

log = logging.getLogger(__name__)

__all__ = ["GaitOptions", "GaitResult", "FeetSpan", "feet_span", "analyze_gait", "METRICS", "ONE_FOOT_LIMIT_S",
           "PhaseCoordination", "phase_coordination", "variability_cv_pct"]

#: asymmetry metrics and their per-step column
METRICS = {"contact_time": "contact_time_s", "flight_time": "flight_time_s", "peak_force": "peak_force_n",
           "impulse": "impulse_ns", "loading_rate": "loading_rate_n_s"}
_SUMMARY = ("contact_time_s", "flight_time_s", "step_time_s", "stride_time_s", "duty_factor", "swing_time_s",
            "swing_pct", "stance_pct", "peak_force_n",
            "peak_force_bw", "impulse_ns", "loading_rate_n_s", "strike_index_pct", "heel_pct", "midfoot_pct",
            "forefoot_pct", "toes_pct", "ml_index")


@dataclass(frozen=True)
class GaitOptions:
    """Parameters of the gait analysis (reported on the methods page)."""

    contact: ContactOptions = field(default_factory=ContactOptions)
    drift: DriftOptions = field(default_factory=DriftOptions)
    n_boot: int = 2000
    favour_factor: float = 2.0
    seed: int = 0


@dataclass(frozen=True)
class GaitResult(FavouredAlias):
    """The ``gait`` block of ``insole analyze --json``.

    Per-side values are means over the steps kept. Asymmetry indices are
    positive when the RIGHT side is larger.
    """

    mode: str
    steps: pd.DataFrame = field(repr=False)
    per_side: dict[str, dict[str, float]]
    n_steps: dict[str, int]
    n_excluded: dict[str, int]
    cadence_spm: float
    asymmetry: dict[str, MetricAsymmetry]
    drift: dict[str, Any]
    sensor: SensorDrift
    favoured_side: str
    verdict: str
    thresholds_n: dict[str, dict[str, float]]
    notes: tuple[str, ...]
    options: GaitOptions
    span: FeetSpan | None = None
    double_support_pct: float | None = None
    phase: PhaseCoordination | None = None
    speed_m_s: float | None = None
    stride_length_m: float | None = None
    swing_asymmetry: MetricAsymmetry | None = None
    #: where each foot's load sits in stance (:func:`insole.analysis.regions.gait_regions`)
    regions: RegionsResult | None = field(default=None, repr=False)

    @property
    def pci_pct(self) -> float | None:
        """Phase coordination index, % (Plotnik et al. 2007); None if not found."""
        return self.phase.pci_pct if self.phase is not None else None

    def to_dict(self) -> dict[str, Any]:
        per_side = {side: {k: self.per_side[side].get(k) for k in (
            "contact_time_s", "flight_time_s", "peak_force_n", "impulse_ns", "loading_rate_n_s", "strike_index_pct",
            "peak_force_bw", "step_time_s", "stride_time_s", "stride_time_cv_pct", "duty_factor", "swing_time_s",
            "swing_pct", "stance_pct", "swing_time_cv_pct", "stance_time_cv_pct", "heel_pct",
            "midfoot_pct", "forefoot_pct", "toes_pct", "ml_index")} for side in SIDES}
        for side in SIDES:
            feet = self.regions.feet if self.regions is not None else {}
            per_side[side]["regions"] = feet[side].to_dict() if side in feet else None
        asym = {k: v.to_dict() for k, v in self.asymmetry.items()}
        if self.swing_asymmetry is not None:
            asym["swing_time"] = self.swing_asymmetry.to_dict()
        return {
            "mode": self.mode,
            "n_steps": self.n_steps,
            "n_excluded": self.n_excluded,
            "cadence_spm": self.cadence_spm,
            "left": per_side[LEFT],
            "right": per_side[RIGHT],
            "double_support_pct": self.double_support_pct,
            "pci_pct": self.pci_pct,
            "phase_coordination": self.phase.to_dict() if self.phase is not None else None,
            "speed_m_s": self.speed_m_s,
            "stride_length_m": self.stride_length_m,
            "asymmetry": asym,
            "drift": {**self.drift, "sensor": self.sensor.to_dict()},
            "favored_side": self.favoured_side,
            "verdict": self.verdict,
            "events": {"thresholds_n": self.thresholds_n},
            "notes": list(self.notes),
            "options": asdict(self.options),
        }


#: one foot's data may start later or end earlier than the other's by this
#: much before the stretch with one foot only is left out and reported, s
ONE_FOOT_LIMIT_S = 1.0
#: no run is faster on average than this (a 100-m sprint world record: 10.4 m/s), m/s
MAX_SPEED_M_S = 12.5


@dataclass(frozen=True)
class FeetSpan:
    """Where each foot has data, and the stretch analysed.

    Attributes
    ----------
    start_s, end_s : dict
        Side -> time of the foot's first and last sample with a force, s.
    analysed_s : tuple of float
        ``(start, end)`` of the stretch analysed, s: where both feet have
        data, when one foot starts or ends more than
        :data:`ONE_FOOT_LIMIT_S` apart from the other; else all of it.
    note : str
        Plain words on which foot starts late or ends early ("" if none).
    """

    start_s: dict[str, float]
    end_s: dict[str, float]
    analysed_s: tuple[float, float]
    note: str = ""


def feet_span(recording: Recording, *, limit_s: float = ONE_FOOT_LIMIT_S) -> FeetSpan:
    """Each foot's first and last sample with a force, and the stretch both
    feet share when one starts late or ends early (an insole that started
    late, died, or a file cut short on one foot).

    Raises
    ------
    InsoleError
        When a foot has no force at all, or the feet's data do not overlap.
    """
    t = recording.samples.index.to_numpy(dtype=np.float64)
    start, end = {}, {}
    for side in SIDES:
        rows = np.flatnonzero(np.isfinite(recording.samples[(side, FORCE)].to_numpy(dtype=np.float64)))
        if rows.size == 0:
            raise InsoleError(f"the {side} foot has no force data; the gait analysis needs both feet")
        start[side], end[side] = float(t[rows[0]]), float(t[rows[-1]])
    lo, hi = max(start.values()), min(end.values())
    parts = []
    late = max(SIDES, key=lambda s: start[s])
    early = min(SIDES, key=lambda s: end[s])
    other = {LEFT: RIGHT, RIGHT: LEFT}
    d_start = start[late] - start[other[late]]
    d_end = end[other[early]] - end[early]
    if d_start > limit_s:
        parts.append(f"the {late} insole's data starts {d_start:.1f} s after the {other[late]}'s")
    if d_end > limit_s:
        parts.append(f"the {early} insole's data ends {d_end:.1f} s before the {other[early]}'s")
    if hi <= lo:
        raise InsoleError("the two feet's data do not overlap in time (" + "; ".join(
            f"{s} {start[s]:.1f}-{end[s]:.1f} s" for s in SIDES) + "): the gait analysis needs both feet at once")
    if not parts:
        return FeetSpan(start, end, (float(t[0]), float(t[-1])))
    left_out = [f"the first {d_start:.1f} s" if d_start > limit_s else "",
                f"the last {d_end:.1f} s" if d_end > limit_s else ""]
    note = "; ".join(parts) + ": " + " and ".join(x for x in left_out if x) + ", with one foot only, were left out"
    return FeetSpan(start, end, (lo, hi), note)


def _mode(steps: pd.DataFrame, protocol: str) -> str:
    if protocol in ("run", "walk"):
        return protocol
    flight = steps["flight_time_s"].dropna()
    return "run" if flight.size and flight.median() > 0 else "walk"


def analyze_gait(recording: Recording, *, protocol: str = "run", body_mass_kg: float | None = None,
                 distance_m: float | None = None, options: GaitOptions | None = None) -> GaitResult:
    """Contacts, steps, per-side metrics, asymmetry, drift of a run or walk.

    Parameters
    ----------
    recording : Recording
        Both feet.
    protocol : str
        ``run`` or ``walk`` (sets the shortest contact kept).
    body_mass_kg : float, optional
        Overrides the recording's body mass (forces in body weights, event
        level for light subjects, drift limits).
    distance_m : float, optional
        Distance covered, m (else ``meta.extra["distance_m"]`` when the file
        has it): adds per-km windows to the drift, at a constant pace.
    options : GaitOptions, optional

    Raises
    ------
    InsoleError
        When a foot is missing or too few steps are found.
    """
    o = options or GaitOptions()
    recording.require_both_feet("gait analysis")
    o = _resolved_convention(o, recording)
    fs = recording.meta.sampling_rate_hz
    mass = body_mass_kg or recording.meta.body_mass_kg
    bw = body_weight_n(mass)
    span = feet_span(recording)
    if span.note:
        log.warning("%s", span.note)
        idx = recording.samples.index.to_numpy()
        a, b = np.searchsorted(idx, span.analysed_s[0]), np.searchsorted(idx, span.analysed_s[1], side="right")
        recording = replace(recording, samples=recording.samples.iloc[a:b])
    t = recording.samples.index.to_numpy()
    mode_ = protocol if protocol in ("run", "walk") else "run"
    contacts, zeroed, baselines = _foot_events(recording, mode=mode_, body_weight_n=bw, options=o)
    steps = step_table(recording, contacts, zeroed, body_weight_n=bw)
    _require_steps(steps, span, t)
    mode = _mode(steps, protocol)
    kept = steps[steps["excluded"] == ""]
    rng = np.random.default_rng(o.seed)
    asym = _asymmetries(recording, kept, mode=mode, options=o, rng=rng)
    swing_asym = asym.pop("swing_time", None)
    excluded = steps["excluded"].value_counts().to_dict()
    excluded.pop("", None)
    drift, sensor, distance_m = _drift(recording, kept, asym, baselines, zeroed, body_weight_n=bw, span_note=span.note,
                                       distance_m=distance_m, options=o, rng=rng)
    dur = float(t[-1] - t[0])
    ds = (kept["double_support_s"] / kept["stride_time_s"]).dropna()
    speed = distance_m / dur if distance_m and dur > 0 else None
    stride_s = kept["stride_time_s"].dropna()
    side = _overall(asym) if min(_kept_per_side(kept).values()) >= MIN_STEPS_FOR_VERDICT else "none"
    step_times = kept["step_time_s"].dropna()
    return GaitResult(mode=mode, steps=steps, per_side=_per_side(steps, kept),
                      n_steps={k: int((kept["side"] == k).sum()) for k in SIDES},
                      n_excluded={k: int(((steps["side"] == k) & (steps["excluded"] != "")).sum()) for k in SIDES},
                      cadence_spm=float(60.0 / step_times.mean()) if len(step_times) else float("nan"),
                      asymmetry=asym, drift=drift, sensor=sensor, favoured_side=side,
                      verdict=_verdict(asym, side, mode, n_kept=_kept_per_side(kept), excluded=excluded),
                      thresholds_n={k: c.thresholds_n for k, c in contacts.items()},
                      notes=tuple(_notes(fs, span.note, excluded)), options=o, span=span,
                      double_support_pct=float(100.0 * ds.mean()) if len(ds) else None,
                      phase=phase_coordination(steps), speed_m_s=speed,
                      stride_length_m=float(speed * stride_s.mean()) if speed and len(stride_s) else None,
                      swing_asymmetry=swing_asym, regions=gait_regions(recording, steps, n_boot=o.n_boot, seed=o.seed))



def _resolved_convention(o: GaitOptions, recording: Recording) -> GaitOptions:
    """``auto`` events: a vendor's export keeps its vendor's convention; our own insoles get
    :data:`~insole.analysis.contacts.DEFAULT_CONVENTION` (20 N shared out by each foot's own loading)."""
    if o.contact.convention != "auto":
        return o
    own = recording.meta.extra.get("event_convention", DEFAULT_CONVENTION)
    return replace(o, contact=replace(o.contact, convention=own if own in EVENT_CONVENTIONS else DEFAULT_CONVENTION))


def _foot_events(recording: Recording, *, mode: str, body_weight_n: float | None, options: GaitOptions
                 ) -> tuple[dict[str, Contacts], dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Each foot's contacts, zeroed force and swing baseline (N); a second pass for ``paired`` levels."""
    s = recording.samples
    fs, t0 = recording.meta.sampling_rate_hz, float(s.index[0])
    contacts: dict[str, Contacts] = {}
    zeroed: dict[str, np.ndarray] = {}
    baselines: dict[str, np.ndarray] = {}
    for side in SIDES:
        raw = s[(side, FORCE)].to_numpy(dtype=np.float64)
        contacts[side], zeroed[side] = detect_contacts(raw, sampling_rate_hz=fs, t0_s=t0, mode=mode,
                                                       body_weight_n=body_weight_n, options=options.contact)
        baselines[side] = raw - zeroed[side]
    peaks = [c.thresholds_n.get("median_peak") for c in contacts.values()]
    if EVENT_CONVENTIONS[options.contact.convention].get("paired") and all(p and p > 0 for p in peaks):
        pair_peak = float(np.mean(peaks))  # each foot's levels follow its own loading (second pass, zeroed force)
        for side in SIDES:
            contacts[side], _ = detect_contacts(zeroed[side], sampling_rate_hz=fs, t0_s=t0, mode=mode,
                                                body_weight_n=body_weight_n, options=options.contact, zeroed=True,
                                                pair_peak_n=pair_peak)
    return contacts, zeroed, baselines


def _require_steps(steps: pd.DataFrame, span, t: np.ndarray) -> None:
    """Raise InsoleError when a foot has fewer than 5 steps, saying why it may be."""
    n_found = {side: int((steps["side"] == side).sum()) for side in SIDES}
    if min(n_found.values()) >= 5:
        return
    if span.note:
        raise InsoleError(f"too few steps found (left {n_found[LEFT]}, right {n_found[RIGHT]}) in the "
                          f"{t[-1] - t[0]:.1f} s when both feet have data: {span.note}")
    none = [side for side in SIDES if n_found[side] == 0]
    raise InsoleError(f"too few steps found (left {n_found[LEFT]}, right {n_found[RIGHT]})"
                      + (f"; the {none[0]} foot has no contacts" if len(none) == 1 else "")
                      + ": is this a run or a walk? For a standing test use --protocol standing")


def _per_side(steps: pd.DataFrame, kept: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Per foot: the means of the kept steps and the CVs of stride, swing and stance time."""
    out: dict[str, dict[str, float]] = {}
    for side in SIDES:
        k = kept[kept["side"] == side]
        d = {c: _mean(k[c]) for c in _SUMMARY}
        mine = steps[steps["side"] == side]
        for name, col in (("stride_time_cv_pct", "stride_time_s"), ("swing_time_cv_pct", "swing_time_s"),
                          ("stance_time_cv_pct", "contact_time_s")):
            d[name] = variability_cv_pct(mine[col].to_numpy(dtype=float), mine["excluded"].to_numpy())
        out[side] = d
    return out


def _asymmetries(recording: Recording, kept: pd.DataFrame, *, mode: str, options: GaitOptions,
                 rng: np.random.Generator) -> dict[str, MetricAsymmetry]:
    """Each metric's asymmetry over the kept steps, judged (runners' or walkers' limits; what may vote)."""
    o = options
    unmatched = force_gains_unmatched(recording) if mode == "walk" else ""
    names = [n for n in METRICS if not (n == "flight_time" and mode == "walk")]  # walk: negative (double support)
    if mode == "walk":
        names.append("swing_time")  # running has flight time instead
    asym: dict[str, MetricAsymmetry] = {}
    for name in names:
        col = METRICS.get(name, "swing_time_s")
        walk = {"limit_si_pct": WALK_LIMIT_SI_PCT[name], "reference": WALK_REFERENCE[name]} if mode == "walk" else {}
        asym[name] = _judged(metric_asymmetry(name, kept.loc[kept["side"] == LEFT, col].to_numpy(),
                                              kept.loc[kept["side"] == RIGHT, col].to_numpy(), n_boot=o.n_boot,
                                              rng=rng, favour_factor=o.favour_factor, **walk),
                             sampling_rate_hz=recording.meta.sampling_rate_hz, gains_unmatched=unmatched)
    return asym


def _notes(fs: float, span_note: str, excluded: dict) -> list[str]:
    """The result's notes: a low sampling rate, a foot missing for a while, the steps left out."""
    notes = []
    if fs < 200:
        notes.append(f"loading rate needs 200 Hz or more to mean much; this recording is {fs:g} Hz")
    if span_note:
        notes.append(span_note)
    if excluded:
        notes.append("steps left out: " + ", ".join(f"{v} {k}" for k, v in excluded.items()))
    return notes


def _drift(recording: Recording, kept: pd.DataFrame, asym: dict[str, MetricAsymmetry], baselines, zeroed, *,
           body_weight_n: float | None, span_note: str, distance_m: float | None, options: GaitOptions,
           rng: np.random.Generator) -> tuple[dict[str, Any], Any, float | None]:
    """The indices over the run (per window, per km), their trends and change points, the sensor check."""
    o = options
    t = recording.samples.index.to_numpy()
    dur = float(t[-1] - t[0])
    n_win = max(1, int(round(dur / o.drift.window_s)))
    edges = float(t[0]) + np.linspace(0.0, dur, n_win + 1)
    metrics = {k: METRICS[k] for k in asym}
    windows = windowed_indices(kept, metrics, edges_s=edges, min_steps=o.drift.min_steps)
    centres = 0.5 * (windows["start_s"] + windows["end_s"]).to_numpy()
    slopes = {k: trend(centres, windows[k].to_numpy(), n_boot=o.n_boot, block=o.drift.block_windows, rng=rng)
              for k in metrics}
    changes = {k: change_point(windows["start_s"].to_numpy(), windows[k].to_numpy()) for k in metrics}
    sensor = sensor_drift(t, baselines, zeroed, edges_s=edges, body_weight_n=body_weight_n, options=o.drift,
                          contacts_s=np.sort(kept["ic_s"].to_numpy(dtype=float)))
    drift = {"window_s": float(dur / n_win), "windows": windows.to_dict("records"),
             "slope_pp_per_10min": slopes, "change_point": changes,
             "verdict": _drift_verdict(slopes, sensor, span_note)}
    distance_m = _plausible_distance_m(distance_m, recording.meta.extra.get("distance_m"), dur)
    if distance_m and distance_m >= 1000.0:
        # per km: windows of equal distance, at the run's mean pace
        km = distance_m / 1000.0
        km_edges = float(t[0]) + dur * np.minimum(np.arange(int(np.ceil(km)) + 1) / km, 1.0)
        per_km = windowed_indices(kept, metrics, edges_s=km_edges, min_steps=o.drift.min_steps)
        per_km.insert(0, "km", np.arange(1, len(per_km) + 1))
        drift["per_km"] = per_km.to_dict("records")
        drift["distance_m"] = float(distance_m)
    return drift, sensor, distance_m

#: fewest kept steps per foot for an asymmetry verdict (fewer: "too few steps")
MIN_STEPS_FOR_VERDICT = 10


def _plausible_distance_m(given_m: float | None, stored_m: Any, duration_s: float) -> float | None:
    """The distance of the run, m: the one given, else the file's; one
    covered faster than :data:`MAX_SPEED_M_S` is an error when given and
    ignored when stored (a damaged file)."""
    for value, given in ((given_m, True), (stored_m, False)):
        if not value:
            continue
        if value <= MAX_SPEED_M_S * max(duration_s, 1.0):
            return float(value)
        if given:
            raise InsoleError(f"a distance of {value / 1000:g} km in {duration_s:.0f} s is faster than anyone runs; "
                              "give the distance of this recording")
        log.warning("the stored distance %g m is implausible for %.0f s; ignored", value, duration_s)
    return None


def _mean(x: pd.Series) -> float | None:
    x = pd.to_numeric(x, errors="coerce").dropna()
    return float(x.mean()) if len(x) else None


#: fewest strides for a coefficient of variation or a PCI
MIN_STRIDES_FOR_CV = 10


def variability_cv_pct(values: np.ndarray, excluded: np.ndarray) -> float | None:
    """Coefficient of variation ``100 * SD / mean`` (SD with n - 1) of one
    foot's stride, swing or stance times over the strides that
    :func:`~insole.analysis.steps.steady_mask` keeps for THAT series, %.

    Parameters
    ----------
    values : numpy.ndarray
        The metric per row of one foot's step table, in time order, s.
    excluded : numpy.ndarray
        The same rows' ``excluded`` labels.

    Returns
    -------
    float or None
        None with fewer than :data:`MIN_STRIDES_FOR_CV` strides.
    """
    x = np.asarray(values, dtype=np.float64)[steady_mask(values, excluded)]
    if x.size < MIN_STRIDES_FOR_CV:
        return None
    return float(100.0 * x.std(ddof=1) / x.mean())


@dataclass(frozen=True)
class PhaseCoordination:
    """Bilateral coordination of stepping (Plotnik, Giladi & Hausdorff 2007,
    Exp Brain Res 181:561-570).

    Attributes
    ----------
    pci_pct : float
        ``phi_CV + P_phi_ABS``, %: lower is better coordinated.
    phi_mean_deg : float
        Mean phase of the other foot's initial contact in the reference
        foot's stride, degrees (180 = exactly anti-phase).
    phi_cv_pct : float
        ``100 * SD(phi) / mean(phi)``, % (consistency).
    phi_abs_deg : float
        ``mean |phi_i - 180|``, degrees; ``P_phi_ABS = 100 * phi_abs / 180`` %
        (accuracy).
    reference_side : str
        The foot with the longer mean swing time (Plotnik's "L").
    n_strides : int
        Phases used.
    """

    pci_pct: float
    phi_mean_deg: float
    phi_cv_pct: float
    phi_abs_deg: float
    reference_side: str
    n_strides: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def phase_coordination(steps: pd.DataFrame) -> PhaseCoordination | None:
    """The phase coordination index from the step table.

    As published (Plotnik et al. 2007): the reference leg L is the one with
    the longer mean swing time, S the other; for each stride of L,
    ``phi_i = 360 * (t_S,i - t_L,i) / (t_L,i+1 - t_L,i)`` with ``t`` the
    initial contacts (heel strikes) and ``t_S,i`` the contact of S inside
    that stride; ``phi_CV = 100 * SD / mean`` of the phases, ``phi_ABS =
    mean |phi_i - 180|``, ``P_phi_ABS = 100 * phi_ABS / 180`` and
    ``PCI = phi_CV + P_phi_ABS``. Strides of L are used when
    :func:`~insole.analysis.steps.steady_mask` keeps their stride time and
    exactly one contact of S lies inside them.

    Parameters
    ----------
    steps : pandas.DataFrame
        The step table (:func:`~insole.analysis.steps.step_table`).

    Returns
    -------
    PhaseCoordination or None
        None with fewer than :data:`MIN_STRIDES_FOR_CV` usable strides.
    """
    kept = steps[steps["excluded"] == ""]
    swing = {side: kept.loc[kept["side"] == side, "swing_time_s"].mean() for side in SIDES}
    if not all(np.isfinite(v) for v in swing.values()):
        return None
    ref = LEFT if swing[LEFT] >= swing[RIGHT] else RIGHT
    mine = steps[steps["side"] == ref]
    other_ic = np.sort(steps.loc[steps["side"] != ref, "ic_s"].to_numpy(dtype=float))
    ic = mine["ic_s"].to_numpy(dtype=float)
    stride = mine["stride_time_s"].to_numpy(dtype=float)
    use = steady_mask(stride, mine["excluded"].to_numpy())
    lo = np.searchsorted(other_ic, ic, side="left")
    hi = np.searchsorted(other_ic, ic + np.nan_to_num(stride), side="left")
    use &= (hi - lo) == 1
    if use.sum() < MIN_STRIDES_FOR_CV:
        return None
    phi = 360.0 * (other_ic[lo[use]] - ic[use]) / stride[use]
    cv = float(100.0 * phi.std(ddof=1) / phi.mean())
    absdev = float(np.mean(np.abs(phi - 180.0)))
    return PhaseCoordination(pci_pct=cv + 100.0 * absdev / 180.0, phi_mean_deg=float(phi.mean()), phi_cv_pct=cv,
                             phi_abs_deg=absdev, reference_side=ref, n_strides=int(use.sum()))


#: where each walking bound comes from (:data:`~insole.analysis.asymmetry.WALK_LIMIT_SI_PCT`)
WALK_REFERENCE = {
    "contact_time": "healthy walkers' 95 % range, stance-time ratio 1.05 (Patterson et al. 2010)",
    "swing_time": "healthy walkers' 95 % range, swing-time ratio 1.06 (Patterson et al. 2010)",
    "peak_force": "10 % SI, the classic cut-off for healthy walkers' force asymmetry (after Herzog et al. 1989)",
    "impulse": "10 % SI, the classic cut-off for healthy walkers' force asymmetry (after Herzog et al. 1989)",
    "loading_rate": "15 % SI (guide; no published walking range)",
}
#: calibration methods that match the two insoles' gains to each other
MATCHING_CALIBRATIONS = ("single_leg",)
#: force metrics: they compare the two insoles' gains as well as the feet
FORCE_METRICS = ("peak_force", "impulse", "loading_rate")


def force_gains_unmatched(recording: Recording) -> str:
    """Why the two insoles' force gains cannot be taken as matched ("" when
    they can).

    The rule (docs/science.md, "A metric the data cannot support"): a gain
    mismatch e between the insoles fakes an SI of about 100 e % in peak force
    and impulse, and no analysis of the walk itself can tell it from the
    person. Gains count as matched only when the recording says so:
    ``meta.extra["calibration"]["method"]`` is one of
    :data:`MATCHING_CALIBRATIONS` (each insole calibrated while it carried the
    whole body weight: the body-weight identity per foot), or
    ``meta.extra["gains_matched"]`` is true. Vendor forces in newtons
    (gaitpdb, Moticon) are each insole's factory calibration, not a
    calibration of the two insoles against each other in this person's shoes;
    the gaitpdb walks read 1.2-1.4 x body weight, so each foot's gain is off
    by tens of percent and may differ between the feet. They are therefore
    assumed unmatched.

    Parameters
    ----------
    recording : Recording
        The walk.
    """
    extra = recording.meta.extra or {}
    cal = extra.get("calibration")
    method = cal.get("method") if isinstance(cal, dict) else None
    if method in MATCHING_CALIBRATIONS or extra.get("gains_matched") is True:
        return ""
    note = extra.get("force_calibration_note")
    what = f"the file's forces: {note}" if note else "the recording carries no calibration of one insole against the other"
    return ("a force metric: the two insoles' gains were never calibrated against each other (" + what
            + "), and a 10 % gain mismatch alone fakes a 10 % asymmetry; calibrate with the standing test's foot lifts")


def _judged(a: MetricAsymmetry, *, sampling_rate_hz: float, gains_unmatched: str = "") -> MetricAsymmetry:
    """Mark whether the metric may decide the verdict, and why not
    (docs/science.md: a metric the data cannot support is not used).

    Parameters
    ----------
    gains_unmatched : str
        Why the insoles' gains are not matched (:func:`force_gains_unmatched`);
        "" when they are. Force metrics are then left out.
    """
    why = ""
    if a.si_pct is None:
        why = "no index"
    elif a.metric not in LOAD_METRICS:
        why = "a timing measure: it names the longer side, not a favoured one"
    elif a.metric == "loading_rate" and sampling_rate_hz < 200:
        why = f"loading rate needs 200 Hz or more (the impact rise lasts 20-50 ms); this is {sampling_rate_hz:g} Hz"
    elif a.metric in FORCE_METRICS and gains_unmatched:
        why = gains_unmatched
    if not why:
        return a
    return replace(a, used_for_verdict=False, why_not_used=why, favoured_side="none")


def _overall(asym: dict[str, MetricAsymmetry]) -> str:
    votes = [a.favoured_side for a in asym.values() if a.favoured_side != "none" and a.used_for_verdict]
    if not votes:
        return "none"
    n_left, n_right = votes.count(LEFT), votes.count(RIGHT)
    return LEFT if n_left > n_right else RIGHT if n_right > n_left else "none"


_LABEL = {"contact_time": "contact time", "flight_time": "flight time", "swing_time": "swing time", "peak_force": "peak force",
          "impulse": "impulse", "loading_rate": "loading rate"}


def _kept_per_side(kept: pd.DataFrame) -> dict[str, int]:
    return {k: int((kept["side"] == k).sum()) for k in SIDES}


def _verdict(asym: dict[str, MetricAsymmetry], side: str, mode: str = "run", *, n_kept: dict[str, int] | None = None,
             excluded: dict[str, int] | None = None) -> str:
    if n_kept is not None and min(n_kept.values()) < MIN_STEPS_FOR_VERDICT:
        why = ("; left out: " + ", ".join(f"{v} {k}" for k, v in excluded.items())) if excluded else ""
        return (f"Too few steps to judge left against right: {n_kept[LEFT]} left and {n_kept[RIGHT]} right steps "
                f"could be analysed, and at least {MIN_STEPS_FOR_VERDICT} per foot are needed{why}. No side is "
                "called favoured.")
    favoured = [a for a in asym.values() if a.favoured_side != "none"]
    flight = asym.get("flight_time")
    extra = f" Flight time is {flight.note}." if flight is not None and flight.note else ""
    left_out = sorted({_LABEL[a.metric] for a in asym.values() if not a.used_for_verdict and a.si_pct is not None
                       and a.metric in LOAD_METRICS})
    if left_out:
        extra += (" Not used for this verdict (the data cannot support them; see each one's note): "
                  + ", ".join(left_out) + ".")
    if not favoured:
        if mode == "run":
            return ("Every asymmetry is within the typical variation of healthy runners: a side is called favoured "
                    "only when the whole 95 % interval lies beyond twice the typical value." + extra)
        return ("Every asymmetry is within the range of healthy walkers (stance-time ratio up to 1.05, Patterson et "
                "al. 2010): a side is called favoured only when the whole 95 % interval lies beyond that range."
                + extra)
    parts = []
    for a in favoured:
        lo, hi = a.ci95_si_pct
        parts.append(f"{_LABEL[a.metric]} {abs(a.si_pct):.1f} % higher on the {a.favoured_side} "
                     f"(95 % CI {min(abs(lo), abs(hi)):.1f}-{max(abs(lo), abs(hi)):.1f} %)")
    head = f"The {side} side is favoured: " if side != "none" else "Mixed: "
    return head + "; ".join(parts) + "." + extra


def _drift_verdict(slopes: dict[str, dict[str, Any]], sensor: SensorDrift, span_note: str = "") -> str:
    head = span_note[0].upper() + span_note[1:] + ". " if span_note else ""
    return head + _trend_verdict(slopes, sensor)


def _trend_verdict(slopes: dict[str, dict[str, Any]], sensor: SensorDrift) -> str:
    if sensor.drifted:
        return "The sensor drifted (" + "; ".join(sensor.reasons) + "), so a change of asymmetry over the run is not " \
               "read as fatigue."
    moving = []
    for k, s in slopes.items():
        if s["value"] is not None and s["ci95"] and (s["ci95"][0] > 0 or s["ci95"][1] < 0):
            lo, hi = sorted(abs(float(c)) for c in s["ci95"])
            moving.append(f"{_LABEL[k]} asymmetry {'grows toward the right' if s['value'] > 0 else 'grows toward the left'}"
                          f" by {abs(s['value']):.1f} points per 10 min (95 % CI {lo:.1f}-{hi:.1f})")
    if not moving:
        return "The asymmetry stays stable over the run."
    return "Over the run: " + "; ".join(moving) + "."
