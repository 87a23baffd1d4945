"""Benchmark of the on-insole log codec (log format 1).

(a) Compression of the host encoder (which is byte-exact with the firmware's)
    on real data: PhysioNet gaitpdb (8 sensors per foot, 100 Hz), the Moticon
    OpenGo samples (16 sensors, 100 Hz) and the simulator (16 sensors,
    200 Hz). Each file is re-quantised to 12 bits with one LSB per file, so
    that its 99.9th percentile maps to 3900 codes. 8-sensor data go in 16
    channels with 8 left at 0; their ratio is also given on the 8 real
    channels only (the zero channels' reference codes taken off: with
    nibble 15 they write no residual bits; every overhead kept).
(b) Encoder cost per sample on a microcontroller, counted from the data.
(c) decode_log of a synced 8-h log of both feet at 200 Hz, timed in fresh
    subprocesses (wall time and peak RSS).

Data pages: 16-sample blocks of second-order prediction residuals, a Rice
nibble per sensor and block (15 = all zero, no bits).

Prints figures only; no assertion on time. Run:
``python benchmarks/bench_log.py [--gaitpdb DIR] [--moticon DIR] [--skip-decode]``
(gaitpdb: the PhysioNet "Gait in Parkinson's disease" *.txt files; default
the folder in the environment variable INSOLE_GAITPDB_DIR, else skipped)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from insole.errors import InsoleError
from insole.protocol import log as L

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_GAITPDB = Path(os.environ.get("INSOLE_GAITPDB_DIR", ROOT / "no-gaitpdb"))
DEFAULT_MOTICON = ROOT / "tests" / "data" / "moticon" / "vendor"
FLASH_BYTES = 64 * 2**20
RATE_HZ = 200


#: with --lsb-kpa, Moticon pressures (kPa) are quantised at that step instead
MOTICON_LSB_KPA: float | None = None


def quantise(x: np.ndarray, lsb: float | None = None) -> np.ndarray:
    """12-bit codes with one LSB per file: the 99.9th percentile -> 3900
    (the whole 12-bit range: the conservative choice), or a given LSB."""
    x = np.nan_to_num(np.asarray(x, dtype=np.float64), nan=0.0).clip(min=0)
    top = np.percentile(x[x > 0], 99.9) if (x > 0).any() else 1.0
    return np.clip(np.rint(x / (lsb or top / 3900.0)), 0, 4095).astype(np.uint16)


def in_16(codes: np.ndarray) -> np.ndarray:
    out = np.zeros((codes.shape[0], 16), dtype=np.uint16)
    out[:, :codes.shape[1]] = codes
    return out


def ratio_on_real(stats: L.CompressionStats, n_real: int) -> float:
    """Ratio on the real channels: the zero channels' reference codes (12 bits
    per page) taken off. Their residuals are all 0, so every block gives them
    nibble 15 and no bits; their nibbles (4 bits per block) stay counted as
    overhead, like the rest of the block header."""
    zero = 16 - n_real
    bits = 8 * stats.page_bytes - zero * 12 * stats.n_pages
    return 12 * n_real * stats.n_samples / bits


def hours_in_flash(ratio: float, rate_hz: int = RATE_HZ) -> float:
    """Hours of 16-sensor samples in 64 MB at this ratio (header, end and the
    reserved page left out)."""
    pages = FLASH_BYTES // L.PAGE_SIZE - 3
    return pages * L.PAGE_SIZE * ratio / 24 / rate_hz / 3600


def gaitpdb_sets(folder: Path):
    for f in sorted(folder.glob("*.txt")):
        try:
            a = np.loadtxt(f)
        except ValueError:
            continue
        if a.ndim != 2 or a.shape[1] < 17:
            continue
        codes = quantise(a[:, 1:17])
        yield f.name, {"left": in_16(codes[:, :8]), "right": in_16(codes[:, 8:16])}, 8, 100


def moticon_sets(folder: Path):
    from insole.importers import import_file

    for f in sorted(folder.glob("*.txt")):
        try:
            rec = import_file(f)
        except InsoleError as e:  # a developer tool: report and go on
            print(f"  {f.name}: skipped ({e})")
            continue
        s = rec.samples
        sides = [side for side in ("left", "right") if side in s.columns.get_level_values(0)]
        chans = [f"p{i:02d}" for i in range(1, 17)]
        codes = quantise(np.concatenate([s[side][chans].to_numpy() for side in sides], axis=1), MOTICON_LSB_KPA)
        yield f.name, {side: codes[:, 16 * i:16 * (i + 1)] for i, side in enumerate(sides)}, 16, \
            round(rec.meta.sampling_rate_hz)


def simulator_sets(duration_s: float = 300.0):
    from insole.sim.gait import GaitScenario
    from insole.sim.session import default_insoles

    for mode in ("run", "walk"):
        sc = GaitScenario(mode=mode, duration_s=duration_s, seed=1)
        models = default_insoles(sampling_rate_hz=RATE_HZ)
        n = int(duration_s * RATE_HZ) - 200
        yield f"simulator {mode} {duration_s:.0f} s", {s: m.codes(sc, np.arange(n)) for s, m in models.items()}, \
            16, RATE_HZ


def compression(args) -> list[L.CompressionStats]:
    print("(a) compression: raw 12-bit (24 B/sample) / flash bytes, per foot; 8ch = on the 8 real channels")
    sources = []
    if args.gaitpdb.is_dir():
        sources.append(("gaitpdb", gaitpdb_sets(args.gaitpdb)))
    else:
        print(f"  gaitpdb: {args.gaitpdb} not found, skipped")
    if args.moticon.is_dir():
        sources.append(("moticon", moticon_sets(args.moticon)))
    else:
        print(f"  moticon: {args.moticon} not found, skipped")
    sources.append(("simulator", simulator_sets()))
    all_stats = []
    for name, sets in sources:
        ratios = []
        for fname, feet, n_real, rate in sets:
            parts = []
            for side, codes in feet.items():
                st = L.compressed_bits(codes, sampling_rate_hz=rate)
                all_stats.append(st)
                r = ratio_on_real(st, n_real)
                ratios.append(r)
                parts.append(f"{side} {st.ratio:5.2f}" + (f" (8ch {r:5.2f})" if n_real < 16 else ""))
            print(f"  {name:9s} {fname:26s} {rate:3d} Hz  " + "  ".join(parts))
        if ratios:
            med = float(np.median(ratios))
            print(f"  {name:9s} median ratio {med:.2f} -> {hours_in_flash(med):.1f} h in 64 MB at {RATE_HZ} Hz "
                  f"(16 sensors; raw: {hours_in_flash(1.0):.1f} h)")
    return all_stats


def encoder_cost(stats: list[L.CompressionStats]) -> None:
    """Operations per sample of the reference encoder, counted from the data."""
    n_values = sum(16 * max(s.n_samples - s.n_pages, 0) for s in stats)
    blocks = sum(s.n_blocks for s in stats)
    unary = sum(s.unary_bits for s in stats) / n_values
    rem = sum(s.remainder_bits for s in stats) / n_values
    # per value: two subtracts (second-order residual), zigzag (shift + xor),
    # accumulate the block sum and an all-zero flag, store (pass 1); load,
    # q = zz >> k, r = zz & mask (pass 2); unary: one op per bit (shift a 1
    # or 0 into the accumulator) + a flush test per bit; remainder: one
    # shift-or of k bits + one flush test (values of nibble-15 sensors skip
    # pass 2; not credited here)
    per_value = 7 + 3 + 2 * unary + 2
    # per block and sensor: zero test, mean = sum >> 4 (or / m), clz,
    # subtract, max, size
    per_block = 16 * 6 + 20  # + header and fit test
    per_sample = 16 * per_value + per_block * blocks / max(n_values / 16, 1)
    print("(b) encoder cost (reference algorithm, counted from the data above)")
    print(f"  unary bits/value {unary:.2f}, remainder bits/value {rem:.2f}, "
          f"flash bits/value {8 * sum(s.page_bytes for s in stats) / n_values:.2f}")
    print(f"  ~{per_value:.1f} ops/value, ~{per_sample:.0f} ops/sample (16 values), "
          f"{per_sample * RATE_HZ / 1e3:.0f} kops/s at {RATE_HZ} Hz")
    block = L.BLOCK_SAMPLES * 16 * 2
    print(f"  RAM: page buffer {L.PAGE_SIZE} B + block of {L.BLOCK_SAMPLES} zigzagged residuals "
          f"{L.BLOCK_SAMPLES}x16x2 = {block} B + previous two samples 64 B + nibbles/sums 48 B + pending records "
          f"(24 B each) -> about {L.PAGE_SIZE + block + 64 + 48} B")


def synthetic_codes(n: int, *, seed: int) -> np.ndarray:
    """Cheap gait-like codes (vectorised): a half-sine stance per sensor at
    170 steps/min both feet, noise of 2 codes while loaded, zeros in swing."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, 16), dtype=np.uint16)
    amp = rng.uniform(600, 3600, 16)
    lag = np.linspace(0, 0.25, 16)
    for lo in range(0, n, 1_000_000):
        t = np.arange(lo, min(n, lo + 1_000_000)) / RATE_HZ
        phase = (t[:, None] * (170 / 120) + lag) % 1.0
        load = np.where(phase < 0.35, np.sin(np.pi * phase / 0.35), 0.0)
        x = load * amp + rng.normal(0, 2, (t.size, 16)) * (load > 0)
        out[lo:lo + t.size] = np.clip(np.rint(x), 0, 4095)
    return out


