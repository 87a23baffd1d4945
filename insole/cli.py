"""The ``insole`` command line. It only parses arguments, calls the public
API and talks to the terminal; user errors become one line on stderr and
exit status 2."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import re
import sys
import time
from pathlib import Path
from typing import Any

from . import __version__
from .errors import InsoleError
from .model import BODY_MASS_RANGE_KG

log = logging.getLogger("insole")

EXIT_USER_ERROR = 2


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


#: characters never echoed raw to a terminal: C0/C1 controls (escape
#: sequences) and the bidirectional overrides that can reorder a line
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _safe(text: Any) -> str:
    """Text from a file or a device, fit to print: control characters shown
    as ``\\xNN`` escapes, rich markup escaped."""
    from rich.markup import escape

    return escape(_UNSAFE.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                              else f"\\u{ord(m.group()):04x}", str(text)))


def _progress(description: str):
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

    con = _console(stderr=True)
    return Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeRemainingColumn(),
                    console=con, transient=True, disable=not con.is_terminal)  # no stray blank line in a pipe


@contextlib.contextmanager
def _working(what: str):
    """A spinner with the elapsed time on stderr while ``what`` runs (only on
    a terminal; nothing is left on screen afterwards)."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    con = _console(stderr=True)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=con, transient=True, disable=not con.is_terminal) as prog:
        prog.add_task(_safe(what), total=None)
        yield


def _load(path: str):
    """``insole.load(path)`` with the spinner: a large file takes seconds."""
    from . import load

    try:
        n_bytes = Path(path).stat().st_size
    except OSError:
        n_bytes = 0  # load() says what is wrong with the path
    size = f" ({n_bytes / 1e6:.0f} MB)" if n_bytes > 20e6 else ""
    with _working(f"reading {path}{size}"):
        return load(path)


# --- numbers the user types ----------------------------------------------------
def _number(unit: str, lo: float, hi: float, *, above: bool = False, integer: bool = False):
    """An argparse ``type``: a finite number from ``lo`` (excluded when
    ``above``) to ``hi``, in ``unit``; the message gives the range and the
    unit (argparse adds the flag the user typed)."""
    def parse(text: str) -> float:
        try:
            value = int(text) if integer else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'a whole number' if integer else 'a number'} "
                                             f"({unit}), got {text!r}") from None
        if not (math.isfinite(value) and (value > lo if above else value >= lo) and value <= hi):
            rng = f"more than {lo:.10g} and at most {hi:.10g}" if above else f"from {lo:.10g} to {hi:.10g}"
            raise argparse.ArgumentTypeError(f"must be {rng} {unit}".rstrip() + f"; got {text}")
        return value

    return parse


#: ranges of the numbers the commands take
_SECONDS = _number("s", 0.0, 86_400.0, above=True)
_BODY_MASS = _number("kg", *BODY_MASS_RANGE_KG)


_REGION_NAMES = ("heel", "midfoot", "forefoot", "toes", "medial", "lateral")


def _region_bias(text: str) -> dict[str, dict[str, float]]:
    """``right:forefoot=1.3,lateral=1.2;left:heel=0.8`` -> the simulator's region_bias."""
    out: dict[str, dict[str, float]] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        side, _, items = part.partition(":")
        if side not in ("left", "right") or not items:
            raise argparse.ArgumentTypeError(f"expected SIDE:REGION=F (side left or right), got {part!r}")
        for item in items.split(","):
            name, _, value = item.partition("=")
            if name.strip() not in _REGION_NAMES:
                raise argparse.ArgumentTypeError(f"unknown region {name.strip()!r}; use {', '.join(_REGION_NAMES)}")
            out.setdefault(side, {})[name.strip()] = _number("", 0.2, 5.0)(value.strip())
    return out


class _Parser(argparse.ArgumentParser):
    """argparse with its errors as one line, like every other user error."""

    def error(self, message: str):
        self.exit(EXIT_USER_ERROR, f"insole: error: {message} (see {self.prog} --help)\n")


