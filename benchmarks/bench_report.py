"""Benchmark: the physiotherapist's report of a 1-hour run (target < 5 s).

Reports two figures, medians over fresh processes:

- ``write_report`` alone (figures and PDF pages, from a loaded and analysed
  recording): what the target is about;
- the whole command ``insole report FILE -o report.pdf`` as a user runs it
  (imports, loading, the analysis, and the PDF).

    python benchmarks/bench_report.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_load import make_recording  # noqa: E402  (the same 1-hour, 200 Hz run)


def worker(path: str) -> None:
    import insole
    from insole.report.pdf import write_report

    rec = insole.load(path)
    res = insole.analyze(rec)
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        write_report([rec], [res], Path(d) / "r.pdf")
        print(json.dumps({"write_s": time.perf_counter() - t}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker)
        return
    path = make_recording(60.0)
    write, whole = [], []
    with tempfile.TemporaryDirectory() as d:
        for _ in range(args.runs):
            out = subprocess.run([sys.executable, __file__, "--worker", str(path)], check=True, capture_output=True,
                                 text=True).stdout
            write.append(json.loads(out.strip().splitlines()[-1])["write_s"])
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "insole", "report", str(path), "-o", str(Path(d) / "r.pdf"), "--force"],
                           check=True, capture_output=True)
            whole.append(time.perf_counter() - t)
    w, c = statistics.median(write), statistics.median(whole)
    print(f"recording       {path.name}: 1 h run, 2 feet x 200 Hz")
    print(f"write_report    {w:.2f} s (median of {args.runs}; each {', '.join(format(x, '.2f') for x in write)})")
    print(f"insole report   {c:.2f} s whole command (each {', '.join(format(x, '.2f') for x in whole)})")
    print(f"target          report < 5 s: {'met' if w < 5 else 'MISSED'} "
          f"(whole command {'also under' if c < 5 else 'over'} 5 s)")


if __name__ == "__main__":
    main()
