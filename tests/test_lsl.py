"""The Lab Streaming Layer outlet (insole/lsl.py, ``replay --lsl``,
``record --lsl``): an inlet in another process receives the stream.

LSL finds streams by multicast; the tests keep it on this machine
(``ResolveScope = machine``, no IPv6) through an ``lsl_api.cfg`` named by
``LSLAPICFG``, so they also run without a network.
"""

from __future__ import annotations

import fcntl
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

pylsl = pytest.importorskip("pylsl")  # the tests need liblsl: pip install pylsl

from insole import load
from insole.lsl import CHANNELS, LiveDecoder, channel_labels, channel_units, frame_block, replay_to_lsl
from insole.recording.store import PacketBatch, PacketTail, RecordingWriter, read_raw
from insole.sim import make_scenario
from insole.sim.session import simulate_recording

LSL_CFG = "[ports]\nIPv6 = disable\n\n[multicast]\nResolveScope = machine\n"

#: the inlet: resolve name=insole, pull every sample with its timestamp until
#: the stream has been quiet for QUIET s (or is lost), write an .npz
INLET = r'''
import sys, time
import numpy as np
import pylsl
out, resolve_s, quiet_s = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
streams = pylsl.resolve_byprop("name", "insole", 1, resolve_s)
if not streams:
    sys.exit(3)
inlet = pylsl.StreamInlet(streams[0], max_buflen=60, recover=False)
info = inlet.info(timeout=10.0)
inlet.open_stream(timeout=10.0)
print("connected", flush=True)
chunks, stamps, last = [], [], time.monotonic()
# quiet_s counts from the last sample once samples flow; the first may take long on a busy machine
while time.monotonic() - last < (quiet_s if stamps else 120.0):
    try:
        data, ts = inlet.pull_chunk(timeout=0.2, max_samples=4096)
    except pylsl.util.LostError:
        break
    if ts:
        chunks.append(np.asarray(data, dtype=np.float32))
        stamps.extend(ts)
        last = time.monotonic()
np.savez(out, data=np.concatenate(chunks) if chunks else np.zeros((0, info.channel_count()), np.float32),
         timestamps=np.asarray(stamps, dtype=np.float64), xml=np.array(info.as_xml()),
         rate=info.nominal_srate(), name=info.name(), type=info.type())
'''