# --- commands ------------------------------------------------------------------
def cmd_simulate(args: argparse.Namespace) -> int:
    from .paths import check_output
    from .sim import make_scenario
    from .sim.session import default_insoles, simulate_recording

    check_output(args.output, force=args.force)
    scenario = make_scenario(args.scenario, duration_s=args.duration, asymmetry_pct=args.asymmetry_pct,
                             seed=args.seed, body_mass_kg=args.body_mass_kg,
                             fatigue_pp_per_10min=args.fatigue_pp_per_10min, region_bias=args.region_bias,
                             shoe=args.shoe, preload_n=args.preload_n)
    insoles = default_insoles(sampling_rate_hz=args.rate, seed=args.seed, drop_pct=args.loss_pct)
    with _progress("simulate") as prog:
        task = prog.add_task(f"simulating {args.scenario}" + (" (real time)" if args.realtime else ""),
                             total=scenario.duration_s)
        result = simulate_recording(args.output, scenario, insoles=insoles, realtime=args.realtime,
                                    overwrite=args.force, subject=args.subject,
                                    progress=lambda done, total: prog.update(task, completed=done))
    _console().print(f"wrote {_safe(result.path)}: {args.scenario}, {scenario.duration_s:g} s, "
                     f"{result.packets['left']} + {result.packets['right']} packets (left + right)")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from . import load
    from .info import describe

    info = describe(load(args.file))
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    con = _console()
    con.print(f"[bold]{_safe(args.file)}[/bold]  ({_safe(info['source'])}, protocol {_safe(info['protocol'])})")
    con.print(f"  duration      {info['duration_s']:.1f} s at {info['sampling_rate_hz']:g} Hz")
    con.print(f"  subject       {_safe(info['subject'] or '-')}"
              + (f", {info['body_mass_kg']:g} kg" if info['body_mass_kg'] else ""))
    for side, s in info["sides"].items():
        dev = s["device"] or {}
        loss = s["packet_loss_pct"] or 0.0
        what = (f"{_safe(dev.get('name', '?'))} fw {_safe(dev.get('firmware_revision', '?'))}, {s['packets']} packets"
                if s["packets"] is not None else f"{s['samples_received']} samples")
        if s.get("log"):
            lg = s["log"]
            end = (lg["end"] or {}).get("reason") or "none: the insole lost power while logging"
            what = (f"{_safe(dev.get('name', '?'))} fw {_safe(dev.get('firmware_revision', '?'))}, "
                    f"{s['samples_received']} samples in {lg['pages']} log pages (end: {end}; clock from "
                    f"{lg['clock_evidence']})")
            if lg["invalid_pages"]:
                what += f", rejected pages {lg['invalid_pages']}"
        con.print(f"  {side:<6}        {what}, loss {loss:.2f} %, {s['gaps']} gaps"
                  + (f", clock {s['clock_rate_ppm']:+.1f} ppm" if s['clock_rate_ppm'] is not None else "")
                  + (f", invalid {s['invalid_packets']}" if s['invalid_packets'] else ""))
    if info["battery_pct"]:
        con.print("  battery       " + ", ".join(f"{side} {b['first']}% -> {b['last']}%"
                                                for side, b in info["battery_pct"].items()))
    if info["clock_drift_between_feet_ppm"] is not None:
        con.print(f"  feet clocks   {info['clock_drift_between_feet_ppm']:+.1f} ppm apart (corrected)")
    if info["phases"]:
        con.print("  phases        " + ", ".join(
            f"{_safe(p['name'])} {p['start_s']:.1f}-{p['end_s']:.1f} s" for p in info["phases"]))
    if info["damaged_file"]:
        con.print("  [yellow]the file is damaged: only its intact parts were read[/yellow]")
    if info["missing_wal"]:
        con.print(f"  [yellow]the recording was never closed and {_safe(args.file)}-wal is not beside it: its "
                  "last second may be missing (copy the -wal file with it)[/yellow]")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from .export import export_samples
    from .paths import check_output

    check_output(args.output, inputs=[args.file], force=args.force)  # before the work, not after
    rec = _load(args.file)
    if args.to == "fit":
        from .fit import write_fit

        with _working(f"writing {args.output}"):
            fit = write_fit(rec, args.output, overwrite=args.force,
                            distance_m=args.distance_km * 1000.0 if args.distance_km else None)
        _console().print(f"wrote {_safe(fit.path)}: {fit.sport}, {fit.n_records} one-second records, "
                         f"{fit.n_laps} laps (per {'km' if fit.lap_by == 'km' else '10 min'})")
        return 0
    if args.distance_km:
        raise InsoleError("--distance-km is for --to fit")
    out = export_samples(rec, args.output, to=args.to, overwrite=args.force)
    _console().print(f"wrote {_safe(out)}: {len(rec.samples)} rows x {rec.samples.shape[1]} channels")
    return 0


