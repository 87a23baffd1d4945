"""The virtual insole (insole/ble/virtual/insole.py) against insole protocol v1,
driven by a plain Bumble central on the virtual radio (no bleak, no mocks).

Coroutines run with asyncio.run inside plain test functions. Simulated time
runs 20-400 x faster than the wall clock, so the whole file takes a few
seconds. At such speeds a late wake-up of the event loop (a busy machine)
is seconds of simulated time, so the tests assert what holds at any speed:
counts bounded by the insole's own clock read around each command, the
insole's own records (packets sent, its transmit queue, the sample clock of
the data), and waits for a state rather than for a time (with timeouts
that only guard against a hang).
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("bumble")

from bumble.att import ATT_Error  # noqa: E402
from bumble.core import UUID  # noqa: E402
from bumble.device import Peer  # noqa: E402

from conftest import StepScenario  # noqa: E402
from insole.ble.virtual.insole import VirtualInsole, advertising_payload  # noqa: E402
from insole.ble.virtual.radio import VirtualRadio  # noqa: E402
from insole.constants import (  # noqa: E402
    BATTERY_LEVEL_UUID,
    CONTROL_POINT_UUID,
    DATA_CHAR_UUID,
    DEVICE_INFO_CHARS,
    LAYOUT_CHAR_UUID,
    STATUS_CHAR_UUID,
)
from insole.protocol import Opcode, decode_layout, decode_packets, decode_status, encode_command  # noqa: E402
from insole.sim.device import InsoleModel, sample_packets  # noqa: E402
from insole.sim.session import default_insoles  # noqa: E402

VECTORS = json.loads((Path(__file__).parents[1] / "firmware_specs" / "test_vectors.json").read_text())
START = encode_command(Opcode.START_STREAM)
STOP = encode_command(Opcode.STOP_STREAM)
RATE_200 = encode_command(Opcode.SET_RATE, 200)


def run(coro_fn, *args):
    """Run a test coroutine; fail on any exception the loop saw but nobody retrieved."""
    problems = []

    async def main():
        asyncio.get_running_loop().set_exception_handler(lambda loop, ctx: problems.append(ctx))
        return await coro_fn(*args)

    result = asyncio.run(main())
    assert not problems, problems
    return result


class Central:
    """The host side, written directly against Bumble."""

    def __init__(self, radio: VirtualRadio) -> None:
        self.radio = radio
        self.device = radio.central
        self.adverts: list[tuple[float, str, bytes]] = []
        self.device.on("advertisement", self._on_adv)

    def _on_adv(self, adv) -> None:
        self.adverts.append((time.perf_counter(), str(adv.address), bytes(adv.data_bytes)))

    async def wait_advert(self, insole: VirtualInsole, *, after: float = 0.0, timeout: float = 30.0):
        """First advertisement of ``insole`` received after perf_counter ``after``."""
        await self.device.start_scanning()
        try:
            deadline = time.perf_counter() + timeout
            while time.perf_counter() < deadline:
                for t, addr, data in self.adverts:
                    if t >= after and addr.startswith(insole.address):
                        return t, data
                await asyncio.sleep(0.002)
            raise AssertionError(f"no advertisement from {insole.name}")
        finally:
            await self.device.stop_scanning()

    async def connect(self, insole: VirtualInsole, *, mtu: int | None = 247, after: float = 0.0) -> "Link":
        _, _ = await self.wait_advert(insole, after=after)
        conn = await self.device.connect(insole.address)
        link = Link(conn)
        if mtu:
            assert await link.peer.request_mtu(mtu) == mtu
        await link.peer.discover_services()
        await link.peer.discover_characteristics()
        return link


class Link:
    def __init__(self, conn) -> None:
        self.conn = conn
        self.peer = Peer(conn)
        self.data: list[bytes] = []
        self.status: list[bytes] = []
        self.battery: list[bytes] = []
        self.disconnected = asyncio.get_running_loop().create_future()
        conn.on("disconnection", lambda reason: self.disconnected.done() or self.disconnected.set_result(reason))

    def char(self, uuid: str):
        return self.peer.get_characteristics_by_uuid(UUID(uuid))[0]

    async def read(self, uuid: str) -> bytes:
        return bytes(await self.peer.read_value(self.char(uuid)))

    async def write(self, payload: bytes) -> None:
        await self.peer.write_value(self.char(CONTROL_POINT_UUID), payload, with_response=True)

    async def write_error(self, payload: bytes) -> int | None:
        try:
            await self.write(payload)
        except ATT_Error as exc:
            return exc.error_code
        return None

    async def subscribe(self) -> None:
        await self.peer.subscribe(self.char(DATA_CHAR_UUID), lambda v: self.data.append(bytes(v)))
        await self.peer.subscribe(self.char(STATUS_CHAR_UUID), lambda v: self.status.append(bytes(v)))
        await self.peer.subscribe(self.char(BATTERY_LEVEL_UUID), lambda v: self.battery.append(bytes(v)))


async def until(insole: VirtualInsole, t_s: float) -> None:
    """Sleep until the insole's true time reaches t_s (or later: the loop may wake late)."""
    await asyncio.sleep(max(0.0, (t_s - insole.now_s()) / insole.time_scale))
    while insole.now_s() < t_s:  # the loop's clock has a coarse resolution on some systems
        await asyncio.sleep(0.001)


