"""Benchmark: the host side of live streaming, 2 feet x 200 Hz in real time.

Targets (BLE issue): under 5 % of one core, and under 50 ms from a
notification to the live view.

Two virtual insoles stream in real time (time_scale 1) over the virtual
radio into a recording session. The virtual insoles' own cost is excluded
by timing only the host's code: the notification callback (stamp and
enqueue), the consumer (write to the recording, live numbers) and the live
view's update; their summed CPU time over the wall time is the host's share
of a core. Latency: for every live-view update, the age of the newest packet
it shows (its arrival stamp to the update). Figures are medians of the runs.

    python benchmarks/bench_ble.py [--runs 3] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
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
    newest = {"t": None}
    ages: list[float] = []
    orig_cb, orig_update = link.FootLink._callback, session.update_stats

    def timed_cb(self, char, data):
        t = time.thread_time()
        orig_cb(self, char, data)
        spent[0] += time.thread_time() - t

    def timed_update(stats, pkt):
        t = time.thread_time()
        orig_update(stats, pkt)
        newest["t"] = pkt.host_time_ns
        spent[0] += time.thread_time() - t

    orig_add = session.RecordingWriter.add_packet

    def timed_add(self, *a):
        t = time.thread_time()
        orig_add(self, *a)
        spent[0] += time.thread_time() - t

    link.FootLink._callback, session.update_stats = timed_cb, timed_update
    session.RecordingWriter.add_packet = timed_add
    clock = {}

    def on_update(stats):
        t = time.thread_time()
        if newest["t"] is not None and "now" in clock:
            ages.append((clock["now"]() - newest["t"]) / 1e6)
        spent[0] += time.thread_time() - t

    orig_clock = link.monotonic_clock

    def capture_clock(scale=1.0):
        c = orig_clock(scale)
        clock["now"] = c
        return c

    session.monotonic_clock = capture_clock
    try:
        async def run():
            with tempfile.TemporaryDirectory() as d:
                async with virtual_pair(GaitScenario(mode="run", duration_s=seconds + 30.0), time_scale=1.0) as pair:
                    wall = time.perf_counter()
                    await session.record_session(Path(d) / "b.insole", protocol="run", duration_s=seconds,
                                                 backend=pair.backend, on_update=on_update, source="virtual-radio")
                    return time.perf_counter() - wall

        wall = asyncio.run(run())
    finally:
        link.FootLink._callback, session.update_stats = orig_cb, orig_update
        session.RecordingWriter.add_packet = orig_add
        session.monotonic_clock = orig_clock
    return {"cpu_pct": 100.0 * spent[0] / wall, "latency_median_ms": statistics.median(ages),
            "latency_p95_ms": sorted(ages)[int(0.95 * (len(ages) - 1))], "updates": len(ages)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=20.0)
    args = ap.parse_args()
    res = [one_run(args.seconds) for _ in range(args.runs)]
    cpu = statistics.median(r["cpu_pct"] for r in res)
    lat = statistics.median(r["latency_median_ms"] for r in res)
    p95 = statistics.median(r["latency_p95_ms"] for r in res)
    print(f"live session    2 feet x 200 Hz, {args.seconds:g} s real time over the virtual radio, {args.runs} runs")
    print(f"host CPU        {cpu:.2f} % of one core (each {', '.join(format(r['cpu_pct'], '.2f') for r in res)})")
    print(f"to live view    median {lat:.1f} ms, p95 {p95:.1f} ms (medians over runs; {res[0]['updates']} updates/run)")
    print(f"targets         CPU < 5 %: {'met' if cpu < 5 else 'MISSED'}; latency < 50 ms: {'met' if p95 < 50 else 'MISSED'}")


if __name__ == "__main__":
    main()