def cmd_analyze(args: argparse.Namespace) -> int:
    from . import analyze

    rec = _load(args.file)
    if args.calibration_from:
        from . import calibrated_from

        rec, _ = calibrated_from(rec, _load(args.calibration_from), body_mass_kg=args.body_mass_kg)
    with _working(f"analysing {args.file}"):
        result = analyze(rec, protocol=args.protocol, body_mass_kg=args.body_mass_kg,
                         distance_m=args.distance_km * 1000.0 if args.distance_km else None,
                         gait_options=_gait_options(args))
    data = result.to_dict()
    if args.json:
        print(json.dumps(data, indent=2))
        return 0
    con = _console()
    con.print(f"[bold]{_safe(args.file)}[/bold]  ({data['protocol']})")
    st = result.standing
    if st is not None:
        con.print(f"  {st.verdict}")
        for p in st.phases:
            sway = p.sway or {}
            con.print(f"  {p.name:<12} left {p.left_load_pct:5.1f} % / right {p.right_load_pct:5.1f} %  "
                      f"(95 % CI {p.ci95_left_load_pct[0]:.1f}-{p.ci95_left_load_pct[1]:.1f}), "
                      f"sway {sway.get('mean_velocity_mm_s', float('nan')):.1f} mm/s, "
                      f"ellipse {sway.get('ellipse95_area_mm2', float('nan')):.0f} mm2")
        if st.eyes_closed_shift_pp is not None:
            lo, hi = st.ci95_eyes_closed_shift_pp
            towards = "left" if st.eyes_closed_shift_pp > 0 else "right"
            con.print(f"  eyes closed moved {abs(st.eyes_closed_shift_pp):.1f} points of load to the {towards} "
                      f"(95 % CI {lo:+.1f} to {hi:+.1f}; positive = to the left)")
        if st.romberg:
            con.print(f"  Romberg ratio (eyes closed / open): velocity {st.romberg['mean_velocity']:.2f}, "
                      f"ellipse area {st.romberg['ellipse95_area']:.2f}")
        con.print(f"  calibration: {st.calibration.note}")
        for w in st.warnings:
            con.print(f"  [yellow]note: {w}[/yellow]")
    g = result.gait
    if g is not None:
        con.print(f"  {g.verdict}")
        con.print(f"  {g.n_steps['left']} + {g.n_steps['right']} steps kept (left + right), "
                  f"{g.n_excluded['left'] + g.n_excluded['right']} left out; cadence {g.cadence_spm:.0f} steps/min")
        con.print(f"  {'metric':<20}{'left':>9}{'right':>9}   SI % (95 % CI; + = right larger)")
        units = {"contact_time": ("contact_time_s", 1000, "ms"), "flight_time": ("flight_time_s", 1000, "ms"),
                 "swing_time": ("swing_time_s", 1000, "ms"),
                 "peak_force": ("peak_force_n", 1, "N"), "impulse": ("impulse_ns", 1, "N s"),
                 "loading_rate": ("loading_rate_n_s", 1, "N/s")}
        rows = dict(g.asymmetry)
        if g.swing_asymmetry is not None:
            rows["swing_time"] = g.swing_asymmetry
        for name, a in rows.items():
            col, k, unit = units[name]
            si = "n/a" if a.si_pct is None else f"{a.si_pct:+.1f} ({a.ci95_si_pct[0]:+.1f} to {a.ci95_si_pct[1]:+.1f})"
            mark = f"  [bold]{a.favoured_side} favoured[/bold]" if a.favoured_side != "none" else ""
            if not a.used_for_verdict and a.why_not_used:
                mark += f"  [dim](not used for the verdict: {_safe(a.why_not_used)})[/dim]"
            label = f"{name.replace('_', ' ')} ({unit})"
            con.print(f"  {label:<20}{a.left_mean * k:>9.0f}{a.right_mean * k:>9.0f}   {si}{mark}")
        if g.mode == "walk":
            ps = g.per_side

            def pct(v):
                return "-" if v is None else f"{v:.1f}"

            con.print(f"  swing % of stride left {pct(ps['left'].get('swing_pct'))} / right "
                      f"{pct(ps['right'].get('swing_pct'))}; double support {pct(g.double_support_pct)} % of stride; "
                      f"PCI {pct(g.pci_pct)} %")
            con.print("  variability (CV %): stride " + " / ".join(pct(ps[s].get('stride_time_cv_pct')) for s in ps)
                      + ", swing " + " / ".join(pct(ps[s].get('swing_time_cv_pct')) for s in ps)
                      + ", stance " + " / ".join(pct(ps[s].get('stance_time_cv_pct')) for s in ps) + " (left / right)")
            if g.speed_m_s:
                con.print(f"  speed {g.speed_m_s:.2f} m/s, stride length {g.stride_length_m:.2f} m")
        con.print(f"  drift: {g.drift['verdict']}")
        for n in g.notes:
            con.print(f"  [yellow]note: {n}[/yellow]")
    loss = data["quality"]["packet_loss_pct"]
    if loss:
        con.print("  packet loss " + ", ".join(f"{s} {v:.2f} %" for s, v in loss.items() if v is not None))
    return 0


