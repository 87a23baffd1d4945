"""Benchmark: load a 1-hour Moticon OpenGo text export.

Target (gait issue): within 1.5x the time and memory of a bare
``pandas.read_csv`` of the same file, which is the floor (Moticon's own
Python reader needs about 25x that floor).

The file is built by repeating the rows of a real export excerpt
(tests/data/moticon/opengo_walk_with_events_first_030_rows.txt, both
insoles present) with a continuous time column, to one hour at 100 Hz.
Each measurement is a fresh process; time is the call alone, memory the
growth of the process's peak resident memory during the call (Linux
VmHWM, reset before the call). Figures are medians.

    python benchmarks/bench_moticon.py [--runs 5] [--minutes 60]
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
EXCERPT = HERE.parent / "tests" / "data" / "moticon" / "opengo_walk_with_events_first_030_rows.txt"


def make_export(minutes: float) -> Path:
    DATA.mkdir(exist_ok=True)
    path = DATA / f"moticon_{minutes:g}min.txt"
    if path.exists():
        return path
    text = EXCERPT.read_text(encoding="utf-8").splitlines()
    header = [line for line in text if line.startswith("#")]
    rows = [line.split("\t", 1)[1] for line in text if not line.startswith("#")]
    n = int(minutes * 60 * 100)
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write("\n".join(header) + "\n")
        fh.writelines(f"{k / 100:.2f}\t{rows[k % len(rows)]}\n" for k in range(n))
    return path


def _rss_mb() -> tuple[float, float]:
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def worker(what: str, path: str) -> None:
    import pandas as pd

    import insole
    from insole.importers import moticon  # noqa: F401  (imported before measuring)

    n_header = sum(1 for line in open(path, encoding="utf-8") if line.startswith("#")) - 1
    Path("/proc/self/clear_refs").write_text("5")
    rss0, _ = _rss_mb()
    t = time.perf_counter()
    if what == "read_csv":
        frame = pd.read_csv(path, sep="\t", skiprows=n_header)
        rows = len(frame)
    else:
        rec = insole.load(path)
        rows = len(rec.samples)
    wall = time.perf_counter() - t
    _, peak = _rss_mb()
    print(json.dumps({"wall_s": wall, "mem_mb": peak - rss0, "rows": rows}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(*args.worker)
        return
    path = make_export(args.minutes)
    res: dict[str, list[dict]] = {"read_csv": [], "insole": []}
    for _ in range(args.runs):
        for what in res:  # interleaved, so machine noise hits both alike
            out = subprocess.run([sys.executable, __file__, "--worker", what, str(path)], check=True,
                                 capture_output=True, text=True).stdout
            res[what].append(json.loads(out.strip().splitlines()[-1]))
    med = {w: {k: statistics.median(r[k] for r in rs) for k in ("wall_s", "mem_mb")} for w, rs in res.items()}
    print(f"file            {path.name}: {args.minutes:g} min at 100 Hz, {res['insole'][0]['rows']:,} rows, "
          f"{path.stat().st_size / 1e6:.0f} MB")
    for w, label in (("read_csv", "bare read_csv"), ("insole", "insole.load")):
        print(f"{label:<16}{med[w]['wall_s']:.2f} s, {med[w]['mem_mb']:.0f} MB peak growth "
              f"(median of {args.runs}; times {', '.join(format(r['wall_s'], '.2f') for r in res[w])})")
    rt = med["insole"]["wall_s"] / med["read_csv"]["wall_s"]
    rm = med["insole"]["mem_mb"] / med["read_csv"]["mem_mb"]
    print(f"ratio           time {rt:.2f} x, memory {rm:.2f} x the floor; target <= 1.5 x: "
          f"{'met' if rt <= 1.5 and rm <= 1.5 else 'MISSED'}")


if __name__ == "__main__":
    main()
