"""End to end over the virtual radio, through bleak's own API: virtual insoles
(Bumble peripherals implementing firmware_specs/) -> BleakScanner /
BleakClient with the virtual backend -> the link layer -> the recording file
-> decode. The radio runs faster than real time where the test allows."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import numpy as np
import pytest

import insole
from insole.ble.session import record_session
from insole.ble.virtual.pair import virtual_pair
from insole.sim.gait import GaitScenario
from insole.sim.session import default_insoles

pytest.importorskip("bumble")


def _record(path, *, duration_s, time_scale, insoles=None, stop_at_s=None, seed=0, on_start=None):
    """A run over the virtual radio; ``stop_at_s``: stop (as Ctrl-C does) that
    many seconds (of the session's clock) into the run; ``on_start(pair)``
    once both feet stream."""
    scenario = GaitScenario(mode="run", duration_s=duration_s + 30.0, seed=seed)

    async def run():
        stop = asyncio.Event()

        first, box = {}, {}

        def on_update(stats):  # the first update comes when the guide starts: both feet stream
            if not first and on_start is not None:
                on_start(box["pair"])
            started_s = first.setdefault("elapsed_s", stats.elapsed_s)
            if stop_at_s is not None and stats.elapsed_s - started_s >= stop_at_s:
                stop.set()

        async with virtual_pair(scenario, time_scale=time_scale, insoles=insoles) as pair:
            box["pair"] = pair
            await record_session(path, protocol="run", duration_s=duration_s, backend=pair.backend, time_scale=time_scale,
                                 source="virtual-radio", stop=stop, on_update=on_update)

    asyncio.run(run())
    return insole.load(path)


def test_both_feet_30_s_at_200_hz_without_faults_arrive_with_no_loss(tmp_path):
    rec = _record(tmp_path / "a.insole", duration_s=30.0, time_scale=10.0)
    assert rec.meta.source == "virtual-radio"
    assert set(rec.sides) == {"left", "right"}
    for side in ("left", "right"):
        q = rec.quality["sides"][side]
        assert q["samples_lost"] == 0 and q["loss_pct"] == 0.0
        assert q["samples_received"] >= 29.0 * 200
    assert rec.meta.devices["left"].firmware_revision and rec.meta.devices["left"].layout


def test_injected_one_percent_loss_is_counted_exactly(tmp_path):
    ins = default_insoles(drop_pct=1.0, seed=9)
    rec = _record(tmp_path / "b.insole", duration_s=30.0, time_scale=10.0, insoles=ins)
    for side in ("left", "right"):
        q = rec.quality["sides"][side]
        assert q["samples_lost"] > 0
        # every lost packet held 8 samples: the loss is a whole number of packets
        assert q["samples_lost"] % 8 == 0
        assert 0.3 < q["loss_pct"] < 2.5


def test_a_dropped_link_reconnects_within_2_s_and_the_gap_is_recorded(tmp_path):
    """The left insole goes out of range for 3 s, 2 s into the recording. It
    keeps sampling (link-loss hold, 1 s transmit queue: firmware_specs
    section 7); the host reconnects with back-off while the right foot keeps
    recording; the samples that did not fit the queue are a gap in the file.
    In real time: the back-off and the reconnection run on the wall clock."""
    from insole.recording.store import read_raw

    outage_s = 3.0
    path = tmp_path / "c.insole"

    def drop(pair):
        left = pair.insoles["left"]
        left.schedule_link_drop(left.now_s() + 2.0, outage_s)

    rec = _record(path, duration_s=8.0, time_scale=1.0, insoles=default_insoles(seed=3), on_start=drop)
    links = [m for m in read_raw(path).markers if m["kind"] == "link" and m["name"] == "left"]
    events = [(m["data"]["event"], m["host_time_ns"] / 1e9) for m in links]
    lost = [t for e, t in events if e == "disconnected"]
    back = [t for e, t in events if e == "connected" and lost and t > lost[0]]
    assert lost and back
    # reachable again after the outage; reconnected within 2 s of that
    assert back[0] - lost[0] < outage_s + 2.0
    gaps = [g for g in rec.quality["gaps"] if g["side"] == "left"]
    assert len(gaps) == 1
    assert outage_s - 1.0 - 0.2 < gaps[0]["duration_s"] < outage_s + 2.0
    assert gaps[0]["missing_samples"] > 0
    assert rec.quality["sides"]["right"]["samples_lost"] == 0  # the other foot kept recording
    f = rec.samples[("left", "force_n")]
    assert f.loc[gaps[0]["start_s"] + 0.05:gaps[0]["end_s"] - 0.05].isna().all()


def test_50_ppm_drift_keeps_the_feet_aligned_within_2_ms_after_10_minutes(tmp_path):
    """Clocks 50 ppm apart (30 ms of divergence after 10 minutes). Sensor p16
    of both feet carries a ramp of TRUE time (conftest.StepScenario), so each
    foot's samples say when they were taken: after 10 minutes the two feet
    must still agree within 2 ms."""
    from conftest import StepScenario

    ins = default_insoles(seed=4)
    ins = {"left": replace(ins["left"], clock_ppm=-25.0), "right": replace(ins["right"], clock_ppm=25.0)}
    path = tmp_path / "d.insole"

    async def run():
        async with virtual_pair(StepScenario(duration_s=700.0, saw_period_s=1.0), time_scale=20.0,
                                insoles=ins, cued=False) as pair:
            await record_session(path, protocol="run", duration_s=620.0, backend=pair.backend, time_scale=20.0,
                                 source="virtual-radio")

    asyncio.run(run())
    rec = insole.load(path)
    # the drift is read from arrival times, which at 20x real time carry 20x the host's scheduling delays
    # (0.2 ms of wall-clock lateness is 4 ms of session time, 6 ppm over the run): it must be found, with its
    # sign and size; the alignment below, from the true-time ramps, is the property that matters
    assert rec.quality["clock_drift_between_feet_ppm"] == pytest.approx(-50.0, abs=15.0)
    s = rec.samples.loc[600.0:615.0]
    ramp_l = s[("left", "p16")].to_numpy(float) / 400.0
    ramp_r = s[("right", "p16")].to_numpy(float) / 400.0
    ok = (np.isfinite(ramp_l) & np.isfinite(ramp_r) & (ramp_l > 0.05) & (ramp_l < 0.95) & (ramp_r > 0.05)
          & (ramp_r < 0.95))
    assert ok.sum() > 1000
    offset_ms = 1000.0 * (ramp_r[ok] - ramp_l[ok])
    assert abs(np.median(offset_ms)) < 2.0


def test_stopping_mid_recording_leaves_a_valid_file(tmp_path):
    """Stopped 10 s into a 60-s run: a valid file with both feet, the run
    phase closed at the stop, the samples up to it."""
    from insole.recording.store import read_raw

    path = tmp_path / "e.insole"
    rec = _record(path, duration_s=60.0, time_scale=5.0, stop_at_s=10.0)
    assert set(rec.sides) == {"left", "right"}
    (run_phase,) = rec.meta.phases
    assert 10.0 <= run_phase.end_s - run_phase.start_s < 60.0  # closed at the stop, not at its planned end
    end_s = next(m["host_time_ns"] for m in read_raw(path).markers if m["kind"] == "phase_end") / 1e9
    for side in rec.sides:
        assert read_raw(path).host_time_ns[side][-1] / 1e9 >= end_s - 5 * 0.1  # 0.1 s of wall time at 5x
        assert rec.quality["sides"][side]["samples_lost"] == 0


def test_the_guided_standing_test_lines_the_phases_up_with_the_person(tmp_path):
    """`record --protocol standing` over the virtual radio: the guide counts
    down, the virtual person (sim.cued) starts the scenario when the
    countdown ends, and the phase markers land where the body does what
    they say; the analysis recovers the set shares."""
    from insole.analysis.analyze import analyze
    from insole.ble.session import GUIDED
    from insole.ble.virtual.pair import person_for

    path, scale = tmp_path / "s.insole", 20.0
    seen = []

    async def run():
        async with virtual_pair(person_for("standing", left_load_pct=57.0, eyes_closed_shift_pp=-4.0, seed=5),
                                time_scale=scale) as pair:
            def on_phase(name, seconds):
                seen.append((name, seconds))
                pair.on_phase(name, seconds)
            await record_session(path, protocol="standing", backend=pair.backend, on_phase=on_phase,
                                 time_scale=scale, source="virtual-radio", extra_meta={"truth": pair.truth()})

    asyncio.run(run())
    assert seen == [(name, seconds) for name, seconds, _ in GUIDED["standing"]]
    rec = insole.load(path)
    assert [p.name for p in rec.meta.phases] == ["lift_left", "lift_right", "eyes_open", "eyes_closed"]
    ph = {p.name: p for p in rec.meta.phases}
    assert ph["lift_left"].duration_s == pytest.approx(3.0) and ph["eyes_closed"].duration_s == pytest.approx(30.0)
    assert ph["lift_right"].start_s - ph["lift_left"].end_s == pytest.approx(1.0)  # the rest between the lifts

    # the left foot leaves the ground when the guide says so (within the
    # clock fit's latency and a sample or two), not before
    t = rec.samples.index.to_numpy()
    left = rec.samples[("left", "force_n")].to_numpy(float)
    before = np.nanmedian(left[(t > ph["lift_left"].start_s - 2.0) & (t < ph["lift_left"].start_s - 0.2)])
    lifted = t[(t > ph["lift_left"].start_s - 2.0) & (left < 0.1 * before)][0]
    assert 0.0 <= lifted - ph["lift_left"].start_s < 0.05

    truth = {p["name"]: p for p in rec.meta.truth["scenario"]["phases"]}
    # the person does the guide's plan, phase for phase
    assert {n: round(p["end_s"] - p["start_s"], 6) for n, p in truth.items()} == {n: round(p.duration_s, 6)
                                                                                 for n, p in ph.items()}
    st = analyze(rec).standing
    for p in st.phases:
        assert p.left_load_pct == pytest.approx(truth[p.name]["left_load_settled_pct"], abs=0.2)
    assert st.eyes_closed_shift_pp == pytest.approx(rec.meta.truth["scenario"]["delta_left_load_pp"], abs=0.3)
    assert "left side is favoured" in st.verdict


@pytest.mark.parametrize("duration_s", [None, 45.0, 100.0])
def test_the_virtual_person_follows_the_guides_plan_phase_for_phase(duration_s):
    from insole.ble.session import guide_plan
    from insole.ble.virtual.pair import person_for

    body = person_for("standing", duration_s)
    plan = [(n, s) for n, s, _ in guide_plan("standing", duration_s) if n != "countdown"]
    t = 0.0
    timeline = []
    for name, seconds in plan:
        if name != "rest":
            timeline.append((name, t, t + seconds))
        t += seconds
    assert [(p.name, p.start_s, p.end_s) for p in body.phases] == timeline


def test_describe_insoles_shows_each_insole_as_it_is_found_and_stops_at_the_pair():
    """`insole scan`'s scan: each insole is handed over (on_row) as soon as it
    is described, and the scan stops once a left and a right are there: with
    an hour's timeout it returns within the test's guard."""
    from insole.ble.link import describe_insoles
    from insole.ble.virtual.pair import still_person

    shown = []

    async def run():
        async with virtual_pair(still_person()) as pair:
            async with asyncio.timeout(60):  # a guard against hanging, far below the scan's timeout
                return await describe_insoles(timeout_s=3600.0, backend=pair.backend, on_row=shown.append)

    rows = asyncio.run(run())
    assert sorted(r["side"] for r in shown) == ["left", "right"]
    assert rows == sorted(shown, key=lambda r: r["side"])  # each shown once, as it came
    assert all(r["firmware_revision"] == "1.0.0-virtual" and r["battery_pct"] is not None for r in rows)


def test_describe_insoles_with_one_foot_in_range_scans_until_the_timeout():
    """Only a right insole advertises: it is shown, and the scan goes on
    (for a left one) until its timeout."""
    from insole.ble.link import describe_insoles
    from insole.ble.virtual.insole import VirtualInsole
    from insole.ble.virtual.pair import still_person
    from insole.ble.virtual.radio import VirtualRadio
    from insole.sim.device import InsoleModel

    shown = []

    async def run():
        from insole.ble.virtual.pair import _backend

        radio = VirtualRadio.current()
        await radio.start()
        async with VirtualInsole(InsoleModel(side="right"), still_person(), radio=radio):
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            rows = await describe_insoles(timeout_s=0.5, backend=_backend(), on_row=shown.append)
            return rows, loop.time() - t0

    rows, took_s = asyncio.run(run())
    assert [r["side"] for r in rows] == [r["side"] for r in shown] == ["right"]
    assert took_s >= 0.5  # it waited for a left insole for the whole timeout



def test_the_simulated_truth_is_computed_when_the_session_ends_not_before_connecting(tmp_path):
    """`insole record --virtual`: the person's truth (about a second for an
    hour-long run) is computed once the recording is over, so it does not
    delay the first sample; the file has it."""
    import time

    from insole.ble.virtual.pair import record_virtual
    from insole.recording.store import read_raw

    class Timed(GaitScenario):
        def truth(self):
            self.calls.append(time.monotonic_ns())
            return super().truth()

    person = Timed(mode="run", duration_s=40.0, seed=1)
    person.calls = []
    path, scale = tmp_path / "t.insole", 10.0
    asyncio.run(record_virtual(path, person, time_scale=scale, protocol="run", duration_s=5.0))
    raw = read_raw(path)
    (called_ns,) = person.calls
    last_ns = max(int(raw.host_time_ns[side][-1]) for side in raw.sides())
    assert called_ns >= raw.meta["host_monotonic_origin_ns"] + last_ns / scale  # after the last packet
    assert raw.meta["truth"]["scenario"]["protocol"] == "run"