def _gait_options(args: argparse.Namespace):
    from . import ContactOptions, GaitOptions

    return GaitOptions(contact=ContactOptions(convention=args.events.replace("-", "_")))


def cmd_steps(args: argparse.Namespace) -> int:
    from . import analyze

    rec = _load(args.file)
    with _working(f"analysing {args.file}"):
        result = analyze(rec, protocol=args.protocol, body_mass_kg=args.body_mass_kg,
                         gait_options=_gait_options(args))
    if result.gait is None:
        raise InsoleError(f"{args.file} is a standing recording: it has no steps (try insole analyze)")
    result.gait.steps.to_csv(sys.stdout, index=False, float_format="%.6g")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from . import analyze, load, write_report
    from .paths import check_output, check_output_folder

    check_output(args.output, inputs=args.files, force=args.force)  # before the work, not after
    if args.png is not None:
        check_output_folder(args.png, flag="--png")
    recordings, results = [], []
    with _progress("report") as prog:
        task = prog.add_task("analysing", total=len(args.files) + 1)
        for f in args.files:
            rec = load(f)
            recordings.append(rec)
            results.append(analyze(rec))
            prog.advance(task)
        prog.update(task, description="writing the PDF")
        out = write_report(recordings, results, args.output, subject=args.subject or "", png_dir=args.png,
                           overwrite=args.force)
        prog.advance(task)
    _console().print(f"wrote {_safe(out)}" + (f" and the figures in {_safe(args.png)}" if args.png else ""))
    return 0


#: frames per second of the live view (a frame every 40 ms: the newest packet
#: is at most about that old on screen)
LIVE_FPS = 25.0


class _LiveView:
    """The live terminal view, drawn from the event loop's thread (no refresh
    thread reading numbers that the loop is changing) at most
    :data:`LIVE_FPS` times a second: the frame is built only when drawn."""

    def __init__(self, live) -> None:
        self.live = live
        self.stats = None
        self._last = -1.0

    def show(self, stats, *, force: bool = False) -> None:
        """Draw ``stats`` if a frame is due (or ``force``)."""
        self.stats = stats
        now = time.monotonic()
        if force or now - self._last >= 1.0 / LIVE_FPS:
            self._last = now
            self.live.update(_live(stats), refresh=True)


@contextlib.contextmanager
def _live_view(con):
    """A :class:`_LiveView` on ``con``; the last numbers are drawn at the end,
    and when the output is not a terminal only that last frame is printed,
    then a line break."""
    from rich.live import Live

    try:
        with Live(console=con, auto_refresh=False) as live:
            view = _LiveView(live)
            try:
                yield view
            finally:
                if view.stats is not None:
                    view.show(view.stats, force=True)
    finally:
        if not con.is_terminal:
            con.line()