async def drained(insole: VirtualInsole, received, *, timeout_s: float = 30.0) -> None:
    """Wait until the insole has sent every packet it queued and the central
    has received all it sent (``received()``: how many of them); the timeout
    only guards against a hang."""
    async with asyncio.timeout(timeout_s):
        while insole.sampling or insole.queued_packets or received() < insole.packets_sent:
            await asyncio.sleep(0.002)


async def wait_for_state(predicate, *, timeout_s: float = 30.0) -> None:
    """Wait until ``predicate()`` holds (a hang guard, not a time budget)."""
    async with asyncio.timeout(timeout_s):
        while not predicate():
            await asyncio.sleep(0.001)


def true_time_s(model: InsoleModel, b) -> np.ndarray:
    """True time of each decoded sample, from its device time (the insole's
    sample clock; no TIME_SYNC), s."""
    k = (b.device_time_us.astype(np.int64) // 5000)[b.sample_packet] + (
        b.sample_index - b.first_index[b.sample_packet])
    return model.sample_times_s(k)


async def powered(model: InsoleModel, *, time_scale: float, duration_s: float = 60.0, **kw):
    radio = VirtualRadio.current()
    await radio.start()
    insole = VirtualInsole(model, StepScenario(duration_s=duration_s), radio=radio, time_scale=time_scale, **kw)
    await insole.start()
    return radio, insole


def test_advertising_payload_is_the_spec_vector():
    async def body():
        radio = VirtualRadio.current()
        await radio.start()
        central = Central(radio)
        insoles = [VirtualInsole(InsoleModel(side=side), StepScenario(), radio=radio, time_scale=20)
                   for side in ("left", "right")]
        for ins in insoles:
            await ins.start()
        try:
            for ins in insoles:
                vec = next(v for v in VECTORS["advertising"] if v["side"] == ins.side)
                _, data = await central.wait_advert(ins)
                assert len(data) == 31
                assert data.hex() == vec["hex"] == advertising_payload(ins.side).hex()
        finally:
            for ins in insoles:
                await ins.stop()

    run(body)


