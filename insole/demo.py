"""``insole demo``: the product end to end with no hardware.

Two virtual insoles stream over the virtual radio (bleak on Bumble's
in-process controllers, the code path of a real session from ``BleakScanner``
down) while a simulated person follows the guided standing test (countdown,
feet lifted one at a time for zeroing, eyes open, "close your eyes now").
Then the runner goes out without the computer: ``insole log start`` over the
radio, a :data:`DEMO_LOGGED_RUN_MIN`-minute run logged on the insoles
themselves whose contact-time asymmetry grows as the runner tires, and
``insole sync`` back home (a download over the radio, verified, then erased
on the insoles). The recordings are decoded, analysed and turned into a PDF
and the run into a FIT activity. The radio runs :data:`DEMO_TIME_SCALE` times
faster than real time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .analysis.analyze import analyze
from .errors import OutputError
from .loader import load
from .model import Recording
from .paths import check_output
from .report.pdf import write_report

log = logging.getLogger(__name__)

__all__ = ["DemoResult", "run_demo", "DEMO_LEFT_LOAD_PCT", "DEMO_EYES_CLOSED_SHIFT_PP", "DEMO_RUN_SI_PCT",
           "DEMO_TIME_SCALE", "DEMO_LOGGED_RUN_MIN", "DEMO_FATIGUE_PP_PER_10MIN"]

#: the demo's built-in asymmetries: standing, 53 % on the left with the eyes
#: open and 4 points more with them closed; running, a symmetry index of -8 %
#: (negative: the LEFT side larger) on contact time, peak force and loading rate
DEMO_LEFT_LOAD_PCT = 53.0
DEMO_EYES_CLOSED_SHIFT_PP = 4.0
DEMO_RUN_SI_PCT = -8.0
DEMO_BODY_MASS_KG = 70.0
DEMO_SUBJECT = "Demo Runner"
#: length of the demo's runs, s of simulated time
DEMO_RUN_S = 90.0
#: how much faster than real time the virtual insoles stream
DEMO_TIME_SCALE = 25.0
#: today's run, logged on the insoles: minutes, and the growth of its
#: contact-time SI as the runner tires (points per 10 min, signed like the SI)
DEMO_LOGGED_RUN_MIN = 40.0
DEMO_FATIGUE_PP_PER_10MIN = -1.5
#: the recordings a demo writes, oldest first (and ``report.pdf``, ``run.fit``)
DEMO_FILES = ("earlier_standing.insole", "earlier_run.insole", "standing.insole", "run.insole")
DEMO_OTHER_FILES = ("report.pdf", "run.fit")


@dataclass(frozen=True)
class DemoResult:
    recordings: list[Path]
    report: Path
    summary: list[tuple[str, list[str]]]
    fit: Path | None = None
    sync: str = ""


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


def run_demo(out_dir: Path, *, time_scale: float = DEMO_TIME_SCALE,
             progress: Callable[[str, float, float], None] | None = None, overwrite: bool = False) -> DemoResult:
    """Record over the virtual radio, analyse and report into ``out_dir``.

    Two sessions of one person: one two weeks ago (a standing test and a
    run with larger asymmetries) and one today, so the report's history
    page shows the change. Each recording is a live session with two
    virtual insoles (:func:`insole.ble.virtual.pair.record_virtual`):
    ``meta.source`` is ``virtual-radio`` and ``meta.truth`` holds the
    simulated person and insoles.

    Parameters
    ----------
    out_dir : Path
        Created if missing.
    overwrite : bool
        Replace the files of an earlier demo in ``out_dir``; without it an
        existing one is an error, raised before anything is recorded.
    time_scale : float
        How much faster than real time the virtual insoles stream.
    progress : callable, optional
        ``progress(step, done, total)``.
    """
    import asyncio
    from datetime import datetime, timedelta, timezone

    from .ble.virtual.pair import person_for

    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"--out {out_dir} is a file; give a folder for the demo")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create the output folder {out_dir}: {exc.strerror}") from None
    for name in (*DEMO_FILES, *DEMO_OTHER_FILES):
        if (out_dir / name).exists() and not overwrite:
            raise OutputError(f"{out_dir} already holds a demo ({name}); give --force to replace it, "
                              "or --out another folder")
        check_output(out_dir / name, force=True)
    today = datetime.now(timezone.utc).replace(microsecond=0)
    earlier = today - timedelta(days=14)

    def standing(left_pct: float, shift_pp: float, seed: int):
        # phase for phase the guide's standing test
        return person_for("standing", left_load_pct=left_pct, eyes_closed_shift_pp=shift_pp,
                          body_mass_kg=DEMO_BODY_MASS_KG, seed=seed)

    def run(si_pct: float, seed: int):
        # the runner is already running when the insoles connect; the run
        # outlasts the recording
        return person_for("run", DEMO_RUN_S, asymmetry_pct=si_pct, body_mass_kg=DEMO_BODY_MASS_KG, seed=seed)

    sessions = [
        (DEMO_FILES[0], earlier,
         standing(DEMO_LEFT_LOAD_PCT + 2.0, DEMO_EYES_CLOSED_SHIFT_PP + 1.0, 11)),
        (DEMO_FILES[1], earlier, run(DEMO_RUN_SI_PCT - 4.0, 12)),
        (DEMO_FILES[2], today, standing(DEMO_LEFT_LOAD_PCT, DEMO_EYES_CLOSED_SHIFT_PP, 1)),
    ]
    paths = [asyncio.run(_stream(out_dir / name, scenario, started=when, time_scale=time_scale, seed=7 * i,
                                 progress=progress))
             for i, (name, when, scenario) in enumerate(sessions)]
    run_path, sync_line = _logged_run(out_dir, time_scale=time_scale, progress=progress)
    paths.append(run_path)
    recordings = [load(p) for p in paths]
    analyses = [analyze(r) for r in recordings]
    summary = [summarise(r, a) for r, a in zip(recordings[2:], analyses[2:])]
    if progress:
        progress("writing the report", 0, 1)
    report = write_report(recordings, analyses, out_dir / "report.pdf", subject=DEMO_SUBJECT, overwrite=True)
    from .fit import write_fit

    fit = write_fit(recordings[-1], out_dir / "run.fit", overwrite=True, result=analyses[-1]).path
    if progress:
        progress("writing the report", 1, 1)
    return DemoResult(recordings=paths, report=report, summary=summary, fit=fit, sync=sync_line)


def _logged_run(out_dir: Path, *, time_scale: float, progress) -> tuple[Path, str]:
    """Today's run, as a runner does it: ``log start`` over the radio, the
    run logged on the insoles, ``sync`` back home; ``run.insole``."""
    import asyncio
    import os
    import shutil
    import tempfile

    from .ble.virtual.run import run_virtual
    from .ble.virtual.state import VirtualPairState
    from .sync.workflow import log_start, sync_pair, virtual_reach

    state_dir = Path(tempfile.mkdtemp(prefix=".virtual-insoles-", dir=out_dir))
    step = f"a {DEMO_LOGGED_RUN_MIN:g}-min run logged on the insoles, then synced"
    try:
        with VirtualPairState.open(state_dir) as state:
            async def connect_and(work):
                async with virtual_reach(state, time_scale=time_scale) as reach:
                    return await work(reach)

            note = {"protocol": "run", "subject": DEMO_SUBJECT, "body_mass_kg": DEMO_BODY_MASS_KG}
            if progress:
                progress(step, 0, 3)
            asyncio.run(connect_and(lambda reach: log_start(reach, note=note)))
            run_virtual(state, minutes=DEMO_LOGGED_RUN_MIN, asymmetry_pct=DEMO_RUN_SI_PCT,
                        fatigue_pp_per_10min=DEMO_FATIGUE_PP_PER_10MIN, seed=2)
            if progress:
                progress(step, 1, 3)
            synced = Path(tempfile.mkdtemp(prefix=".synced-", dir=out_dir))
            result = asyncio.run(connect_and(lambda reach: sync_pair(reach, synced)))
        if len(result.written) != 1:
            raise RuntimeError(f"the demo's sync wrote {len(result.written)} recordings, expected one")
        path = out_dir / DEMO_FILES[3]
        os.replace(result.written[0], path)
        shutil.rmtree(synced, ignore_errors=True)
        if progress:
            progress(step, 3, 3)
    finally:
        shutil.rmtree(state_dir, ignore_errors=True)
    modelled_s = result.downloaded_bytes / 2 / 120e3  # both feet in parallel at the modelled 120 kB/s each
    line = (f"synced {result.downloaded_bytes / 1e6:.1f} MB from both insoles (about {modelled_s:.0f} s at the "
            f"modelled 120 kB/s per insole; {result.seconds:.1f} s here at {time_scale:g}x), verified, erased")
    return path, line


async def _stream(path: Path, scenario, *, started, time_scale: float, seed: int, progress) -> Path:
    """One live session over the virtual radio, guided like a real one."""
    from .ble.session import guide_plan
    from .ble.virtual.pair import record_virtual
    from .sim.session import default_insoles

    protocol = scenario.protocol
    duration_s = None if protocol == "standing" else DEMO_RUN_S
    total_s = sum(d for _, d, _ in guide_plan(protocol, duration_s))
    step = f"streaming {path.name} over the virtual radio"

    def on_update(stats) -> None:
        if progress:
            progress(step, min(stats.elapsed_s, total_s), total_s)

    if progress:
        progress(step, 0.0, total_s)  # on screen while the virtual pair powers up and connects

    out = await record_virtual(path, scenario, time_scale=time_scale, insoles=default_insoles(seed=seed),
                               extra_meta={"started_utc": started.isoformat()}, protocol=protocol,
                               duration_s=duration_s, subject=DEMO_SUBJECT, body_mass_kg=DEMO_BODY_MASS_KG,
                               on_update=on_update, overwrite=True)
    if progress:
        progress(step, total_s, total_s)
    return out