def _live(stats) -> Any:
    """A frame of the live view: instruction and time, the left/right load
    bar (``L`` cells for the left foot's share, ``R`` for the right's, ``|``
    at 50 %: readable without colour), cadence and contact-time balance (once
    stepping; the live contact times are labelled an estimate: they are not
    the analysis' events), packets and loss, battery. Plain styled text: cheap to draw 25
    times a second."""
    from rich.console import Group
    from rich.text import Text

    sides = ("left", "right")
    now = stats.snapshot()
    share = 50.0 if now["left_share_pct"] is None else now["left_share_pct"]
    width = 40
    n_left = int(round(width * share / 100.0))
    head = Text(f"{stats.instruction or stats.phase or '':<60}", style="bold")
    head.append(f" {stats.elapsed_s:6.1f} s", style="")
    # readable without colour: the left foot's cells are L, the right's R,
    # and | marks an even split (colour only adds to it)
    bar = Text(f"left {share:5.1f} % ")
    for lo, hi in ((0, width // 2), (width // 2, width)):
        cut = min(max(n_left, lo), hi)
        bar.append("L" * (cut - lo), style="blue")
        bar.append("R" * (hi - cut), style="dark_orange")
        if lo == 0:
            bar.append("|", style="bold")
    bar.append(f" {100 - share:5.1f} % right")
    lines = [head, bar]
    cadence, si, ct = now["cadence_spm"], now["contact_time_si_pct"], now["contact_time_ms"]
    if cadence is not None or si is not None:
        balance = "" if si is None else (
            f" ({'right' if si > 0 else 'left'} {abs(si):.1f} % longer)" if abs(si) >= 0.05 else " (even)")
        lines.append(Text(f"cadence {cadence:.0f} steps/min" if cadence is not None else "cadence -"))
        # an estimate (threshold at a fraction of the running peak), not the
        # analysis' events at 20 N: the view says so
        lines.append(Text("contact time \u2248 " + " / ".join(f"{side} {ct[side]:.0f} ms" if ct[side] is not None
                                                               else f"{side} -" for side in sides)
                          + balance + ", estimate"))
    lines.append(Text("packets " + " / ".join(f"{s} {stats.packets[s]} (loss {now['loss_pct'][s]:.2f} %)"
                                               for s in sides)))
    lines.append(Text("battery " + " / ".join(
        f"{s} {stats.battery_pct[s] if stats.battery_pct[s] is not None else '?'} %" for s in sides)))
    return Group(*lines)


def cmd_scan(args: argparse.Namespace) -> int:
    import asyncio

    from .ble.link import describe_insoles

    con = _console()

    def show(r: dict) -> None:  # each insole as soon as it is found and described
        con.print(f"{r['side']:<6} {_safe(r['name']):<10} {_safe(r['address']):<20} battery {r['battery_pct']} %  "
                  f"firmware {_safe(r['firmware_revision'])}  signal {r['rssi']} dBm")

    async def run() -> list[dict]:
        if args.virtual:
            from .ble.virtual.pair import still_person, virtual_pair

            async with virtual_pair(still_person()) as pair:
                return await describe_insoles(timeout_s=args.timeout, backend=pair.backend, on_row=show)
        return await describe_insoles(timeout_s=args.timeout, on_row=show)

    rows = asyncio.run(run())
    if not rows:
        raise InsoleError("no insole found: switch them on and bring them closer (or try --virtual)")
    return 0


def cmd_record(args: argparse.Namespace) -> int:
    import asyncio
    import signal

    from .ble.session import guide_plan, record_session
    from .recording.store import check_new_recording

    check_new_recording(args.output)  # before scanning, not after a minute of connecting
    try:
        guide_plan(args.protocol, args.duration)  # a standing test too short for its phases is refused here
    except InsoleError as exc:
        raise InsoleError(f"--duration: {exc}") from None

    if args.lsl:
        from .lsl import require_pylsl, stream_live_recording

        require_pylsl()  # before scanning

    async def record(stop: asyncio.Event, live) -> None:
        kwargs = dict(protocol=args.protocol, duration_s=args.duration, subject=args.subject or "",
                      body_mass_kg=args.body_mass_kg, stop=stop, on_update=live.show)
        if args.virtual:
            from .ble.virtual.pair import person_for, record_virtual

            await record_virtual(args.output, person_for(args.protocol, args.duration), **kwargs)
        else:
            await record_session(args.output, **kwargs)

    async def run():
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGINT, stop.set)
        with _live_view(con) as live:
            if not args.lsl:
                return await record(stop, live)
            # the LSL outlet reads the recording as it is written: the same packets, decoded as they come
            done = asyncio.Event()
            end_s = sum(seconds for _, seconds, _ in guide_plan(args.protocol, args.duration))
            outlet = loop.create_task(stream_live_recording(args.output, done=done, interrupted=stop,
                                                            session_end_s=end_s))
            try:
                await record(stop, live)
            finally:
                done.set()
            return await outlet

    con = _console()
    streamed = asyncio.run(run())
    con.print(f"wrote {_safe(args.output)}")
    if streamed is not None:
        con.print(f"published {streamed.n_samples} samples on LSL (stream insole)")
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    import asyncio
    import signal

    from .ble.session import replay
    from .recording.store import is_recording_file

    if not is_recording_file(args.file):
        from .paths import require_file

        require_file(args.file)
        raise InsoleError(f"{args.file}: replay plays insole recordings (.insole)")

    if args.lsl_wait and not args.lsl:
        raise InsoleError("--lsl-wait is for --lsl")
    recording = None
    if args.lsl:
        from .lsl import LslOutlet, stream_recording

        recording = _load(args.file)  # the samples frame (fitted clocks) is what LSL gets
        outlet = LslOutlet(recording.meta, speed=args.speed)
        if args.lsl_wait:
            with _working(f"waiting up to {args.lsl_wait:g} s for an LSL inlet of the stream insole"):
                outlet.wait_for_consumer(args.lsl_wait)

    async def run():
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGINT, stop.set)
        with _live_view(con) as live:
            view = replay(args.file, speed=args.speed, stop=stop, on_update=live.show)
            if recording is None:
                return await view, None
            with outlet:  # the live view and the LSL stream play side by side, on the same clock
                return tuple(await asyncio.gather(view, stream_recording(recording, outlet=outlet, stop=stop)))

    con = _console()
    stats, streamed = asyncio.run(run())
    con.print(f"replayed {sum(stats.packets.values())} packets")
    if streamed is not None:
        con.print(f"published {streamed.n_samples} samples on LSL (stream insole)")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import DEMO_TIME_SCALE, run_demo

    con = _console()
    with _progress("demo") as prog:
        starting = prog.add_task("starting two virtual insoles on the virtual radio", total=None)
        tasks: dict[str, Any] = {}

        def progress(step: str, done: float, total: float) -> None:
            if starting in prog.task_ids:
                prog.remove_task(starting)
            if step not in tasks:
                tasks[step] = prog.add_task(step, total=total)
            prog.update(tasks[step], completed=done)

        result = run_demo(Path(args.out), progress=progress, overwrite=args.force)
    for title, lines in result.summary:
        con.print(f"[bold]{title}[/bold]")
        for line in lines:
            con.print(f"  {line}")
    con.print(f"\nrecordings: {', '.join(_safe(p) for p in result.recordings)}\n"
              f"            (from two virtual insoles over the virtual radio, {DEMO_TIME_SCALE:g}x real time: the "
              f"standing tests and the earlier run streamed live, today's run logged on the insoles)")
    if result.sync:
        con.print(f"sync:       {result.sync}")
    con.print(f"report:     {_safe(result.report)}")
    if result.fit:
        con.print(f"FIT:        {_safe(result.fit)} (for Garmin Connect, Strava, intervals.icu)")
    return 0


