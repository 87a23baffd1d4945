"""Benchmark: decode and load a 1-hour, two-foot, 200 Hz recording.

Target (foundation issue): under 1 s and under 4x the raw data size in memory
on a 2-core machine. "Raw data size" is the recording file on disk (raw
packets with their arrival times): what the user has before loading.

Each run is a fresh Python process (so memory is measured from a clean
start); figures are medians over the runs.

    python benchmarks/bench_load.py [--runs 5] [--minutes 60]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "_data"


def make_recording(minutes: float) -> Path:
    from insole.sim import make_scenario
    from insole.sim.session import default_insoles, simulate_recording

    DATA.mkdir(exist_ok=True)
    path = DATA / f"run_{minutes:g}min_200hz.insole"
    warm = DATA / "warm_up.insole"
    if not warm.exists():
        simulate_recording(warm, make_scenario("run", duration_s=10.0, seed=1), overwrite=True)
    if not path.exists():
        t = time.perf_counter()
        scenario = make_scenario("run", duration_s=minutes * 60.0, asymmetry_pct=4.0, seed=11)
        simulate_recording(path, scenario, insoles=default_insoles(sampling_rate_hz=200, drop_pct=0.2),
                           overwrite=True)
        print(f"(made {path.name} in {time.perf_counter() - t:.1f} s)", file=sys.stderr)
    return path


def _rss_mb() -> tuple[float, float]:
    """(current RSS, peak RSS since the last reset) of this process, MB (Linux)."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def _reset_peak_rss() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS


def worker(path: str) -> None:
    import tracemalloc

    import insole

    import gc

    # warm up on a 10-s recording, so one-off costs (modules imported on
    # first use) do not count as memory for the data
    insole.load(DATA / "warm_up.insole")
    gc.collect()
    # 1) plain load: wall time and growth of the process's peak RSS
    _reset_peak_rss()
    rss0, _ = _rss_mb()
    t = time.perf_counter()
    rec = insole.load(path)
    wall_untraced = time.perf_counter() - t
    _, rss1 = _rss_mb()
    n = int(rec.samples.notna().any(axis=1).sum())
    frame_mb = rec.samples.memory_usage(deep=True).sum() / 1e6
    del rec
    gc.collect()
    # 2) the same load under tracemalloc: peak of live allocations
    tracemalloc.start()
    t = time.perf_counter()
    rec = insole.load(path)
    wall = time.perf_counter() - t
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(json.dumps({"wall_s": wall_untraced, "wall_traced_s": wall, "peak_mb": peak / 1e6,
                      "rss_growth_mb": rss1 - rss0, "rows": n, "channels": rec.samples.shape[1],
                      "frame_mb": frame_mb, "duration_s": rec.duration_s}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker)
        return
    path = make_recording(args.minutes)
    file_mb = path.stat().st_size / 1e6
    results = []
    for _ in range(args.runs):
        out = subprocess.run([sys.executable, __file__, "--worker", str(path)], check=True, capture_output=True,
                             text=True).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
    med = {k: statistics.median(r[k] for r in results) for k in results[0]}
    samples = 2 * med["rows"]  # both feet
    print(f"recording       {path.name}: {med['duration_s'] / 60:.1f} min, 2 feet x 200 Hz, {file_mb:.1f} MB on disk")
    print(f"load wall time  {med['wall_s']:.3f} s  (median of {args.runs} runs; "
          f"each {', '.join(format(r['wall_s'], '.3f') for r in results)})")
    print(f"throughput      {samples / med['wall_s'] / 1e6:.2f} M samples/s ({samples:,} foot-samples)")
    print(f"peak memory     {med['peak_mb']:.0f} MB traced by tracemalloc = {med['peak_mb'] / file_mb:.2f} x the file; "
          f"peak RSS grew {med['rss_growth_mb']:.0f} MB ({med['rss_growth_mb'] / file_mb:.2f} x); the frame itself is {med['frame_mb']:.0f} MB "
          f"({med['channels']} float32 channels)")
    ok_t = med["wall_s"] < 1.0
    ok_m = max(med["peak_mb"], med["rss_growth_mb"]) < 4 * file_mb
    print(f"targets         time < 1 s: {'met' if ok_t else 'MISSED'}; memory < 4 x file: {'met' if ok_m else 'MISSED'}")


if __name__ == "__main__":
    main()
