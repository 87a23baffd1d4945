"""Write a synthetic Moticon OpenGo text export (a walk at 100 Hz).

    python tests/data/moticon/make_synthetic.py                 # regenerates synthetic_walk.txt (10 s)
    python tests/data/moticon/make_synthetic.py --minutes 60 -o /tmp/opengo_60min.txt

The file imitates the real exports in this folder (same header lines, the
same 53 tab-separated columns, number formats, LF line ends, UTF-8 "²"):
a 70 kg subject walking at 109 steps/min (stride 1.10 s, stance 62 %),
insole size 5. The RIGHT insole starts 0.5 s after the left one: its fields
are empty for the first 50 rows. In swing a foot reads 5-20 N and the export
writes its COP as ``0.000000 0.000000``, as OpenGo does.

The gait is exactly periodic: a block of ten strides (1100 rows) is computed
once and repeated with a running time column, so a one-hour file (360 000
rows, about 120 MB) takes a few seconds. Deterministic (fixed seed).

Axes as read off the real exports (see ``insole/importers/moticon.py``): COP X
runs along the insole (-0.5 heel end, +0.5 toe end), COP Y across it, side
agnostic, positive toward the medial edge. The sensor positions used to
spread the force over the 16 pressure values are a rough stand-in, NOT
Moticon's layout: they only make the pressures plausible.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

RATE_HZ = 100
STRIDE_S = 1.10
STANCE_FRACTION = 0.62
BODY_WEIGHT_N = 70.0 * 9.80665
LEFT_HEEL_STRIKE_S = 0.20  # first left initial contact; the right one follows half a stride later
RIGHT_LATE_S = 0.50  # the right insole's fields are empty before this time
BLOCK_STRIDES = 10
SIZE = 5
PRESSURE_STEP = 0.25  # N/cm², the export's resolution
COP_MIN_N = 30.0  # below this the export writes COP (0, 0)
HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "synthetic_walk.txt"

# stand-in sensor layout: (X along, Y across (+ medial), area cm²), heel to toes like OpenGo's numbering
SENSORS = np.array([
    (-0.40, 0.10, 6.0), (-0.40, -0.10, 6.0), (-0.31, 0.12, 6.0), (-0.31, -0.12, 6.0),
    (-0.17, -0.20, 5.0), (-0.06, -0.22, 5.0), (-0.12, 0.10, 4.0), (0.05, -0.22, 5.0),
    (0.18, 0.22, 5.0), (0.20, 0.08, 5.0), (0.20, -0.08, 5.0), (0.17, -0.22, 5.0),
    (0.29, -0.15, 4.0), (0.38, 0.20, 5.0), (0.40, 0.02, 4.0), (0.37, -0.13, 4.0),
])


def columns() -> list[str]:
    cols = ["time"]
    for side in ("left", "right"):
        cols += [f"{side} pressure {i}[N/cm\u00b2]" for i in range(1, 17)]
        cols += [f"{side} acceleration {a}[g]" for a in "XYZ"] + [f"{side} angular {a}[dps]" for a in "XYZ"]
        cols += [f"{side} total force[N]", f"{side} center of pressure X[-0.5...+0.5]",
                 f"{side} center of pressure Y[-0.5...+0.5]"]
    return cols + ["right steps[]", "left steps[]"]


def header(duration_s: float) -> list[str]:
    ms = int(round(duration_s * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    duration = (f"{h:02d}:" if h else "") + f"{m:02d}:{s:02d}.{ms:03d}"
    return ["# Start time: 14.03.2024 09:30:00.000", f"# Duration: {duration}",
            "# Sensor insoles: Left SN1001, Right SN1002", f"# Size: {SIZE}", "# Recording type: normal",
            "# Name: synthetic walk",
            "# Notes: synthetic data from tests/data/moticon/make_synthetic.py, not a measurement",
            "# Tag: walk", "# " + "\t".join(columns())]


def foot(t: np.ndarray, first_contact_s: float, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """One foot over the block: force, normalised COP, pressures, IMU, events."""
    n = t.size
    stance_s = STANCE_FRACTION * STRIDE_S
    u = ((t - first_contact_s) % STRIDE_S) / stance_s  # 0..1 in stance, > 1 in swing
    stance = u < 1.0
    us = np.where(stance, u, 0.0)
    force = BODY_WEIGHT_N * (1.2 * np.sin(np.pi * us) + 0.35 * np.sin(3 * np.pi * us))
    force = np.where(stance, np.maximum(force, 0.0), 0.0) * (1.0 + 0.02 * rng.standard_normal(n))
    force = np.rint(np.where(force < 5.0, 5.0 + 15.0 * rng.random(n), force))
    x = -0.36 + 0.66 * (us - np.sin(2 * np.pi * us) / (2 * np.pi)) + 0.004 * rng.standard_normal(n)
    y = -0.03 + 0.07 * us - 0.13 * np.sin(np.pi * us) + 0.004 * rng.standard_normal(n)
    loaded = force >= COP_MIN_N
    x = np.where(loaded, x, 0.0)
    y = np.where(loaded, y, 0.0)
    # spread the force over the sensors around the COP: sum(p * area) == force before rounding
    d2 = (SENSORS[None, :, 0] - x[:, None]) ** 2 + (0.4 * (SENSORS[None, :, 1] - y[:, None])) ** 2
    w = np.exp(-d2 / (2 * 0.09**2)) + 1e-3
    p = force[:, None] * w / (w @ SENSORS[:, 2])[:, None]
    p = np.where(loaded[:, None], p, 0.0) + (rng.random((n, 16)) < 0.08) * PRESSURE_STEP
    p = np.round(p / PRESSURE_STEP) * PRESSURE_STEP
    swing = np.where(stance, 0.0, np.sin(np.pi * (u - 1.0) / (1.0 / STANCE_FRACTION - 1.0)))
    acc = np.column_stack([0.05 + 0.9 * swing, 0.05 * np.sin(2 * np.pi * t / STRIDE_S), 0.98 - 0.4 * swing])
    acc += 0.02 * rng.standard_normal((n, 3))
    gyro = np.column_stack([20 * swing, -330 * swing + 40 * np.where(stance, np.sin(np.pi * us), 0), 15 * swing])
    gyro += 1.5 * rng.standard_normal((n, 3))
    k = np.rint(((t - first_contact_s) % STRIDE_S) * RATE_HZ).astype(int)
    events = np.where(k == 0, 1, np.where(k == int(round(stance_s * RATE_HZ)), 5, 0))
    return {"p": p, "acc": acc, "gyro": gyro, "force": force, "x": x, "y": y, "events": events}


def side_fields(f: dict[str, np.ndarray], i: int) -> list[str]:
    return ([f"{v:.2f}" for v in f["p"][i]] + [f"{v:.6f}" for v in f["acc"][i]] + [f"{v:.6f}" for v in f["gyro"][i]]
            + [f"{f['force'][i]:.2f}", f"{f['x'][i]:.6f}", f"{f['y'][i]:.6f}"])


def block_rows() -> tuple[list[str], list[str]]:
    """The repeating block: each row's fields after the time, with both
    insoles, and with the right insole's fields empty."""
    rng = np.random.default_rng(20240314)
    n = int(round(BLOCK_STRIDES * STRIDE_S * RATE_HZ))
    t = np.arange(n) / RATE_HZ
    left = foot(t, LEFT_HEEL_STRIKE_S, rng)
    right = foot(t, LEFT_HEEL_STRIKE_S + STRIDE_S / 2, rng)
    both, right_empty = [], []
    for i in range(n):
        lf, rf = side_fields(left, i), side_fields(right, i)
        ls = {1: "11", 5: "15"}.get(int(left["events"][i]), "")
        rs = {1: "21", 5: "25"}.get(int(right["events"][i]), "")
        both.append("\t".join([*lf, *rf, rs, ls]))
        right_empty.append("\t".join([*lf, *([""] * len(rf)), "", ls]))
    return both, right_empty


def write(path: Path, duration_s: float) -> Path:
    n = int(round(duration_s * RATE_HZ))
    both, right_empty = block_rows()
    period = len(both)
    late = int(round(RIGHT_LATE_S * RATE_HZ))
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write("\n".join(header(duration_s)) + "\n")
        chunk = []
        for i in range(n):
            rest = right_empty[i % period] if i < late else both[i % period]
            chunk.append(f"{i / RATE_HZ:.2f}\t{rest}\n")
            if len(chunk) >= 20_000:
                fh.write("".join(chunk))
                chunk = []
        fh.write("".join(chunk))
    return path


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=None, help="length of the walk (default: 10 s)")
    ap.add_argument("-o", "--output", type=Path, default=None, help=f"output file (default: {DEFAULT_OUT.name})")
    args = ap.parse_args(argv)
    duration = 10.0 if args.minutes is None else 60.0 * args.minutes
    out = write(args.output or DEFAULT_OUT, duration)
    print(f"{out}: {duration:g} s, {out.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