@pytest.fixture(autouse=True)
def one_stream_at_a_time():
    """Every test publishes a stream named insole (its name is fixed): tests on
    other xdist workers would resolve each other's. A lock file shared by the
    workers lets one LSL test run at a time."""
    with open(Path(tempfile.gettempdir()) / "insole-lsl-tests.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@pytest.fixture(scope="module")
def lsl_env(tmp_path_factory):
    """LSLAPICFG for this process (before liblsl reads its config) and for the subprocesses."""
    cfg = tmp_path_factory.mktemp("lsl") / "lsl_api.cfg"
    cfg.write_text(LSL_CFG)
    old = os.environ.get("LSLAPICFG")
    os.environ["LSLAPICFG"] = str(cfg)
    yield {**os.environ, "LSLAPICFG": str(cfg), "MPLBACKEND": "Agg"}
    if old is None:
        os.environ.pop("LSLAPICFG", None)
    else:
        os.environ["LSLAPICFG"] = old


@pytest.fixture(scope="module")
def walk(tmp_path_factory):
    path = tmp_path_factory.mktemp("lslwalk") / "walk.insole"
    simulate_recording(path, make_scenario("walk", duration_s=5))
    return path


def _inlet(tmp_path, env, *, quiet_s=2.0):
    script = tmp_path / "inlet.py"
    script.write_text(INLET)
    out = tmp_path / "got.npz"
    proc = subprocess.Popen([sys.executable, str(script), str(out), "30", str(quiet_s)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return proc, out


def _received(proc, out) -> dict:
    proc.communicate(timeout=120)  # a guard against a hang, not a speed budget
    assert proc.returncode == 0, "the inlet did not find the stream insole"
    return dict(np.load(out))


def _channels(xml: str) -> list[dict[str, str]]:
    root = ET.fromstring(xml)
    return [{c.tag: c.text for c in ch} for ch in root.find("desc/channels")]


def _check_timestamps(got: dict, time_s: np.ndarray, speed: float) -> None:
    ts = got["timestamps"]
    assert ts.size == time_s.size
    # differences between consecutive timestamps = time_s differences / speed (within 1 ms)
    np.testing.assert_allclose(np.diff(ts), np.diff(time_s) / speed, atol=1e-3)
    np.testing.assert_allclose(ts - ts[0], (time_s - time_s[0]) / speed, atol=1e-3)


def test_channel_list():
    labels = channel_labels()
    assert len(labels) == 38 and labels[:4] == ("left_force_n", "left_cop_x_mm", "left_cop_y_mm", "left_p01")
    assert labels[18] == "left_p16" and labels[19] == "right_force_n" and labels[-1] == "right_p16"
    assert channel_units()[:4] == ("N", "mm", "mm", "kPa") and set(channel_units()[3:19]) == {"kPa"}


def test_stream_info_desc(walk, lsl_env):
    from insole.lsl import stream_info

    rec = load(walk)
    info = stream_info(rec.meta)
    assert (info.name(), info.type(), info.channel_count()) == ("insole", "Pressure", 38)
    assert info.nominal_srate() == rec.meta.sampling_rate_hz and info.channel_format() == pylsl.cf_float32
    chans = _channels(info.as_xml())
    assert [c["label"] for c in chans] == list(channel_labels())
    assert [c["unit"] for c in chans] == list(channel_units())
    assert [c["side"] for c in chans] == ["left"] * 19 + ["right"] * 19
    devices = ET.fromstring(info.as_xml()).find("desc/devices")
    got = {d.find("side").text: d for d in devices}
    for side, dev in rec.meta.devices.items():
        assert got[side].find("firmware_revision").text == dev.firmware_revision
        assert (got[side].find("serial").text or "") == dev.serial
        assert (got[side].find("model").text or "") == dev.model


def test_replay_to_lsl_reaches_an_inlet_in_another_process(walk, lsl_env, tmp_path):
    rec = load(walk)
    proc, out = _inlet(tmp_path, lsl_env)
    sent = replay_to_lsl(rec, speed=5.0, wait_for_consumer_s=60.0)
    got = _received(proc, out)
    assert sent.consumer and sent.n_samples == len(rec.samples)
    assert got["data"].shape == (len(rec.samples), 38)
    np.testing.assert_array_equal(got["data"], frame_block(rec.samples))  # NaN rows sent as NaN
    assert str(got["name"]) == "insole" and float(got["rate"]) == rec.meta.sampling_rate_hz
    assert [c["label"] for c in _channels(str(got["xml"]))] == list(channel_labels())
    _check_timestamps(got, rec.samples.index.to_numpy(), 5.0)


def test_cli_replay_lsl(walk, lsl_env, tmp_path):
    rec = load(walk)
    proc, out = _inlet(tmp_path, lsl_env)
    cli = subprocess.run([sys.executable, "-m", "insole", "replay", str(walk), "--lsl", "--speed", "10",
                          "--lsl-wait", "60"], env=lsl_env, capture_output=True, text=True, timeout=120)
    assert cli.returncode == 0, cli.stderr
    assert f"published {len(rec.samples)} samples on LSL" in cli.stdout
    got = _received(proc, out)
    np.testing.assert_array_equal(got["data"], frame_block(rec.samples))
    _check_timestamps(got, rec.samples.index.to_numpy(), 10.0)


def _events(raw) -> list[tuple[int, str, int]]:
    """(host_time_ns, side, index) of every packet, in arrival order."""
    return sorted((int(t), side, i) for side in raw.payloads for i, t in enumerate(raw.host_time_ns[side]))


def _batch(raw, events) -> PacketBatch:
    return PacketBatch(side=np.array([s for _, s, _ in events], dtype=object),
                       host_time_ns=np.array([t for t, _, _ in events], dtype=np.int64),
                       payloads=[raw.payloads[s][i] for _, s, i in events])


def _fed(raw, events, *, step_ns: int = 100_000_000, **options):
    """The rows a LiveDecoder gives when fed ``events`` in batches of
    ``step_ns`` of arrival (the recorder commits every 0.1 s)."""
    live = LiveDecoder(raw.meta, raw.devices, **options)
    t_ns = np.array([e[0] for e in events])
    edges = np.searchsorted(t_ns, np.arange(0, t_ns[-1] + step_ns, step_ns), side="right").tolist() + [len(events)]
    times, blocks = [], []
    for k, (lo, hi) in enumerate(zip(edges[:-1], edges[1:])):
        live.add(_batch(raw, events[lo:hi]))
        t, v = live.rows(final=k == len(edges) - 2)
        times.append(t)
        blocks.append(v)
    return live, np.concatenate(times), np.concatenate(blocks)


def test_live_decoder_fed_at_once_is_the_decode_stage(walk):
    """One decoder: all the packets at once give exactly the recording's frame."""
    rec, raw = load(walk), read_raw(walk)
    live = LiveDecoder(raw.meta, raw.devices)
    live.add(_batch(raw, _events(raw)))
    t, v = live.rows(final=True)
    np.testing.assert_array_equal(t, rec.samples.index.to_numpy())
    np.testing.assert_array_equal(v, frame_block(rec.samples))
    assert live.rows(final=True)[0].size == 0  # every row once


def test_live_decoder_in_batches_matches_the_final_decode(walk):
    """Fed as the recorder commits, the rows are the recording's grid, each
    once; the values differ only where a row was given before later packets
    refined the clock fit (a shift of a fraction of a ms: a few N where the
    force changes fastest, nothing on a foot at rest). A row one grid step
    (5 ms) off would differ by hundreds of N at heel strike."""
    rec, raw = load(walk), read_raw(walk)
    _, t, v = _fed(raw, _events(raw))
    np.testing.assert_allclose(t, rec.samples.index.to_numpy(), atol=1e-9)
    ref = frame_block(rec.samples)
    force = np.s_[:, [0, 19]]
    assert (np.isfinite(ref[force]) == np.isfinite(v[force])).mean() > 0.99  # gaps and unloaded edges alike
    ok = np.isfinite(ref[force]) & np.isfinite(v[force])
    diff = np.abs(v[force][ok] - ref[force][ok])
    peak = np.nanmax(ref[force])
    assert np.median(diff) < 0.5 and np.percentile(diff, 99) < 0.02 * peak  # N
    assert list(CHANNELS[:3]) == ["force_n", "cop_x_mm", "cop_y_mm"]


def test_live_decoder_keeps_a_window(walk):
    """The decode's cost per update is bounded: it keeps only the last
    window_s of packets, and still gives every row once, regularly spaced."""
    rec, raw = load(walk), read_raw(walk)
    live, t, v = _fed(raw, _events(raw), window_s=2.5)
    held = np.concatenate(list(live.source.host_time_ns.values()))
    assert np.ptp(held) <= 2.5e9 and held.size < 0.7 * sum(map(len, raw.payloads.values()))
    np.testing.assert_allclose(t, rec.samples.index.to_numpy(), atol=1e-9)
    assert np.isfinite(v[:, 0]).mean() > 0.9


def test_packet_tail_reads_a_file_being_written(walk, tmp_path):
    """PacketTail gives each committed packet once, in file order, and never
    keeps the file open (the writer's close would fail: database is locked)."""
    raw = read_raw(walk)
    path = tmp_path / "growing.insole"
    tail = PacketTail(path)
    assert len(tail.new_packets()) == 0 and tail.meta() == {}  # not created yet
    n = 50
    with RecordingWriter(path, meta={"sampling_rate_hz": 200.0}) as w:
        w.set_device("left", {"name": "L"})
        w.add_packets("left", raw.host_time_ns["left"][:n], raw.payloads["left"][:n])
        w.commit()
        assert tail.meta()["sampling_rate_hz"] == 200.0 and tail.devices() == {"left": {"name": "L"}}
        got = tail.new_packets()
        assert list(got.side) == ["left"] * n and got.payloads == raw.payloads["left"][:n]
        np.testing.assert_array_equal(got.host_time_ns, raw.host_time_ns["left"][:n])
        w.add_packets("right", raw.host_time_ns["right"][:3], raw.payloads["right"][:3])
        w.add_packets("left", raw.host_time_ns["left"][n:n + 2], raw.payloads["left"][n:n + 2])
        assert len(tail.new_packets()) == 0  # not committed yet
        w.commit()
        got = tail.new_packets()
        assert list(got.side) == ["right"] * 3 + ["left"] * 2
        assert got.of_side("left")[1] == raw.payloads["left"][n:n + 2]
    assert len(tail.new_packets()) == 0  # closed without "database is locked"
    assert len(read_raw(path).payloads["left"]) == n + 2


def test_record_virtual_lsl(lsl_env, tmp_path):
    """``record --virtual --lsl``: the recording's rows are published (up to
    a row at either end), on the grid; an inlet gets them from when it connects."""
    proc, out = _inlet(tmp_path, lsl_env, quiet_s=3.0)
    path = tmp_path / "live.insole"
    cli = subprocess.run([sys.executable, "-m", "insole", "record", "--protocol", "run", "--duration", "8",
                          "--virtual", "--lsl", "-o", str(path)], env=lsl_env, capture_output=True, text=True,
                         timeout=120)
    assert cli.returncode == 0, cli.stderr
    rec = load(path)
    published = int(re.search(r"published (\d+) samples on LSL", cli.stdout).group(1))
    # the live clock fit may place the first or last sample across a grid point from where the final fit does
    assert abs(published - len(rec.samples)) <= 2
    got = _received(proc, out)
    ts = got["timestamps"]
    assert 0 < ts.size <= len(rec.samples)
    np.testing.assert_allclose(np.diff(ts), 1.0 / rec.meta.sampling_rate_hz, atol=1e-3)


def test_missing_liblsl_is_one_line_exit_2(walk, monkeypatch, capsys):
    from insole.cli import main

    monkeypatch.setitem(sys.modules, "pylsl", None)  # import pylsl raises ImportError
    assert main(["replay", str(walk), "--lsl"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("insole: error: --lsl needs pylsl") and "\n" not in err
