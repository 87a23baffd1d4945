"""Benchmark: `insole sync` of a logged run of both feet over the virtual radio.

A fresh virtual pair logs an M-minute run (default 60), then the host syncs
it at the modelled link speed (default 120 kB/s per insole, time scale 1, so
the wall time is what a real sync would take at that throughput). Prints the
bytes, the wall time, the achieved throughput and the CPU share of this
process during the sync. The process also runs the virtual insoles and
Bumble's virtual controllers, so its CPU share is an upper bound for the
host's.

Usage::

    python benchmarks/bench_sync.py [--minutes 60] [--runs 3] [--link-kB-s 120] [--speed 1]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from insole.ble.virtual.run import run_virtual
from insole.ble.virtual.state import VirtualPairState
from insole.sync.workflow import log_start, sync_pair, virtual_reach


def one_run(minutes: float, link_kB_s: float, speed: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        folder, out = Path(tmp) / "state", Path(tmp) / "runs"
        out.mkdir()
        with VirtualPairState.open(folder) as state:
            async def connect(work, scale):
                async with virtual_reach(state, time_scale=scale, link_kB_s=link_kB_s) as reach:
                    return await work(reach)

            asyncio.run(connect(lambda r: log_start(r, note={"protocol": "run"}), 1.0))
            t0 = time.perf_counter()
            run_virtual(state, minutes=minutes, asymmetry_pct=-8.0, fatigue_pp_per_10min=-1.0)
            simulate_s = time.perf_counter() - t0
            c0, w0 = time.process_time(), time.perf_counter()
            result = asyncio.run(connect(lambda r: sync_pair(r, out), speed))
            wall_s, cpu_s = time.perf_counter() - w0, time.process_time() - c0
        return {"bytes": result.downloaded_bytes, "download_s": result.seconds, "sync_s": wall_s,
                "cpu_pct": 100.0 * cpu_s / wall_s, "simulate_s": simulate_s}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--link-kB-s", type=float, default=120.0, dest="link")
    ap.add_argument("--speed", type=float, default=1.0, help="virtual time scale (1: honest wall time)")
    args = ap.parse_args()
    runs = [one_run(args.minutes, args.link, args.speed) for _ in range(args.runs)]
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    span = {k: (min(r[k] for r in runs), max(r[k] for r in runs)) for k in runs[0]}
    mb = med["bytes"] / 1e6
    print(f"logged run: {args.minutes:g} min of both feet at 200 Hz, {mb:.1f} MB on the two insoles "
          f"(simulated into the virtual flash in {med['simulate_s']:.1f} s)")
    print(f"sync at {args.link:g} kB/s per insole, time scale {args.speed:g}: download {med['download_s']:.1f} s "
          f"(range {span['download_s'][0]:.1f}-{span['download_s'][1]:.1f}), whole sync {med['sync_s']:.1f} s, "
          f"{med['bytes'] / med['download_s'] / 1e3 * args.speed:.0f} kB/s of both feet together")
    print(f"CPU of this process during the sync (host + virtual insoles + virtual radio): {med['cpu_pct']:.1f} % of "
          f"one core (range {span['cpu_pct'][0]:.1f}-{span['cpu_pct'][1]:.1f}); median of {args.runs} runs")


if __name__ == "__main__":
    main()
