"""Throughput of ``insole batch`` on Dask: files per second per worker with 1
and 2 local worker processes, the 1 -> 2 scaling, and peak memory per worker.

    python benchmarks/bench_batch.py CACHE_DIR [--gaitpdb DIR] [--n-files 300] [--repeats 3]

The cohort (simulated walks, runs and standing tests of 30-60 s at 200 Hz,
plus the gaitpdb walks of ``--gaitpdb``) is generated once into CACHE_DIR
and reused. Each configuration starts its cluster and warms its workers up
(imports, a first analysis) before the timed runs; each run analyses every
file into a fresh work folder (nothing reused); the median of the runs is
reported. The machine's other load is not controlled: run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from insole import cohort
from insole.sim import make_scenario
from insole.sim.session import default_insoles, simulate_recording

SCENARIOS = ("walk", "run", "standing")


def build_cohort(folder: Path, *, n_files: int) -> list[Path]:
    """``n_files`` simulated recordings in ``folder`` (those already there are kept)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n_files):
        scenario = SCENARIOS[i % len(SCENARIOS)]
        path = folder / f"sim-{i:04d}-{scenario}.insole"
        if not path.exists():
            sc = make_scenario(scenario, duration_s=30.0 + 10.0 * (i // 3 % 4), seed=i,
                               asymmetry_pct=float(i % 11 - 5), body_mass_kg=55.0 + i % 30)
            simulate_recording(path, sc, insoles=default_insoles(sampling_rate_hz=200, seed=i), subject=f"s{i:04d}")
        paths.append(path)
    return paths


def _peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def measure(files: list, *, workers_n: int, repeats_n: int) -> dict:
    """Median wall time of ``repeats_n`` batches of ``files`` on a local cluster."""
    times_s = []
    with cohort.open_client(workers_n=workers_n) as client:
        client.wait_for_workers(workers_n)
        client.run(cohort.analyse_file, files[0])  # imports and first-call costs, on every worker
        for _ in range(repeats_n):
            with tempfile.TemporaryDirectory() as parts:
                t0 = time.perf_counter()
                stats = cohort.run_batch(client, files, parts_dir=parts)
                times_s.append(time.perf_counter() - t0)
            assert stats.analysed_n == len(files)
        rss_mb = client.run(_peak_rss_mb)
        memory_mb = {w: info["metrics"]["memory"] / 2**20 for w, info in client.scheduler_info()["workers"].items()}
    median_s = statistics.median(times_s)
    return {"workers_n": workers_n, "times_s": times_s, "median_s": median_s,
            "files_per_s": len(files) / median_s, "files_per_s_per_worker": len(files) / median_s / workers_n,
            "peak_rss_mb": max(rss_mb.values()), "memory_mb": max(memory_mb.values())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cache", type=Path, help="folder of the generated cohort (created, reused)")
    ap.add_argument("--gaitpdb", type=Path, default=None, help="also the gaitpdb walks of this folder")
    ap.add_argument("--n-files", type=int, default=300, help="simulated recordings (default %(default)s)")
    ap.add_argument("--repeats", type=int, default=3, help="runs per configuration (default %(default)s)")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    build_cohort(args.cache, n_files=args.n_files)
    inputs = [args.cache] + ([args.gaitpdb] if args.gaitpdb else [])
    files = cohort.discover(inputs)
    size_mb = sum(f.size_bytes for f in files) / 1e6
    print(f"cohort: {len(files)} files ({size_mb:.0f} MB), ready in {time.perf_counter() - t0:.0f} s; "
          f"{os.cpu_count()} CPUs, load average before {os.getloadavg()[0]:.2f}")
    results = [measure(files, workers_n=n, repeats_n=args.repeats) for n in (1, 2)]
    for r in results:
        print(f"{r['workers_n']} worker(s): median {r['median_s']:.1f} s "
              f"(runs {', '.join(f'{t:.1f}' for t in r['times_s'])}) = {r['files_per_s']:.2f} files/s, "
              f"{r['files_per_s_per_worker']:.2f} files/s per worker; peak RSS per worker {r['peak_rss_mb']:.0f} MB "
              f"(now {r['memory_mb']:.0f} MB)")
    scaling = results[1]["files_per_s"] / results[0]["files_per_s"]
    print(f"scaling 1 -> 2 workers: {scaling:.2f}x (target >= 1.7x); load average after {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
