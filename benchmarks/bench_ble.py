"""Benchmark: the host side of live streaming, 2 feet x 200 Hz in real time.

Targets (BLE issue): under 5 % of one core, and under 50 ms from a
notification to the live view.

Two virtual insoles stream in real time (time_scale 1) over the virtual
radio into a recording session, with the terminal view of ``insole record``
(the CLI's own view code and rich Live display) drawn into a terminal that
discards its output. The virtual insoles' own cost is excluded by timing
only the host's code, per thread: the notification callback (stamp and
enqueue), the consumer (write to the recording, live numbers), and the view
(building and drawing a frame, at most 25 a second); their summed CPU time
over the wall time is the host's share of a core. Latency: at every frame drawn, the age of the
newest packet in it (its arrival stamp to the drawing). Figures are medians
of the runs.

    python benchmarks/bench_ble.py [--runs 3] [--seconds 20]

Start-up (``--startup N``): ``insole record --virtual --protocol run`` as a
user starts it, N fresh processes one after the other: from just before the
process is spawned to the first stored packet of each foot, read from the
file (the packets' host times placed on the host's monotonic clock by the
file's ``host_monotonic_origin_ns``), with ``--duration 30`` and until
Ctrl-C (SIGINT once both feet are in the file). Medians of the runs.

    python benchmarks/bench_ble.py --startup 9
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import tempfile
import time
from pathlib import Path


def one_run(seconds: float) -> dict:
    import insole.ble.link as link
    import insole.ble.session as session
    from insole.ble.virtual.pair import virtual_pair
    from insole.sim.gait import GaitScenario

    spent = [0.0]
    parts = {"callback": 0.0, "live numbers": 0.0, "writer": 0.0, "view": 0.0}
    newest = {"t": None}
    ages: list[float] = []
    orig_cb, orig_update = link.FootLink._callback, session.update_stats

    def timed_cb(self, char, data):
        t = time.thread_time()
        orig_cb(self, char, data)
        dt = time.thread_time() - t
        spent[0] += dt
        parts["callback"] += dt

    def timed_update(stats, pkt):
        t = time.thread_time()
        orig_update(stats, pkt)
        newest["t"] = pkt.host_time_ns
        dt = time.thread_time() - t
        spent[0] += dt
        parts["live numbers"] += dt

    orig_add = session.RecordingWriter.add_packet

    def timed_add(self, *a):
        t = time.thread_time()
        orig_add(self, *a)
        dt = time.thread_time() - t
        spent[0] += dt
        parts["writer"] += dt

    link.FootLink._callback, session.update_stats = timed_cb, timed_update
    session.RecordingWriter.add_packet = timed_add
    clock = {}
    drawing = [0.0]
    import os

    import rich.live
    from rich.console import Console

    from insole.cli import _live_view

    orig_refresh = rich.live.Live.refresh

    def timed_refresh(self):  # a frame drawn (from the view's show, in the loop's thread)
        t = time.thread_time()
        orig_refresh(self)
        if newest["t"] is not None and "now" in clock:
            ages.append((clock["now"]() - newest["t"]) / 1e6)
        drawing[0] += time.thread_time() - t

    live_box = {}

    def on_update(stats):  # the CLI's on_update: the view draws a frame when one is due
        t = time.thread_time()
        live_box["live"].show(stats)
        dt = time.thread_time() - t
        spent[0] += dt
        parts["view"] += dt

    orig_clock = link.monotonic_clock

    def capture_clock(scale=1.0):
        c = orig_clock(scale)
        clock["now"] = c
        return c

    session.monotonic_clock = capture_clock
    try:
        async def run():
            with tempfile.TemporaryDirectory() as d, open(os.devnull, "w") as null:
                console = Console(file=null, force_terminal=True, width=100, highlight=False)
                async with virtual_pair(GaitScenario(mode="run", duration_s=seconds + 30.0), time_scale=1.0) as pair:
                    with _live_view(console) as live:
                        live_box["live"] = live
                        wall = time.perf_counter()
                        await session.record_session(Path(d) / "b.insole", protocol="run", duration_s=seconds,
                                                     backend=pair.backend, on_update=on_update,
                                                     source="virtual-radio")
                        return time.perf_counter() - wall

        rich.live.Live.refresh = timed_refresh
        wall = asyncio.run(run())
    finally:
        link.FootLink._callback, session.update_stats = orig_cb, orig_update
        session.RecordingWriter.add_packet = orig_add
        session.monotonic_clock = orig_clock
        rich.live.Live.refresh = orig_refresh
    return {"cpu_pct": 100.0 * spent[0] / wall, "drawing_pct": 100.0 * drawing[0] / wall,
            "parts_pct": {k: 100.0 * v / wall for k, v in parts.items()},
            "latency_median_ms": statistics.median(ages),
            "latency_p95_ms": sorted(ages)[int(0.95 * (len(ages) - 1))], "updates": len(ages)}


def _stored_sides(path: Path) -> int:
    """How many feet have a committed packet in the recording being written."""
    import sqlite3

    if not path.exists():
        return 0
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0.1)) as db:
            return len(db.execute("SELECT DISTINCT side FROM packets").fetchall())
    except sqlite3.Error:  # not created yet, or locked for a moment
        return 0


def startup_run(duration_s: float | None) -> dict:
    """One ``insole record --virtual --protocol run`` process (with
    ``--duration`` or, for None, until Ctrl-C), stopped with SIGINT once both
    feet are in the file: ms from spawning it to the session clock's start,
    to the first packet, and to the first packet of both feet."""
    import signal
    import subprocess
    import sys

    from insole.recording.store import read_raw

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "s.insole"
        args = ["record", "--virtual", "--protocol", "run", "-o", str(path)]
        if duration_s is not None:
            args += ["--duration", f"{duration_s:g}"]
        t_spawn = time.monotonic_ns()
        proc = subprocess.Popen([sys.executable, "-m", "insole", *args], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            while _stored_sides(path) < 2 and proc.poll() is None:
                time.sleep(0.05)
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=120)
        finally:
            proc.kill()
            proc.wait()
        raw = read_raw(path)
    origin = raw.meta["host_monotonic_origin_ns"]
    firsts = [int(raw.host_time_ns[side][0]) for side in raw.sides()]
    return {"session_ms": (origin - t_spawn) / 1e6, "first_ms": (origin + min(firsts) - t_spawn) / 1e6,
            "both_ms": (origin + max(firsts) - t_spawn) / 1e6}


def startup(runs: int) -> None:
    for duration_s in (30.0, None):
        res = [startup_run(duration_s) for _ in range(runs)]
        what_run = f"--duration {duration_s:g}" if duration_s else "until Ctrl-C"
        print(f"start-up        insole record --virtual --protocol run {what_run}: {runs} fresh processes; "
              "from spawning it to ... (median, range)")
        for key, what in (("session_ms", "the session clock's start (imports, virtual radio)"),
                          ("first_ms", "the first packet"), ("both_ms", "the first packet of both feet")):
            v = sorted(r[key] for r in res)
            print(f"  {what:<52} {statistics.median(v):6.0f} ms  ({v[0]:.0f}-{v[-1]:.0f})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--startup", type=int, default=0, metavar="N",
                    help="measure the start-up of insole record --virtual in N fresh processes instead")
    args = ap.parse_args()
    if args.startup:
        startup(args.startup)
        return
    res = [one_run(args.seconds) for _ in range(args.runs)]
    cpu = statistics.median(r["cpu_pct"] for r in res)
    lat = statistics.median(r["latency_median_ms"] for r in res)
    p95 = statistics.median(r["latency_p95_ms"] for r in res)
    print(f"live session    2 feet x 200 Hz, {args.seconds:g} s real time over the virtual radio, {args.runs} runs")
    drawing = statistics.median(r["drawing_pct"] for r in res)
    parts = {k: statistics.median(r["parts_pct"][k] for r in res) for k in res[0]["parts_pct"]}
    print(f"host CPU        {cpu:.2f} % of one core (each {', '.join(format(r['cpu_pct'], '.2f') for r in res)})")
    print("  of which      " + ", ".join(f"{k} {v:.2f} %" for k, v in parts.items())
          + f" (drawing the frames {drawing:.2f} %)")
    print(f"to live view    median {lat:.1f} ms, p95 {p95:.1f} ms (medians over runs; {res[0]['updates']} frames/run)")
    print(f"targets         CPU < 5 %: {'met' if cpu < 5 else 'MISSED'}; latency < 50 ms: {'met' if p95 < 50 else 'MISSED'}")


if __name__ == "__main__":
    main()