_CHILD = """
import resource, sys, time
import numpy as np
from insole.protocol.log import decode_log
t = time.perf_counter()
n = 0
for path in sys.argv[1:]:
    d = decode_log(np.fromfile(path, dtype=np.uint8))
    n += int(d.count.sum())
wall = time.perf_counter() - t
# ru_maxrss survives fork + exec (it would report the parent's size), so the
# peak of this process's own memory is read from VmHWM where there is one
try:
    peak_kib = next(int(x.split()[1]) for x in open("/proc/self/status") if x.startswith("VmHWM"))
except OSError:
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(wall, peak_kib, n)
"""


def decode_timing(hours: float, runs: int) -> None:
    n = int(hours * 3600 * RATE_HZ)
    print(f"(c) decode of a synced {hours:g}-h log of both feet at {RATE_HZ} Hz ({n} samples per foot; "
          "synthetic gait-like codes, beacons 1/s, sync every 10 min)")
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        encode_s = 0.0
        for foot in range(2):
            codes = synthetic_codes(n, seed=foot)
            t_us = 10**9 + 5000 * np.arange(0, n, RATE_HZ, dtype=np.int64)
            beacons = L.Beacons(t_us + 300, t_us + 900, np.full(t_us.size, 1 - foot), np.full(t_us.size, 2),
                                np.arange(t_us.size), np.full(t_us.size, -70))
            ts = t_us[::600]
            sync = L.SyncPoints(ts, ts + 1_700_000_000_000_000, np.full(ts.size, 800))
            t = time.perf_counter()
            pages = L.encode_data_pages(codes, session_id=2, first_index=0, device_time_us=10**9,
                                        sampling_rate_hz=RATE_HZ, sync=sync, beacons=beacons)
            encode_s += time.perf_counter() - t
            p = Path(tmp) / f"foot{foot}.bin"
            p.write_bytes(b"".join(pages))
            paths.append(str(p))
            print(f"  foot {foot}: {len(pages)} pages, {p.stat().st_size / 2**20:.1f} MiB, "
                  f"ratio {24 * n / p.stat().st_size:.2f}")
        print(f"  encode_data_pages both feet: {encode_s:.1f} s ({encode_s / 2 / hours * 1000 / 60:.0f} ms per foot-minute; "
              "host encoder, one run)")
        del codes, pages
        walls, rss = [], []
        for _ in range(runs):
            out = subprocess.run([sys.executable, "-c", _CHILD, *paths], capture_output=True, text=True, check=True)
            w, r, got = out.stdout.split()
            walls.append(float(w))
            rss.append(int(r) / 1024)
            assert int(got) == 2 * n
        runs_s = ", ".join(f"{w:.2f}" for w in walls)
        print(f"  decode_log both feet: wall median {np.median(walls):.2f} s (runs {runs_s}), "
              f"peak RSS {max(rss):.0f} MiB (targets < 5 s, < 2048 MiB)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gaitpdb", type=Path, default=DEFAULT_GAITPDB, help="folder of gaitpdb *.txt files")
    ap.add_argument("--moticon", type=Path, default=DEFAULT_MOTICON, help="folder of Moticon *.txt exports")
    ap.add_argument("--hours", type=float, default=8.0, help="length of the decoded log, h")
    ap.add_argument("--runs", type=int, default=3, help="decode runs (median)")
    ap.add_argument("--skip-decode", action="store_true")
    ap.add_argument("--lsb-kpa", type=float, default=None,
                    help="quantise the Moticon pressures at this step (the insole's own LSB is 0.25 kPa) instead "
                         "of spreading each file over the 12-bit range")
    args = ap.parse_args()
    global MOTICON_LSB_KPA
    MOTICON_LSB_KPA = args.lsb_kpa
    stats = compression(args)
    encoder_cost(stats)
    if not args.skip_decode:
        decode_timing(args.hours, args.runs)


if __name__ == "__main__":
    main()