def test_gatt_profile_and_5_s_stream_at_200_hz():
    model = InsoleModel(side="left", first_index=41_000, start_s=0.05, clock_ppm=-12.0, noise_kpa=0.3,
                        battery_start_pct=87.0, seed=3)

    async def body():
        radio, ins = await powered(model, time_scale=20.0)
        try:
            link = await Central(radio).connect(ins)
            assert link.conn.att_mtu == 247
            assert decode_layout(await link.read(LAYOUT_CHAR_UUID)) == model.layout
            info = {k: (await link.read(u)).decode() for k, u in DEVICE_INFO_CHARS.items()}
            assert info["firmware_revision"] == "1.0.0-virtual" and info["serial"] == ins.serial
            assert all(0 < len(v.encode()) <= 20 for v in info.values())
            assert await link.read(BATTERY_LEVEL_UUID) == bytes([87])
            status = decode_status(await link.read(STATUS_CHAR_UUID))
            assert (status.battery_pct, status.sampling_rate_hz, status.samples_per_packet, status.streaming) == \
                (87, 100, 4, False)  # power-on: 100 Hz (spec section 11)
            await link.subscribe()
            await link.write(RATE_200)
            assert decode_status(await link.read(STATUS_CHAR_UUID)).samples_per_packet == 8
            t0 = ins.now_s()
            await link.write(START)
            t1 = ins.now_s()
            assert ins.streaming and decode_status(await link.read(STATUS_CHAR_UUID)).streaming
            await link.write(START)  # already streaming: success, no effect
            await until(ins, t0 + 5.0)
            t2 = ins.now_s()
            await link.write(STOP)
            t3 = ins.now_s()
            await drained(ins, lambda: len(link.data))
            return link.data, [decode_status(s) for s in link.status], (t0, t1, t2, t3)
        finally:
            await ins.stop()

    payloads, statuses, (t0, t1, t2, t3) = run(body)
    b = decode_packets(payloads)
    assert (b.reasons == 0).all()
    idx = b.sample_index
    assert idx[0] == model.first_index
    assert (np.diff(idx) == 1).all()
    # 5 s at 200 Hz and then some: sampling starts within a packet (8 samples)
    # of the START and ends at the STOP, each accepted while its write was under way
    assert idx.size >= 5.0 * 200 - 8
    assert (t2 - t1) * 200 - 8 - 1 <= idx.size <= (t3 - t0) * 200 + 1
    assert (b.count[:-1] == 8).all() and 1 <= b.count[-1] <= 8
    assert (b.sampling_rate_hz == 200).all() and not (b.flags & 0x18).any()
    # one sampling run: device time = index x 5000 us + a constant
    assert np.unique(b.device_time_us.astype(np.int64) - (b.first_index - idx[0]) * 5000).size == 1
    # the same content as the file simulator, tick by tick (device time names the tick)
    k = (b.device_time_us.astype(np.int64) // 5000)[b.sample_packet] + (idx - b.first_index[b.sample_packet])
    assert (b.raw == model.codes(StepScenario(duration_s=60.0), k)).all()
    sim = decode_packets(sample_packets(model, StepScenario(duration_s=60.0), duration_s=15.0).payloads)
    full = idx.size - int(b.count[-1])  # the simulator has no STOP flush
    assert (sim.raw[k[:full]] == b.raw[:full]).all()
    assert [s.streaming for s in statuses][-1] is False and any(s.streaming for s in statuses)


def test_control_point_errors_and_states():
    async def body():
        radio, ins = await powered(InsoleModel(side="right"), time_scale=20.0, request_mtu=None)
        central = Central(radio)
        try:
            link = await central.connect(ins, mtu=None)
            assert link.conn.att_mtu == 23
            gap_name = link.peer.get_characteristics_by_uuid(UUID.from_16_bits(0x2A00))[0]
            assert bytes(await link.peer.read_value(gap_name)) == b"insole-R"
            with pytest.raises(ATT_Error) as exc:
                await link.read(DATA_CHAR_UUID)
            assert exc.value.error_code == 0x02  # the data characteristic is not readable
            assert await link.write_error(START) == 0x82  # notifications not enabled
            await link.subscribe()
            assert await link.write_error(START) == 0x82  # MTU 23 cannot carry a sample
            assert decode_status(await link.read(STATUS_CHAR_UUID)).samples_per_packet == 0
            assert await link.peer.request_mtu(247) == 247
            # Write Without Response is not supported: ignored, nothing starts
            await link.peer.write_value(link.char(CONTROL_POINT_UUID), START, with_response=False)
            await until(ins, ins.now_s() + 0.2)
            assert not ins.streaming and not link.data
            codes = {
                "unknown": await link.write_error(bytes([0x09])),
                "zero opcode": await link.write_error(bytes([0x00, 0x01])),
                "empty": await link.write_error(b""),
                "bad rate": await link.write_error(bytes([0x03, 0x03])),
                "short": await link.write_error(bytes([0x04, 0xE8])),
                "extra": await link.write_error(bytes([0x01, 0x00])),
                "imu on, no IMU": await link.write_error(bytes([0x07, 0x01])),
                "imu off": await link.write_error(bytes([0x07, 0x00])),
                "identify": await link.write_error(bytes([0x06, 0x05])),
                "stop idle": await link.write_error(STOP),
                "rate idle": await link.write_error(RATE_200),
                "start": await link.write_error(START),
                "rate streaming": await link.write_error(encode_command(Opcode.SET_RATE, 100)),
                "imu streaming": await link.write_error(bytes([0x07, 0x00])),
                "zero streaming": await link.write_error(encode_command(Opcode.ZERO, 1000)),
                "sync streaming": await link.write_error(encode_command(Opcode.TIME_SYNC, 5)),
                "bad rate streaming": await link.write_error(bytes([0x03, 0x07])),
                "stop": await link.write_error(STOP),
                "zero": await link.write_error(encode_command(Opcode.ZERO, 500)),
                "start zeroing": await link.write_error(START),
                "zero zeroing": await link.write_error(encode_command(Opcode.ZERO, 500)),
            }
            await until(ins, ins.now_s() + 0.7)
            zeroed = decode_status(await link.read(STATUS_CHAR_UUID)).zeroed
            t_sync = ins.now_s()
            await link.write(encode_command(Opcode.TIME_SYNC, 1_732_190_400_000_000))
            n0 = len(link.data)
            await link.write(START)
            t_started = ins.now_s()
            await until(ins, ins.now_s() + 0.5)
            await link.write(STOP)
            await drained(ins, lambda: len(link.data))
            after = decode_packets(link.data[n0:])
            return codes, zeroed, after, link.status, t_started - t_sync
        finally:
            await ins.stop()

    codes, zeroed, after, statuses, sync_to_start_s = run(body)
    assert codes == {
        "unknown": 0x80, "zero opcode": 0x80, "empty": 0x81, "bad rate": 0x81, "short": 0x81, "extra": 0x81,
        "imu on, no IMU": 0x81, "imu off": None, "identify": None, "stop idle": None, "rate idle": None,
        "start": None, "rate streaming": 0x82, "imu streaming": 0x82, "zero streaming": 0x82,
        "sync streaming": 0x82, "bad rate streaming": 0x81, "stop": None, "zero": None, "start zeroing": 0x82,
        "zero zeroing": 0x82,
    }
    assert zeroed
    assert any(decode_status(s).zeroed for s in statuses)  # Status notified when ZERO is done
    # zeroed + time synced flags; device time continues from the synced value
    assert ((after.flags & 0x18) == 0x18).all()
    t = after.device_time_us.astype(np.int64) - 1_732_190_400_000_000
    # the first sample comes after the sync, within a packet (8 x 5 ms) of the START
    assert 0 < t[0] <= (sync_to_start_s + 0.040) * 1e6 + 10 and (np.diff(t) == 40_000).all()
    # the index continues across STOP / START
    assert (np.diff(after.sample_index) == 1).all()


def test_random_loss_gaps_are_exactly_the_dropped_packets():
    model = InsoleModel(side="left", drop_pct=1.0, seed=7, first_index=5)

    async def body():
        radio, ins = await powered(model, time_scale=50.0)
        try:
            link = await Central(radio).connect(ins)
            await link.subscribe()
            await link.write(RATE_200)
            await link.write(START)
            await until(ins, 20.0)
            await link.write(STOP)
            await drained(ins, lambda: len(link.data))
            return link.data, ins.packets_lost, ins.packets_sent
        finally:
            await ins.stop()

    payloads, lost, sent = run(body)
    b = decode_packets(payloads)
    assert len(payloads) == sent and lost > 0
    gaps = np.diff(b.sample_index) - 1
    assert (gaps % 8 == 0).all()
    assert gaps.sum() == lost * 8
    # the same packets as the file simulator drops (same seed, same random stream)
    k = b.device_time_us.astype(np.int64) // 5000  # grid tick of each packet's first sample
    sim = sample_packets(model, StepScenario(duration_s=60.0), duration_s=60.0)
    sim_lost = set(sim.lost_packets.tolist())
    got = set((k // 8).tolist())
    span = set(range(int(k[0] // 8), int(k[-1] // 8) + 1))
    assert span - got == span & sim_lost


def test_link_drop_disconnects_readvertises_and_resumes_with_exact_gap():
    model = InsoleModel(side="right", first_index=100)

    async def body():
        radio, ins = await powered(model, time_scale=20.0)
        central = Central(radio)
        try:
            link = await central.connect(ins)
            await link.subscribe()
            await link.write(RATE_200)
            await link.write(START)
            # out of range for 1 s, 2 s into the stream (of true time, whatever the set-up took)
            drop_s = ins.now_s() + 2.0
            ins.schedule_link_drop(drop_s, 1.0)
            reason = await asyncio.wait_for(link.disconnected, 30.0)  # a guard against hanging
            t_lost = ins.now_s()
            assert ins.sampling and not ins.streaming  # link-loss hold
            t_adv, _ = await central.wait_advert(ins, after=time.perf_counter())
            t_back = ins.now_s() - (time.perf_counter() - t_adv) * ins.time_scale
            link2 = await central.connect(ins, after=t_adv)
            await link2.subscribe()
            await link2.write(RATE_200)  # the host re-sends its settings (same rate: the run goes on)
            await link2.write(START)
            # the queued second, then fresh samples (however long the reconnection took)
            await wait_for_state(lambda: len(link2.data) >= 25 + 10)
            await link2.write(STOP)
            sent_before = len(link.data)  # nothing was in flight: the link-loss drop sends up to its moment
            await drained(ins, lambda: sent_before + len(link2.data))
            status = decode_status(await link2.read(STATUS_CHAR_UUID))
            return reason, t_lost - drop_s, t_back - drop_s, link.data, link2.data, status, drop_s
        finally:
            await ins.stop()

    reason, t_lost, t_back, before, after, status, drop_s = run(body)
    assert reason == 0x08  # connection timeout, as a real link loss
    assert t_lost >= 0.0
    assert t_back >= 1.0  # unreachable for 1 s, then advertising again (the advert was seen)
    b1, b2 = decode_packets(before), decode_packets(after)
    # the link dropped at its time on the insole's clock, whenever the loop
    # noticed: the first link carried the samples up to then (less the latency and a packet)
    t1 = true_time_s(model, b1) - drop_s
    assert -0.2 < t1[-1] <= 0.0
    # and the samples after the gap were taken once the insole was back in range
    t2 = true_time_s(model, b2) - drop_s
    i1, i2 = b1.sample_index, b2.sample_index
    assert i1[0] == 100 and (np.diff(i1) == 1).all()
    # what was in flight at the disconnection and the first second of the
    # outage wait in the transmit queue and arrive right after the reconnection
    assert i2[0] == i1[-1] + 1
    steps = np.diff(i2)
    (where,) = np.flatnonzero(steps != 1)  # then one gap: the samples discarded on the device
    gap = int(steps[where] - 1)
    assert gap > 0 and gap == status.device_dropped_samples
    assert i1.size % 8 == 0 and where + 1 == 25 * 8  # 1 s of packets at 200 Hz, MTU 247
    assert t2[where + 1] >= 1.0
    # one sampling run throughout: device time and index stay locked
    both = np.concatenate([b1.device_time_us.astype(np.int64) - b1.first_index * 5000,
                           b2.device_time_us.astype(np.int64) - b2.first_index * 5000])
    assert np.unique(both).size == 1


def test_host_disconnect_readvertises_and_hold_ends_after_30_s():
    """The host drops the link: the insole advertises again at once and keeps
    sampling for the 30-s link-loss hold (true time), keeping 1 s of packets
    for the host; then it stops sampling. Checked on the insole's own sample
    clock (the data), so at any speed of the loop."""
    model = InsoleModel(side="left", first_index=0)

    async def body():
        radio, ins = await powered(model, time_scale=100.0, duration_s=120.0)
        central = Central(radio)
        try:
            link = await central.connect(ins)
            await link.subscribe()
            await link.write(RATE_200)
            await link.write(START)
            await until(ins, ins.now_s() + 1.0)
            t_before = ins.now_s()
            await link.conn.disconnect()
            await wait_for_state(lambda: not ins.connected)  # the insole has seen it too
            t_off = ins.now_s()
            sent_at_off = ins.packets_sent  # nothing more leaves until a host is back
            assert ins.sampling and not ins.streaming  # the link-loss hold
            await central.wait_advert(ins, after=time.perf_counter())  # advertising again
            await until(ins, t_off + 30.0)
            await wait_for_state(lambda: not ins.sampling)  # the hold ends (the loop may see it late)
            link2 = await central.connect(ins)
            await link2.subscribe()
            await link2.write(START)  # no SET_RATE: the rate is kept until power-off
            await until(ins, ins.now_s() + 1.0)
            await link2.write(STOP)
            await drained(ins, lambda: sent_at_off + len(link2.data))
            status = decode_status(await link2.read(STATUS_CHAR_UUID))
            return link.data, link2.data, status, sent_at_off, (t_before, t_off)
        finally:
            await ins.stop()

    first, second, status, sent_at_off, (t_before, t_off) = run(body)
    b1, b2 = decode_packets(first), decode_packets(second)
    assert (np.diff(b1.sample_index) == 1).all()
    # notifications in flight when the host dropped the link are lost: whole
    # packets, exactly those the insole had sent and the host did not get
    in_flight = int(b2.sample_index[0] - b1.sample_index[-1] - 1)
    assert in_flight == 8 * (sent_at_off - len(first))
    # then the queued second of packets, then the samples the queue could not
    # hold, then the index continues without a gap into the new run (it only
    # advances while sampling)
    steps = np.diff(b2.sample_index)
    (where,) = np.flatnonzero(steps != 1)
    assert where + 1 == 25 * 8  # the transmit queue: 1 s of packets
    dropped = int(steps[where] - 1)
    assert dropped == status.device_dropped_samples
    assert (b2.sampling_rate_hz == 200).all()
    # sampling ended 30 s (the hold) after the disconnection, on the insole's
    # sample clock: the last sample taken is the one after the queue's last,
    # plus the samples dropped
    t2 = true_time_s(model, b2)
    t_last_sampled = t2[where] + dropped / 200.0
    assert t_before - 0.005 <= t_last_sampled - 30.0 <= t_off
    # a new sampling run: the device time jumps although the index does not
    offset = b2.device_time_us.astype(np.int64) - b2.first_index * 5000
    run_of = offset != offset[0]
    assert run_of.any() and np.unique(offset[run_of]).size == 1


def test_battery_notified_every_simulated_minute():
    model = InsoleModel(side="left", battery_start_pct=90.0, battery_drain_pct_per_h=120.0)

    async def body():
        radio, ins = await powered(model, time_scale=400.0, duration_s=600.0)
        try:
            link = await Central(radio).connect(ins)
            await link.subscribe()
            subscribed_s = ins.now_s()
            await until(ins, subscribed_s + 130.0)
            return link.battery, [decode_status(s).battery_pct for s in link.status], subscribed_s
        finally:
            await ins.stop()

    battery, status_battery, subscribed_s = run(body)
    levels = [v[0] for v in battery]
    # one notification per simulated minute, each with the level of its minute
    # (the minute of the subscription itself may come just before or after it)
    k_next = math.floor(subscribed_s / 60.0) + 1  # the first minute surely after the subscription
    assert len(levels) >= 2
    assert any(levels == [model.battery_pct(60.0 * (k + i)) for i in range(len(levels))]
               for k in (k_next - 1, k_next) if k >= 1)
    assert [model.battery_pct(60.0), model.battery_pct(120.0)] == [88, 86]  # 2 % a minute
    assert status_battery[-1] == levels[-1]


def test_a_late_loop_notifies_the_battery_level_of_the_minute_that_was_due():
    """The event loop blocked across a minute (a busy machine): the battery
    notification comes late, but with the level of that minute, not of the
    moment the loop woke up."""
    model = InsoleModel(side="left", battery_start_pct=90.0, battery_drain_pct_per_h=120.0)

    async def body():
        radio, ins = await powered(model, time_scale=400.0, duration_s=600.0)
        try:
            link = await Central(radio).connect(ins)
            await link.subscribe()
            due_s = 60.0 * (math.floor(ins.now_s() / 60.0) + 1)
            if due_s - ins.now_s() < 10.0:
                due_s += 60.0
            await until(ins, due_s - 10.0)
            assert ins.now_s() < due_s
            n = len(link.battery)
            time.sleep(0.1)  # the loop blocked: 40 s of the insole's time, past the minute
            woke_s = ins.now_s()
            await wait_for_state(lambda: len(link.battery) > n)
            return link.battery[n][0], woke_s
        finally:
            await ins.stop()

    level, woke_s = run(body)
    minute_s = 60.0 * math.floor(woke_s / 60.0)  # the last minute due when the loop woke
    assert model.battery_pct(woke_s) != model.battery_pct(minute_s)  # late enough to tell them apart
    assert level == model.battery_pct(minute_s)


def test_a_pair_on_one_radio_shares_the_scenario_clock():
    models = default_insoles()

    async def body():
        radio = VirtualRadio.current()
        await radio.start()
        epoch = asyncio.get_running_loop().time()
        scenario = StepScenario(duration_s=60.0)
        pair = {side: VirtualInsole(m, scenario, radio=radio, time_scale=20.0, epoch=epoch)
                for side, m in models.items()}
        for ins in pair.values():
            await ins.start()
        central = Central(radio)
        try:
            links = {side: await central.connect(ins) for side, ins in pair.items()}
            for link in links.values():
                await link.subscribe()
                await link.write(RATE_200)
            clock = pair["left"].now_s  # one true time axis for both (the same epoch)
            t0 = clock()
            for link in links.values():
                await link.write(START)
            t1 = clock()
            await until(pair["left"], t1 + 2.0)
            t2 = clock()
            for link in links.values():
                await link.write(STOP)
            t3 = clock()
            for side, link in links.items():
                await drained(pair[side], lambda link=link: len(link.data))
            return {side: decode_packets(link.data) for side, link in links.items()}, (t0, t1, t2, t3)
        finally:
            for ins in pair.values():
                await ins.stop()

    batches, (t0, t1, t2, t3) = run(body)
    scenario = StepScenario(duration_s=60.0)
    for side, b in batches.items():
        m = models[side]
        assert b.sample_index[0] == m.first_index and (np.diff(b.sample_index) == 1).all()
        # 2 s and a bit at 200 Hz: from within a packet of the START to the STOP
        assert 2.0 * 200 - 8 <= b.raw.shape[0]
        assert (t2 - t1) * 200 - 8 - 1 <= b.raw.shape[0] <= (t3 - t0) * 200 * (1 + abs(m.clock_ppm) * 1e-6) + 1
        # each insole samples the scenario at its own crystal's ticks
        k = (b.device_time_us.astype(np.int64) // 5000)[b.sample_packet] + (
            b.sample_index - b.first_index[b.sample_packet])
        assert (b.raw == m.codes(scenario, k)).all()


def test_stop_leaves_no_pending_tasks():
    async def body():
        before = asyncio.all_tasks()
        radio, ins = await powered(InsoleModel(side="left", link_drops=((50.0, 5.0),)), time_scale=20.0)
        link = await Central(radio).connect(ins)
        await link.subscribe()
        await link.write(RATE_200)
        await link.write(START)
        await until(ins, ins.now_s() + 0.5)
        await ins.stop()
        await asyncio.sleep(0.01)
        left = [t for t in asyncio.all_tasks() - before if not t.done()]
        assert not left, left
        assert link.disconnected.done()
        await ins.stop()  # idempotent

    run(body)
