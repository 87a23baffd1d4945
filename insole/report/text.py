"""The words of the report: headline, key numbers, data-quality verdict and
methods, all built from the analysis results (no number is typed in)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..analysis.asymmetry import LOAD_METRICS, TYPICAL_SA_PCT, WALK_LIMIT_SI_PCT
from ..analysis.gait import MIN_STEPS_FOR_VERDICT, WALK_REFERENCE
from ..analysis.gait import GaitResult
from ..analysis.standing import StandingResult
from ..model import Recording

__all__ = ["headline", "key_numbers", "quality_verdict", "quality_rows", "methods_text"]

_LABEL = {"contact_time": "contact time", "flight_time": "flight time", "swing_time": "swing time", "peak_force": "peak force",
          "impulse": "impulse", "loading_rate": "loading rate"}


def headline(standing: StandingResult | None, gait: GaitResult | None) -> str:
    """One sentence for a non-expert: which side is favoured, and whether it matters."""
    parts = []
    if standing is not None:
        s = standing.favoured_side
        share = standing.left_load_pct if s == "left" else 100.0 - standing.left_load_pct
        parts.append(("standing", s, f"the {s} foot carries {share:.0f} % of the weight" if s != "none" else
                      f"the weight is shared {standing.left_load_pct:.0f} / {100 - standing.left_load_pct:.0f}"))
    if gait is not None:
        s = gait.favoured_side
        fav = [a for a in gait.asymmetry.values() if a.favoured_side == s and s != "none"]
        what = "; ".join(f"{_LABEL[a.metric]} {abs(a.si_pct):.0f} % higher on the {s}" for a in fav[:2])
        parts.append((gait.mode + "ning" if gait.mode == "run" else "walking", s, what or "left and right match"))
    sides = {p[1] for p in parts if p[1] != "none"}
    if not parts:
        return "Nothing to analyse in these recordings."
    if not sides:
        return ("No side is favoured: " + " and ".join(f"{p[0]}, {p[2]}" for p in parts)
                + ", within the typical variation of healthy people, so there is nothing to correct.")
    if len(sides) == 2:
        return ("Mixed picture: " + "; ".join(f"{p[0]}, {p[2]}" for p in parts)
                + ". Each is beyond typical variation, but on different sides: worth a closer look.")
    side = sides.pop()
    favoured = [p for p in parts if p[1] == side]
    typical = [p for p in parts if p[1] == "none"]
    sentence = (f"The {side} side is favoured: " + " and ".join(f"{p[0]}, {p[2]}" for p in favoured)
                + ", more than the typical variation of healthy people, so it is worth working on")
    if typical:
        sentence += "; " + " and ".join(f"{p[0]} is within typical variation" for p in typical)
    return sentence + "."


def _ci(ci: Any, fmt: str = "{:.1f}") -> str:
    return "-" if not ci else f"{fmt.format(ci[0])} to {fmt.format(ci[1])}"


def key_numbers(standing: StandingResult | None, gait: GaitResult | None) -> list[list[str]]:
    """Rows ``[what, value, 95 % CI, typical, verdict]`` of the summary table."""
    rows = []
    if standing is not None:
        band = standing.options.typical_band_pct
        for p in standing.phases:
            rows.append([f"standing, {p.name.replace('_', ' ')}: left share", f"{p.left_load_pct:.1f} %",
                         _ci(p.ci95_left_load_pct), f"{band[0]:g}-{band[1]:g} %",
                         "typical" if p.favoured_side == "none" else f"{p.favoured_side} favoured"])
        if standing.eyes_closed_shift_pp is not None:
            rows.append(["standing, eyes-closed shift (+ = to the left)", f"{standing.eyes_closed_shift_pp:+.1f} pt",
                         _ci(standing.ci95_eyes_closed_shift_pp, "{:+.1f}"), "", ""])
        if standing.romberg:
            rows.append(["standing, Romberg ratio of sway velocity", f"{standing.romberg['mean_velocity']:.2f}", "",
                         "about 1-2", ""])
    if gait is not None:
        for k, a in gait.asymmetry.items():
            if a.si_pct is None:
                continue
            verdict = (f"{a.favoured_side} favoured" if a.favoured_side != "none"
                       else ("beyond typical" if a.beyond_typical else "typical"))
            if not a.used_for_verdict and a.metric in LOAD_METRICS:
                verdict = "not used (see note)"
            # like with like: the SI against the bound expressed as an SI
            typical = f"SI within +-{a.bound_si_pct:.1f} %" if a.bound_si_pct is not None else ""
            rows.append([f"{gait.mode}, {_LABEL[k]} SI (+ = right larger)", f"{a.si_pct:+.1f} %", _ci(a.ci95_si_pct),
                         typical, verdict])
        rows.append([f"{gait.mode}, cadence", f"{gait.cadence_spm:.0f} steps/min", "", "", ""])
        if gait.mode == "walk":
            rows += walking_rows(gait)
    return rows


#: healthy adults walking at their comfortable speed (*guide* bands for the
#: summary table, not verdicts): swing (Frenkel-Toledo's 35.27 +- 1.97 %,
#: +-2 SD widened by a point for the event convention) and double support
#: (about 20-30 %) as % of stride, and the
#: variability and coordination of Frenkel-Toledo et al. 2005 (J NeuroEng
#: Rehabil 2:23, Table 2: stride CV 1.94 +- 0.36 %, swing CV 2.80 +- 1.99 %)
#: and Plotnik et al. 2007 (Exp Brain Res 181:561: PCI about 2-4 %)
HEALTHY_WALKING = {
    "swing_pct": (31.0, 41.0), "double_support_pct": (18.0, 32.0), "stride_time_cv_pct": (None, 2.7),
    "swing_time_cv_pct": (None, 6.8), "pci_pct": (None, 4.5),
}


def walking_rows(gait: GaitResult) -> list[list[str]]:
    """The clinical walking rows of the summary table: swing, double
    support, variability, bilateral coordination, each against healthy
    walkers' range (:data:`HEALTHY_WALKING`)."""
    def band(key):
        lo, hi = HEALTHY_WALKING[key]
        return f"{lo:g}-{hi:g} %" if lo is not None else f"up to {hi:g} %"

    def within(key, *values):
        lo, hi = HEALTHY_WALKING[key]
        vals = [v for v in values if v is not None and np.isfinite(v)]
        if not vals:
            return ""
        inside = all((lo is None or v >= lo) and v <= hi for v in vals)
        return "typical" if inside else "beyond typical"

    def pair(key, fmt="{:.1f}"):
        v = [gait.per_side[s].get(key) for s in ("left", "right")]
        text = " / ".join("n/a" if x is None or not np.isfinite(x) else fmt.format(x) for x in v) + " %"
        return text, v

    rows = []
    sw = gait.swing_asymmetry
    if sw is not None and sw.si_pct is not None:
        typical = f"SI within +-{sw.bound_si_pct:.1f} %" if sw.bound_si_pct is not None else ""
        rows.append(["walk, swing time SI (+ = right larger)", f"{sw.si_pct:+.1f} %", _ci(sw.ci95_si_pct), typical,
                     "beyond typical" if sw.beyond_typical else "typical"])
    text, v = pair("swing_pct")
    rows.append(["walk, swing % of stride (left / right)", text, "", band("swing_pct"), within("swing_pct", *v)])
    if gait.double_support_pct is not None:
        rows.append(["walk, double support % of stride", f"{gait.double_support_pct:.1f} %", "",
                     band("double_support_pct"), within("double_support_pct", gait.double_support_pct)])
    for key, label in (("stride_time_cv_pct", "stride-time CV"), ("swing_time_cv_pct", "swing-time CV")):
        text, v = pair(key)
        rows.append([f"walk, {label} (left / right)", text, "", band(key), within(key, *v)])
    if gait.pci_pct is not None:
        rows.append(["walk, phase coordination index (PCI)", f"{gait.pci_pct:.1f} %", "", band("pci_pct"),
                     within("pci_pct", gait.pci_pct)])
    return rows


