"""``insole demo``: the product end to end with no hardware.

Two simulated insoles record a guided standing test (feet lifted one at a
time for zeroing, eyes open, eyes closed) and a short run with a built-in
asymmetry; the recordings are decoded, analysed and turned into a PDF.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .analysis.analyze import analyze
from .errors import InsoleError
from .loader import load
from .model import Recording
from .report.pdf import write_report
from .sim.session import default_insoles, simulate_recording

log = logging.getLogger("insole")

__all__ = ["DemoResult", "run_demo", "DEMO_LEFT_LOAD_PCT", "DEMO_EYES_CLOSED_SHIFT_PP", "DEMO_RUN_SI_PCT"]

#: the demo's built-in asymmetries: standing, 53 % on the left with the eyes
#: open and 4 points more with them closed; running, a symmetry index of -8 %
#: (negative: the LEFT side larger) on contact time, peak force and loading rate
DEMO_LEFT_LOAD_PCT = 53.0
DEMO_EYES_CLOSED_SHIFT_PP = 4.0
DEMO_RUN_SI_PCT = -8.0
DEMO_BODY_MASS_KG = 70.0
DEMO_SUBJECT = "Demo Runner"


@dataclass(frozen=True)
class DemoResult:
    recordings: list[Path]
    report: Path
    summary: list[tuple[str, list[str]]]


def summarise(rec: Recording, result=None) -> tuple[str, list[str]]:
    """Plain-language lines for the summary page and the terminal."""
    loss = rec.quality["packet_loss_pct"]
    quality = "packet loss " + ", ".join(f"{s} {v:.2f} %" for s, v in loss.items() if v is not None)
    if rec.meta.protocol == "standing":
        st = (result or analyze(rec)).standing
        lines = [st.verdict]
        lines += [f"{p.name.replace('_', ' ')}: left {p.left_load_pct:.1f} % / right {p.right_load_pct:.1f} %, "
                  f"sway {p.sway['mean_velocity_mm_s']:.1f} mm/s" for p in st.phases if p.sway]
        if st.eyes_closed_shift_pp is not None:
            lines.append(f"closing the eyes moved {abs(st.eyes_closed_shift_pp):.1f} points of load to the "
                         f"{'left' if st.eyes_closed_shift_pp > 0 else 'right'}; Romberg ratio of sway velocity "
                         f"{st.romberg['mean_velocity']:.2f}")
        return "Standing test", lines + [quality]
    g = (result or analyze(rec)).gait
    ct = g.asymmetry["contact_time"]
    lines = [g.verdict,
             f"{g.n_steps['left'] + g.n_steps['right']} steps, cadence {g.cadence_spm:.0f} steps/min; contact time "
             f"left {1000 * ct.left_mean:.0f} ms / right {1000 * ct.right_mean:.0f} ms",
             g.drift["verdict"], quality]
    return f"{rec.meta.protocol.capitalize()} ({rec.duration_s:.0f} s)", lines


def run_demo(out_dir: Path, *, progress: Callable[[str, float, float], None] | None = None) -> DemoResult:
    """Simulate, record, analyse and report into ``out_dir``.

    Two sessions of one person: one two weeks ago (a standing test and a
    run with larger asymmetries) and one today, so the report's history
    page shows the change.

    Parameters
    ----------
    out_dir : Path
        Created if missing; existing demo files in it are replaced.
    progress : callable, optional
        ``progress(step, done, total)``.
    """
    from datetime import datetime, timedelta, timezone

    from .sim.gait import GaitScenario
    from .sim.standing import StandingScenario

    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InsoleError(f"cannot create the output folder {out_dir}: {exc.strerror}") from None
    today = datetime.now(timezone.utc).replace(microsecond=0)
    earlier = today - timedelta(days=14)
    runs = [
        ("earlier_standing.insole", earlier, StandingScenario(
            left_load_pct=DEMO_LEFT_LOAD_PCT + 2.0, eyes_closed_shift_pp=DEMO_EYES_CLOSED_SHIFT_PP + 1.0,
            body_mass_kg=DEMO_BODY_MASS_KG, seed=11)),
        ("earlier_run.insole", earlier, GaitScenario(
            mode="run", duration_s=90.0, contact_time_si_pct=DEMO_RUN_SI_PCT - 4.0,
            peak_force_si_pct=DEMO_RUN_SI_PCT - 4.0, loading_rate_si_pct=DEMO_RUN_SI_PCT - 4.0,
            body_mass_kg=DEMO_BODY_MASS_KG, seed=12)),
        ("standing.insole", today, StandingScenario(
            left_load_pct=DEMO_LEFT_LOAD_PCT, eyes_closed_shift_pp=DEMO_EYES_CLOSED_SHIFT_PP,
            body_mass_kg=DEMO_BODY_MASS_KG, seed=1)),
        ("run.insole", today, GaitScenario(
            mode="run", duration_s=90.0, contact_time_si_pct=DEMO_RUN_SI_PCT, peak_force_si_pct=DEMO_RUN_SI_PCT,
            loading_rate_si_pct=DEMO_RUN_SI_PCT, body_mass_kg=DEMO_BODY_MASS_KG, seed=2)),
    ]
    paths = []
    for i, (name, when, scenario) in enumerate(runs):
        step = f"recording {name}"
        path = simulate_recording(out_dir / name, scenario, insoles=default_insoles(seed=7 * i),
                                  subject=DEMO_SUBJECT, overwrite=True,
                                  extra_meta={"started_utc": when.isoformat()},
                                  progress=(lambda d, t, s=step: progress(s, d, t)) if progress else None).path
        paths.append(path)
    recordings = [load(p) for p in paths]
    analyses = [analyze(r) for r in recordings]
    summary = [summarise(r, a) for r, a in zip(recordings[2:], analyses[2:])]
    if progress:
        progress("writing the report", 0, 1)
    report = write_report(recordings, analyses, out_dir / "report.pdf", subject=DEMO_SUBJECT)
    if progress:
        progress("writing the report", 1, 1)
    return DemoResult(recordings=paths, report=report, summary=summary)