# --- parser --------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="insole", description="Left/right weight-bearing asymmetry from "
                                "pressure-sensing insoles.")
    p.add_argument("--version", action="version", version=f"insole {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="log what the library does")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    d = sub.add_parser("demo", help="the whole product with no hardware: two virtual insoles stream over the "
                       "virtual radio; record, analyse, report")
    d.add_argument("--out", default="insole-demo", help="output folder (default: %(default)s)")
    d.add_argument("--force", action="store_true", help="replace the files of an earlier demo in the folder")
    d.set_defaults(func=cmd_demo)

    sc = sub.add_parser("scan", help="insoles in range: side, name, address, battery, firmware, signal")
    sc.add_argument("--virtual", action="store_true", help="two virtual insoles on the built-in virtual radio")
    sc.add_argument("--timeout", type=_number("s", 0.0, 600.0, above=True), default=5.0, metavar="S",
                    help="longest time to scan, s (default 5; stops once both feet are found)")
    sc.set_defaults(func=cmd_scan)

    rc = sub.add_parser("record", help="connect both feet, guide the protocol, write the recording")
    rc.add_argument("--protocol", choices=("standing", "run"), required=True)
    rc.add_argument("--duration", type=_SECONDS, default=None, metavar="S",
                    help="run: seconds (default: until Ctrl-C); standing: the whole test, the eyes-open and "
                         "eyes-closed phases sharing what the countdown and the foot lifts leave (default: 30 s each)")
    rc.add_argument("--virtual", action="store_true", help="two virtual insoles on the built-in virtual radio")
    rc.add_argument("--subject", default=None)
    rc.add_argument("--body-mass-kg", type=_BODY_MASS, default=None, metavar="KG")
    rc.add_argument("-o", "--output", required=True, metavar="FILE")
    rc.add_argument("--lsl", action="store_true", help="also publish the samples as the Lab Streaming Layer stream "
                    "insole (type Pressure; 38 channels: force, COP and 16 pressures per foot)")
    rc.set_defaults(func=cmd_record)

    rp = sub.add_parser("replay", help="play a recording through the live view")
    rp.add_argument("file")
    rp.add_argument("--speed", type=_number("x real time", 0.0, 1000.0, above=True), default=1.0, metavar="X",
                    help="times real time (default 1)")
    rp.add_argument("--lsl", action="store_true", help="also publish the samples as the Lab Streaming Layer stream "
                    "insole, timestamps on the replay's clock")
    rp.add_argument("--lsl-wait", type=_number("s", 0.0, 600.0), default=0.0, metavar="S",
                    help="with --lsl: wait up to S seconds for an inlet before playing (default 0: an inlet gets "
                         "the samples from when it connects)")
    rp.set_defaults(func=cmd_replay)

    s = sub.add_parser("simulate", help="write a synthetic recording with its ground truth")
    s.add_argument("--scenario", choices=("standing", "run", "walk"), required=True)
    s.add_argument("--duration", type=_SECONDS, default=None, metavar="S",
                   help="seconds (default: 70 standing, 120 run/walk)")
    s.add_argument("--asymmetry-pct", type=_number("%", -50.0, 50.0), default=0.0, metavar="X",
                   help="built-in asymmetry as a symmetry index in %%, positive = RIGHT larger: standing: "
                        "load share; run/walk: contact time, peak force and loading rate (default 0)")
    s.add_argument("--fatigue-pp-per-10min", type=_number("pp per 10 min", -20.0, 20.0), default=0.0, metavar="G",
                   help="run or walk: the contact-time asymmetry index changes by G points per 10 minutes, signed "
                        "like --asymmetry-pct (default %(default)s)")
    s.add_argument("--region-bias", type=_region_bias, default=None, metavar="SIDE:REGION=F[,REGION=F]",
                   help="more (F > 1) or less load on regions of one foot, e.g. right:forefoot=1.3,lateral=1.2 "
                        "(regions: heel, midfoot, forefoot, toes, medial, lateral; repeatable per side with ';')")
    s.add_argument("--shoe", choices=("bare", "laced"), default="bare",
                   help="what the insoles read besides the load: bare (nothing) or laced (a laced shoe's preload of "
                        "350 N with the foot in the air, sensors that release slowly, a bump in mid-swing, laces "
                        "that settle); default bare")
    s.add_argument("--preload-n", type=_number("N", 0.0, 1500.0), default=None, metavar="N",
                   help="force the insoles read with the foot in the air, N (sets the laced shoe's preload)")
    s.add_argument("--seed", type=_number("", 0, 2**32 - 1, integer=True), default=0)
    s.add_argument("--rate", type=int, default=200, choices=(50, 100, 200), help="sampling rate, Hz")
    s.add_argument("--body-mass-kg", type=_BODY_MASS, default=70.0, metavar="KG")
    s.add_argument("--subject", default="simulated person")
    s.add_argument("--loss-pct", type=_number("%", 0.0, 50.0), default=0.0, metavar="P",
                   help="packets lost on the link, %% (0-50)")
    s.add_argument("--realtime", action="store_true", help="write at the pace of a live session")
    s.add_argument("--force", action="store_true", help="overwrite an existing file")
    s.add_argument("-o", "--output", required=True, metavar="FILE")
    s.set_defaults(func=cmd_simulate)

    i = sub.add_parser("info", help="what a file holds: duration, devices, rate, packets, loss, gaps, phases")
    i.add_argument("file")
    i.add_argument("--json", action="store_true", help="machine-readable output")
    i.set_defaults(func=cmd_info)

    a = sub.add_parser("analyze", help="metrics: standing balance, or steps and asymmetry of a run or walk")
    a.add_argument("file", help="a recording or an importable file (format detected by content)")
    a.add_argument("--protocol", choices=("standing", "run", "walk", "auto"), default="auto")
    a.add_argument("--body-mass-kg", type=_BODY_MASS, default=None, metavar="KG", help="overrides the file's body mass")
    a.add_argument("--distance-km", type=_number("km", 0.0, 500.0, above=True), default=None, metavar="KM",
                   help="distance of the run: adds the asymmetry per km to the drift")
    a.add_argument("--json", action="store_true", help="the documented JSON object on stdout")
    a.add_argument("--calibration-from", default=None, metavar="STANDING",
                   help="a walk or run: take each insole's gain from this standing test of the same insoles (its "
                        "foot lifts), so the force metrics can be judged")
    a.add_argument("--events", choices=("auto", "paired", "force-plate", "relative", "moticon"), default="auto",
                   help="where initial contact and toe-off are placed: paired (the default for insole recordings: "
                        "20 N shared out by each foot's own loading), force-plate (20 N on each foot), relative (3 %% of each "
                        "foot's own median peak: a gain difference between the insoles does not move them), moticon "
                        "(as Moticon's gait report: 6 %% / 10.5 %% of the peak), auto (the file's own; default)")
    a.set_defaults(func=cmd_analyze)

    st = sub.add_parser("steps", help="the per-step table of a run or walk")
    st.add_argument("file")
    st.add_argument("--csv", action="store_true", required=True, help="as CSV on stdout")
    st.add_argument("--protocol", choices=("run", "walk", "auto"), default="auto")
    st.add_argument("--body-mass-kg", type=_BODY_MASS, default=None, metavar="KG")
    st.add_argument("--events", choices=("auto", "paired", "force-plate", "relative", "moticon"), default="auto",
                   help="where initial contact and toe-off are placed: paired (the default for insole recordings: "
                        "20 N shared out by each foot's own loading), force-plate (20 N on each foot), relative (3 %% of each "
                        "foot's own median peak: a gain difference between the insoles does not move them), moticon "
                        "(as Moticon's gait report: 6 %% / 10.5 %% of the peak), auto (the file's own; default)")
    st.set_defaults(func=cmd_steps)

    r = sub.add_parser("report", help="the physiotherapist's PDF; several files of one person add the history")
    r.add_argument("files", nargs="+", metavar="FILE")
    r.add_argument("-o", "--output", required=True, metavar="PDF")
    r.add_argument("--subject", default=None, help="name in the header (default: from the files)")
    r.add_argument("--png", default=None, metavar="DIR", help="also write every figure as PNG into DIR")
    r.add_argument("--force", action="store_true", help="replace an existing PDF (and PNGs of the same names)")
    r.set_defaults(func=cmd_report)

    e = sub.add_parser("export", help="the samples table as CSV or Parquet, or a run as a FIT activity")
    e.add_argument("file")
    e.add_argument("--to", choices=("csv", "parquet", "fit"), required=True,
                   help="fit: an activity file for Garmin Connect, Strava, intervals.icu (1-s records, laps)")
    e.add_argument("--distance-km", type=_number("km", 0.0, 500.0, above=True), default=None, metavar="KM",
                   help="with --to fit: the run's distance, for laps per km (default: per 10 min)")
    e.add_argument("-o", "--output", required=True, metavar="OUT")
    e.add_argument("--force", action="store_true", help="replace an existing file")
    e.set_defaults(func=cmd_export)

    from .cli_batch import add_batch_parser
    from .cli_log import add_log_commands

    add_log_commands(sub)
    add_batch_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # warnings about the data reach the user through the commands' own output
    # (e.g. "the file is damaged"); -v shows the library's log as well
    logging.basicConfig(level=logging.INFO if args.verbose else logging.ERROR,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except InsoleError as exc:
        print(f"insole: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("insole: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
