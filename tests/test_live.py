"""The live numbers (insole.ble.live): loss from the sample indices, the
load bar, and a run's cadence and contact-time balance, fed packet by packet
as `insole record` and `insole replay` feed them."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from insole.ble.link import Packet
from insole.ble.live import LiveStats, update_stats
from insole.protocol import encode_packets
from insole.recording.store import read_raw
from insole.sim.gait import GaitScenario
from insole.sim.session import default_insoles, simulate_recording
from insole.sim.standing import StandingScenario


def _feed(path, *, read_every: int | None = None) -> LiveStats:
    raw = read_raw(path)
    events = sorted((int(t), side, p) for side in raw.payloads
                    for t, p in zip(raw.host_time_ns[side].tolist(), raw.payloads[side]))
    stats = LiveStats()
    for side, info in raw.devices.items():
        stats.use_layout(side, info.get("layout"))
    for i, (t, side, payload) in enumerate(events):
        update_stats(stats, Packet(side, t, payload))
        if read_every and i % read_every == 0:
            stats.left_share_pct()  # reading the numbers decodes what is pending
    return stats


@pytest.mark.parametrize("si_pct", [-8.0, 0.0, 6.0])
def test_a_runs_cadence_and_contact_time_balance_match_the_truth(tmp_path, si_pct):
    scenario = GaitScenario(mode="run", duration_s=40.0, contact_time_si_pct=si_pct, seed=4)
    path = simulate_recording(tmp_path / "r.insole", scenario, insoles=default_insoles(seed=2)).path
    stats = _feed(path)
    truth = scenario.truth()
    assert stats.cadence_spm() == pytest.approx(truth["cadence_spm"], rel=0.02)
    # the live contact threshold (10 % of the peak) is not the analysis' 20 N,
    # but the balance between the feet is the set one
    assert stats.contact_time_si_pct() == pytest.approx(truth["symmetry_index_pct"]["contact_time_s"], abs=2.0)
    for side in ("left", "right"):
        assert 150.0 < stats.contact_time_ms(side) < 350.0
        assert stats.loss_pct(side) == 0.0
    # the bar: force (layout-weighted codes) averaged over about 4 s once stepping
    assert stats.left_share_pct() == pytest.approx(50.0 - si_pct / 4.0, abs=4.0)


def test_standing_has_no_cadence_and_shows_the_load_share(tmp_path):
    scenario = StandingScenario(left_load_pct=60.0, lift_s=0.0, eyes_open_s=10.0, eyes_closed_s=0.0,
                                sway_ap_rms_mm=0.0, sway_ml_rms_mm=0.0, seed=1)
    path = simulate_recording(tmp_path / "s.insole", scenario).path
    stats = _feed(path)
    assert stats.cadence_spm() is None and stats.contact_time_si_pct() is None
    assert stats.left_share_pct() == pytest.approx(60.0, abs=0.5)  # still feet: the set share
    bare = LiveStats()  # without the layout the codes are summed as they are
    raw = read_raw(path)
    for side in raw.payloads:
        for t, p in zip(raw.host_time_ns[side].tolist(), raw.payloads[side]):
            update_stats(bare, Packet(side, int(t), p))
    assert bare.left_share_pct() != pytest.approx(stats.left_share_pct(), abs=1e-6)
    stats.use_layout("left", {"side": "left"})  # a damaged layout is ignored, not fatal
    assert stats.force_per_code_n["left"] is None


def test_injected_loss_is_counted_exactly(tmp_path):
    scenario = GaitScenario(mode="run", duration_s=30.0, seed=5)
    rec = simulate_recording(tmp_path / "l.insole", scenario, insoles=default_insoles(drop_pct=2.0, seed=3))
    stats = _feed(rec.path)
    import insole

    quality = insole.load(rec.path).quality["sides"]
    for side in ("left", "right"):
        assert stats.lost[side] > 0
        assert stats.lost[side] * 8 == quality[side]["samples_lost"]


def test_the_sample_index_wraps_past_2_32_without_loss_or_a_time_jump():
    rate, m = 200, 8
    t = np.arange(400) / rate
    raw = np.zeros((400, 16), dtype=np.uint16)
    raw[:, 0] = np.where((t % 0.7) < 0.25, 3000, 0)  # a contact of 250 ms every 700 ms
    first = 2**32 - 100
    payloads = encode_packets(raw, first_index=first, device_time_us=(t * 1e6).astype(np.uint64),
                              sampling_rate_hz=rate, samples_per_packet=m)
    stats = LiveStats()
    for i, p in enumerate(payloads):
        update_stats(stats, Packet("left", i, p))
    assert stats.lost["left"] == 0
    assert stats.next_index["left"] == first + 400
    assert stats.contact_time_ms("left") == pytest.approx(250.0, abs=5.0)
    assert stats.contacts["left"].stride_s() == pytest.approx(0.7, abs=0.01)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=260), max_size=20))
def test_any_bytes_only_count_as_packets(payloads):
    stats = LiveStats()
    for i, p in enumerate(payloads):
        update_stats(stats, Packet("right", i, p))
    assert stats.packets["right"] == len(payloads)
    assert stats.lost["left"] == 0


def test_the_numbers_do_not_depend_on_when_they_are_read(tmp_path):
    """Packets are decoded in batches when the numbers are read: reading
    after every packet, every 7th, or only at the end gives the same numbers."""
    scenario = GaitScenario(mode="run", duration_s=20.0, contact_time_si_pct=-5.0, seed=6)
    path = simulate_recording(tmp_path / "b.insole", scenario, insoles=default_insoles(drop_pct=1.0, seed=1)).path
    results = []
    for every in (1, 7, None):
        s = _feed(path, read_every=every)
        results.append((s.cadence_spm(), s.contact_time_ms("left"), s.contact_time_ms("right"), s.left_share_pct(),
                        s.lost["left"], s.lost["right"]))
    assert results[0] == pytest.approx(results[1], rel=1e-9) and results[0] == pytest.approx(results[2], rel=1e-9)


@pytest.mark.parametrize("left_pct", [50.0, 53.0, 30.0, 100.0])
def test_the_load_bar_reads_without_colour(left_pct):
    """The live view's load bar drawn on a console without colour: the left
    foot's share is the L cells, the right's the R cells, with the even split
    marked, so the sides are told apart by more than their colour."""
    import io
    import re

    from rich.console import Console

    from insole.cli import _live

    stats = LiveStats()
    stats.load = {"left": left_pct, "right": 100.0 - left_pct}
    out = io.StringIO()
    Console(file=out, color_system=None, width=120, force_terminal=False).print(_live(stats))
    text = out.getvalue()
    assert "\x1b" not in text  # no colour, no styles
    (bar,) = [line for line in text.splitlines() if line.startswith("left ")]
    cells = re.search(r" % ([LR|]+) ", bar).group(1)
    assert set(cells) == {"L", "R", "|"} - ({"R"} if left_pct == 100.0 else set())
    width = len(cells) - 1
    assert cells.index("|") == width // 2  # the even split, in the middle
    plain = cells.replace("|", "")
    assert plain == "L" * plain.count("L") + "R" * plain.count("R")  # left then right
    assert plain.count("L") == round(width * left_pct / 100.0)
    assert f"left {left_pct:5.1f} %" in bar and f"{100 - left_pct:5.1f} % right" in bar


def test_the_live_contact_times_are_labelled_an_estimate(tmp_path):
    """The live contact times come from a threshold at a fraction of each
    foot's running peak, not from the analysis' events at 20 N (`insole
    analyze` reads about 15 ms longer): the view says they are an estimate."""
    import io

    from rich.console import Console

    from insole.cli import _live

    scenario = GaitScenario(mode="run", duration_s=20.0, seed=4)
    stats = _feed(simulate_recording(tmp_path / "r.insole", scenario, insoles=default_insoles(seed=2)).path)
    out = io.StringIO()
    Console(file=out, color_system=None, width=160).print(_live(stats))
    (line,) = [line for line in out.getvalue().splitlines() if line.startswith("contact time")]
    assert line.startswith("contact time \u2248 left ") and line.endswith(", estimate")
    assert f"left {stats.contact_time_ms('left'):.0f} ms / right {stats.contact_time_ms('right'):.0f} ms" in line