def quality_verdict(recordings: list[Recording], gaits: list[GaitResult | None]) -> tuple[str, str]:
    """(level, sentence): level ``good``, ``fair`` or ``poor``."""
    problems, cautions = [], []
    for rec in recordings:
        for side, loss in rec.quality.get("packet_loss_pct", {}).items():
            if loss is None:
                continue
            if loss > 5.0:
                problems.append(f"heavy packet loss on the {side} insole ({loss:.0f} %)")
            elif loss > 1.0:
                cautions.append(f"{loss:.1f} % packet loss on the {side} insole")
        longest = max((g.get("duration_s") or 0.0 for g in rec.quality.get("gaps", [])), default=0.0)
        if longest > 2.0:
            cautions.append(f"a {longest:.0f}-s gap in the data")
        if rec.quality.get("damaged_file"):
            problems.append("a damaged file (only its intact part was read)")
        if rec.quality.get("missing_wal"):
            cautions.append("a recording that was never closed, read without its -wal file (its last second "
                            "may be missing)")
    for g in gaits:
        if g is None:
            continue
        if g.span is not None and g.span.note:
            cautions.append(g.span.note)
        if g.sensor.drifted:
            problems.append("an insole's sensor drifted during the run")
        n = sum(g.n_steps.values())
        ex = sum(g.n_excluded.values())
        if min(g.n_steps.values()) < MIN_STEPS_FOR_VERDICT:
            problems.append(f"too few steps could be analysed ({g.n_steps['left']} left, {g.n_steps['right']} "
                            f"right; {ex} left out)")
        elif ex / (n + ex) > 0.5:
            problems.append(f"{ex} of {n + ex} steps left out")
        elif ex / (n + ex) > 0.15:
            cautions.append(f"{ex} of {n + ex} steps left out")
    if problems:
        return "poor", ("Data quality is poor: " + "; ".join(problems)
                        + ". Treat these numbers with caution and repeat the recording if you can.")
    if cautions:
        return "fair", "Data quality is fair: " + "; ".join(cautions) + "."
    return "good", "Data quality is good: little or no packet loss, no long gaps, no sensor drift."


