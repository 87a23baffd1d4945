"""Benchmark: `insole analyze` of a 4-hour marathon recording at 200 Hz
(both feet, 16 sensors).

Target (gait issue): under 10 s and under 2 GB on a 2-core machine. Each run
is the command as a user runs it (`insole analyze FILE --json`, a fresh
process: imports, loading, decoding and the whole analysis included); wall
time and the process's peak resident memory are measured from outside.
Figures are medians.

    python benchmarks/bench_analyze.py [--runs 3] [--hours 4]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "_data"


def make_recording(hours: float) -> Path:
    from insole.sim.gait import GaitScenario
    from insole.sim.session import default_insoles, simulate_recording

    DATA.mkdir(exist_ok=True)
    path = DATA / f"marathon_{hours:g}h_200hz.insole"
    if not path.exists():
        t = time.perf_counter()
        scenario = GaitScenario(mode="run", duration_s=hours * 3600.0, contact_time_si_pct=3.0,
                                contact_time_si_growth_pp_per_10min=0.2, seed=42)
        simulate_recording(path, scenario, insoles=default_insoles(sampling_rate_hz=200, drop_pct=0.2),
                           overwrite=True)
        print(f"(made {path.name} in {time.perf_counter() - t:.0f} s)", file=sys.stderr)
    return path


def one_run(path: Path) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "insole", "analyze", str(path), "--json"], check=True,
                         capture_output=True, text=True).stdout
    wall = time.perf_counter() - t
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if peak_kb <= before:
        peak_kb = float("nan")  # an earlier child was larger: this run's peak is not visible
    gait = json.loads(out)["gait"]
    return {"wall_s": wall, "peak_mb": peak_kb / 1024, "steps": gait["n_steps"]["left"] + gait["n_steps"]["right"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--hours", type=float, default=4.0)
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:  # one measured run in its own process, so ru_maxrss of children is this run's
        print(json.dumps(one_run(Path(args.one))))
        return
    path = make_recording(args.hours)
    results = []
    for _ in range(args.runs):
        out = subprocess.run([sys.executable, __file__, "--one", str(path)], check=True, capture_output=True,
                             text=True).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
    wall = statistics.median(r["wall_s"] for r in results)
    peak = statistics.median(r["peak_mb"] for r in results)
    print(f"recording       {path.name}: {args.hours:g} h, 2 feet x 200 Hz x 16 sensors, "
          f"{path.stat().st_size / 1e6:.0f} MB on disk, {results[0]['steps']:,} steps kept")
    print(f"insole analyze  {wall:.1f} s wall (median of {args.runs}; each "
          f"{', '.join(format(r['wall_s'], '.1f') for r in results)}), whole command")
    print(f"peak memory     {peak:.0f} MB resident (median; each {', '.join(format(r['peak_mb'], '.0f') for r in results)})")
    print(f"targets         time < 10 s: {'met' if wall < 10 else 'MISSED'}; memory < 2 GB: "
          f"{'met' if peak < 2048 else 'MISSED'}")


if __name__ == "__main__":
    main()