def quality_rows(rec: Recording, standing: StandingResult | None, gait: GaitResult | None) -> list[list[str]]:
    """Rows ``[item, left, right]`` of the data-quality page for one recording."""
    q = rec.quality
    loss = q.get("packet_loss_pct", {})
    sides = q.get("sides", {})
    gaps = {s: [g for g in q.get("gaps", []) if g["side"] == s] for s in ("left", "right")}
    bat = q.get("battery_pct", {})

    def pct(v: Any) -> str:
        return "-" if v is None else f"{v:.2f} %"

    rows = [["packet loss", pct(loss.get("left")), pct(loss.get("right"))],
            ["gaps (longest)", *[f"{len(gaps[s])} ({max((g['duration_s'] for g in gaps[s]), default=0):.2f} s)"
                                 for s in ("left", "right")]],
            ["clock rate vs host (ppm)", *[f"{sides[s]['clock'][0]['rate_ppm']:+.1f}" if sides.get(s, {}).get("clock")
                                           else "-" for s in ("left", "right")]],
            ["battery (start -> end)", *[f"{bat[s]['first']} -> {bat[s]['last']} %" if s in bat else "-"
                                         for s in ("left", "right")]]]
    drift = q.get("clock_drift_between_feet_ppm")
    if drift is not None:
        rows.append(["clock drift between the feet (corrected)", f"{drift:+.1f} ppm", ""])
    if standing is not None:
        c = standing.calibration
        rows.append([f"calibration ({c.method.replace('_', ' ')})",
                     *[f"x {c.gains[s]:.3f}" if s in c.gains else "-" for s in ("left", "right")]])
        if c.two_leg_sum_bw is not None:
            rows.append(["two-legged standing after calibration", f"{c.two_leg_sum_bw:.3f} body weights", ""])
    if gait is not None:
        rows.append(["steps kept (left out)", *[f"{gait.n_steps[s]} ({gait.n_excluded[s]})" for s in ("left", "right")]])
        rows.append(["sensor drift", "yes" if gait.sensor.drifted else "no",
                     "; ".join(gait.sensor.reasons)[:60]])
    return rows


def methods_text(standing: StandingResult | None, gait: GaitResult | None) -> list[tuple[str, str]]:
    """(heading, paragraph) pairs describing what was computed, with the
    parameters actually used."""
    out = [("Signs and words", "Every asymmetry is positive when the RIGHT side is larger, and every verdict names "
            "the side. 'Favoured' names the side that carries more: a larger load share, longer contacts, higher "
            "forces.")]
    if standing is not None:
        o = standing.options
        c = standing.calibration
        out += [
            ("Standing: zeroing and calibration",
             f"Method: {c.method.replace('_', ' ')} ({c.note}); sensors zeroed on the foot lifts: "
             f"{'yes' if c.zeroed else 'no'}. Gains: "
             + (", ".join(f"{s} x {g:.4f}" for s, g in c.gains.items()) or "none") + "."),
            ("Standing: load share",
             f"left share = 100 * mean(F_L) / mean(F_L + F_R) per phase, the first {o.settle_s:g} s dropped; forces "
             f"low-passed (zero-lag Butterworth, order {o.filter_order} per pass, {o.cutoff_hz:g} Hz). 95 % interval: "
             f"circular moving-block bootstrap ({o.n_boot} replicates, blocks of {o.block_s:g} s). A side is favoured "
             f"when the share lies outside {o.typical_band_pct[0]:g}-{o.typical_band_pct[1]:g} % and its interval "
             "excludes 50 %."),
            ("Standing: sway",
             "On the net centre of pressure of both feet (ground frame; feet parallel, heels "
             f"{o.stance_width_mm:g} mm apart), filtered as above: path length, mean velocity = path / T, RMS and "
             "range per axis, 95 % prediction ellipse area = pi F(0.95; 2, n-2) 2(n-1)(n+1)/(n(n-2)) sqrt(det S), "
             "mean frequency = velocity / (2 pi mean distance) (Prieto 1996), median power frequency (Welch). "
             "Romberg ratio = eyes closed / eyes open."),
        ]
    if gait is not None:
        o = gait.options
        th = gait.thresholds_n
        levels = "; ".join(f"{s}: on {v['on']:.0f} N, off {v['off']:.0f} N, initial contact at {v['event']:.0f} N, "
                           f"toe-off at {v['event_to']:.0f} N" for s, v in th.items() if v)
        convention = o.contact.convention.replace("_", "-")
        if o.contact.convention == "paired":
            where = ("where the force crosses the force plate's {:g} N (at most {:g} % of body weight) shared out by "
                     "each foot's own loading: each foot's level is scaled by its median stance peak over the two "
                     "feet's mean, so a gain difference between the insoles does not move one foot's events against "
                     "the other's").format(o.contact.event_level_n, 100 * o.contact.event_level_bw)
        elif o.contact.convention == "force_plate":
            where = "where the force crosses {:g} N (at most {:g} % of body weight), the force-plate convention".format(
                o.contact.event_level_n, 100 * o.contact.event_level_bw)
        elif o.contact.convention == "relative":
            where = ("at a fraction of each foot's own median stance peak above its own swing baseline (a gain "
                     "difference between the insoles does not move the events)")
        else:
            where = "at the fractions of the median peak force that the vendor's own gait report uses"
        out += [
            ("Running/walking: contacts",
             f"Force re-zeroed in swing ({o.contact.baseline_percentile:g}th percentile of {o.contact.baseline_block_s:g}-s "
             "blocks that span the foot's own range, however high: a laced shoe's preload is not load; each sensor "
             f"likewise, for the regional shares, maps and gait line). Hysteresis: on above max("
             f"{o.contact.on_min_n:g} N, {100 * o.contact.on_peak_frac:g} % of the median peak) held "
             f"{1000 * o.contact.on_hold_s:g} ms, off below {100 * o.contact.off_peak_frac:g} % of "
             f"it; initial contact and toe-off {where} (event convention: {convention}), interpolated between "
             f"samples. Levels used: {levels}. " + _edge_text(o.contact, th)),
            ("Running/walking: steps",
             "contact = TO - IC; flight = next IC of the other foot - TO; step, stride, duty factor; peak force; "
             "impulse = integral of F over stance; loading rate = mean slope 20-80 % of the impact peak (or 3-12 % of "
             "stance without one); strike index = COP at IC as % of foot length. Strides beyond 3 x 1.4826 x MAD of the "
             "median stride time are left out, as are steps with missing samples in stance."),
            *([("Walking: clinical metrics",
                "swing = stride - stance, as % of stride; double support = the time both feet are loaded, % of "
                "stride; CV = 100 SD / mean of stride, swing and stance time per foot after each series is screened "
                "for outliers on its own (3 scaled MADs) and the strides next to an excluded one are left out; "
                "PCI = 100 mean|phi - 180| / 180 + CV(phi), phi the phase of each step in the other foot's stride "
                "(Plotnik et al. 2007). Healthy bands on page 1 (guides, not verdicts): swing "
                f"{HEALTHY_WALKING['swing_pct'][0]:g}-{HEALTHY_WALKING['swing_pct'][1]:g} %, double support "
                f"{HEALTHY_WALKING['double_support_pct'][0]:g}-{HEALTHY_WALKING['double_support_pct'][1]:g} %, "
                f"stride-time CV up to {HEALTHY_WALKING['stride_time_cv_pct'][1]:g} % and swing-time CV up to "
                f"{HEALTHY_WALKING['swing_time_cv_pct'][1]:g} % (mean + 2 SD of Frenkel-Toledo et al. 2005, J "
                f"NeuroEng Rehabil 2:23), PCI up to {HEALTHY_WALKING['pci_pct'][1]:g} % (healthy adults about 2-4 %).")]
              if gait.mode == "walk" else []),
            ("Running/walking: asymmetry",
             f"SI = 100 (R - L) / (0.5 (R + L)); SA = 100 (45 - atan(L/R)) / 90. 95 % intervals: left and right steps "
             f"bootstrapped independently ({o.n_boot} replicates). "
             + (f"A side is favoured for a load metric when the SA interval lies beyond {o.favour_factor:g} x the "
                "typical value of healthy runners (Girard et al. 2019: "
                + ", ".join(f"{_LABEL[k]} {v:g} %" for k, v in TYPICAL_SA_PCT.items()) + "; impulse taken as peak force)."
                if gait.mode == "run" else
                "A side is favoured for a load metric when the whole interval lies beyond the range of healthy "
                "walkers: " + "; ".join(f"{_LABEL[k]} SI {v:.1f} % ({WALK_REFERENCE[k]})"
                                         for k, v in WALK_LIMIT_SI_PCT.items()) + ". Force metrics count only when "
                "the two insoles' gains were calibrated against each other.")
             + f" Load metrics: {', '.join(_LABEL[k] for k in LOAD_METRICS)}."),
            ("Running/walking: drift",
             f"Indices per {gait.drift['window_s']:.0f}-s window (at least {o.drift.min_steps} steps per side), "
             f"least-squares slope with a moving-block bootstrap interval ({o.drift.block_windows} windows per block), "
             "a single change point kept when it lowers the BIC. Sensor drift: the swing baseline moving by more than "
             f"{100 * o.drift.baseline_limit_bw:g} % of body weight, or the summed force by more than "
             f"{o.drift.identity_limit_pct:g} %."),
        ]
    return out


def _edge_text(contact, thresholds: dict) -> str:
    """The methods sentence on toe-off from the unloading edge (slowly releasing sensors)."""
    if not contact.edge_fracs or contact.convention == "moticon":
        return ""
    hi, lo = (100 * f for f in contact.edge_fracs)
    used = [s for s, v in thresholds.items() if v and v.get("toe_off_from_edge")]
    a, b = (1000 * w for w in contact.tail_window_s)
    return (f"A foot whose sensor lets go slowly (still above {100 * contact.tail_frac:g} % of the toe-off level "
            f"{a:g}-{b:g} ms after crossing it, median over its contacts) gets its toe-off where the line through the "
            f"last crossings of {hi:g} % and {lo:g} % of its median peak reaches the toe-off level, if that is "
            "earlier: the slow tail is the sensor, not the load. "
            + (f"Used here for the {' and '.join(used)} foot." if used else "Not needed here: no foot's sensor "
               "released slowly."))

