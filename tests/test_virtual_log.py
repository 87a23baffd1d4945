"""The device side of the on-insole log (protocol v1.1) on the virtual
insoles: NOR flash model, logging firmware, lasting state, the Log service
over the virtual radio (driven through bleak's own API) and the virtual
runner.

Runs are short and the radio runs fast (time_scale), so the file takes a
few seconds; nothing asserts a wall-clock duration.
"""

from __future__ import annotations

import asyncio
import zlib

import numpy as np
import pytest

pytest.importorskip("bumble")

from bleak import BleakClient, BleakScanner
from bleak.exc import BleakError, BleakGATTProtocolError

from insole.ble.virtual.flash import FlashError, NorFlash, PowerLost
from insole.ble.virtual.logger import Logger, LoggerError
from insole.ble.virtual.pair import virtual_log_pair
from insole.ble.virtual.run import catch_up, run_virtual
from insole.ble.virtual.state import CLAIM_WINDOW_S, StateLockedError, VirtualPairState, default_state_dir
from insole.constants import (
    DEVICE_INFO_CHARS,
    LOG_CHALLENGE_UUID,
    LOG_CONTROL_UUID,
    LOG_DATA_UUID,
    LOG_INFO_UUID,
)
from insole.protocol import auth, logctl
from insole.protocol import log as logfmt
from insole.protocol.layout import encode_layout, reference_layout
from insole.sim import make_scenario

PAGE = 4096
DEVICE = {"manufacturer": "m", "model": "x", "serial": "S1", "firmware": "f", "hardware": "h"}


def make_logger(pages: int = 64) -> Logger:
    return Logger(NorFlash(None, capacity_bytes=PAGE * pages), side="left",
                  layout=encode_layout(reference_layout("left")), device=DEVICE)


def noise(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 60, (n, 16)).astype(np.uint16)


# --- flash -------------------------------------------------------------------------------------
def test_flash_programs_only_erased_pages_and_persists_as_far_as_written(tmp_path):
    path = tmp_path / "chip.flash"
    fl = NorFlash(path, capacity_bytes=PAGE * 16)
    assert fl.read(3) == b"\xff" * PAGE and not path.exists()
    fl.program(2, b"\x01" * PAGE)
    with pytest.raises(FlashError):
        fl.program(2, b"\x02" * PAGE)
    assert path.stat().st_size == 3 * PAGE            # grown only as far as written
    again = NorFlash(path, capacity_bytes=PAGE * 16)
    assert again.read(2) == b"\x01" * PAGE and again.read(9) == b"\xff" * PAGE
    again.erase(2)
    assert again.is_erased(2) and NorFlash(path, capacity_bytes=PAGE * 16).is_erased(2)
    again.program(2, b"\x03" * PAGE)
    assert (fl.programs, again.programs, again.erases) == (1, 1, 1)


def test_flash_fault_hooks_tear_a_write_and_flip_a_byte():
    fl = NorFlash(None, capacity_bytes=PAGE * 4)
    fl.tear_next_program(100)
    with pytest.raises(PowerLost):
        fl.program(0, b"\x00" * PAGE)
    assert fl.read(0) == b"\x00" * 100 + b"\xff" * (PAGE - 100)
    fl.program(1, b"\x00" * PAGE)                     # the hook fires once
    fl.flip_byte(1, 7, mask=0x10)
    assert fl.read(1)[7] == 0x10


# --- logger ----------------------------------------------------------------------------------------
def test_logged_samples_decode_exactly_and_the_directory_comes_from_scanning():
    lg = make_logger()
    lg.sync_point(1_000_000, 1_700_000_000_000_000, 50)
    sid = lg.start(device_time_us=1_000_000, rate_hz=200, note={"subject": "Ann"})
    codes = noise(4000)
    for part in np.array_split(codes, 7):
        lg.log_samples(part)
    lg.stop(device_time_us=lg.ram.next_tau_us)
    d = logfmt.decode_log(lg.image(sid))
    assert np.array_equal(d.codes, codes) and d.problems == {}
    assert d.header.note == {"subject": "Ann"} and d.end.reason == "host" and d.end.n_samples == 4000
    assert d.sync.host_time_us.tolist() == [1_700_000_000_000_000]
    rebooted = Logger(lg.flash, side="left", layout=lg.layout, device=DEVICE)  # RAM lost: scan again
    (s,) = rebooted.sessions()
    assert (s.session_id, s.samples, s.complete, s.start_host_time_us) == (sid, 4000, True, 1_700_000_000_000_000)
    assert rebooted.ram.head == lg.ram.head and rebooted.ram.next_session_id == sid + 1


def test_a_full_flash_ends_the_session_with_an_end_page():
    lg = make_logger(pages=8)
    sid = lg.start(device_time_us=0, rate_hz=200)
    out = lg.log_samples(noise(20_000))
    assert out.ended == ((sid, "flash_full"),) and lg.state == "idle"
    d = logfmt.decode_log(lg.image(sid))
    assert d.end.reason == "flash_full" and d.problems == {}
    assert d.end.n_samples == d.codes.shape[0] == lg.find(sid).samples
    assert np.array_equal(d.codes, noise(20_000)[:d.codes.shape[0]])
    assert len(lg.find(sid).pages) == 8
    with pytest.raises(LoggerError) as exc:
        lg.start(device_time_us=10**9, rate_hz=200)
    assert exc.value.att_error == 0x82


def test_power_loss_keeps_every_closed_page_and_writes_no_end_page():
    lg = make_logger()
    sid = lg.start(device_time_us=0, rate_hz=200)
    lg.log_samples(noise(3000))
    written = lg.find(sid).samples
    lg.flash.tear_next_program(500)
    lg.log_samples(noise(3000, seed=1))          # the power fails while a page is programmed
    assert lg.state == "idle"
    d = logfmt.decode_log(lg.image(sid))
    assert d.end is None and d.problems.get("crc") == 1
    assert d.codes.shape[0] >= written
    assert np.array_equal(d.codes[:3000], noise(3000)[:min(3000, d.codes.shape[0])])
    # the next session goes after the torn page
    sid2 = lg.start(device_time_us=10**9, rate_hz=100)
    assert sid2 == sid + 1 and lg.find(sid2).pages[0] == lg.find(sid).pages[-1] + 1


def test_a_corrupted_page_is_found_by_its_crc_and_erase_needs_the_image_crc():
    lg = make_logger()
    sid = lg.start(device_time_us=0, rate_hz=200)
    lg.log_samples(noise(3000))
    lg.stop(device_time_us=lg.ram.next_tau_us)
    s = lg.find(sid)
    lg.flash.flip_byte(s.pages[2], 900)
    d = logfmt.decode_log(lg.image(sid))
    assert d.problems == {"crc": 1} and d.bad_pages == [2]
    with pytest.raises(LoggerError) as exc:
        lg.erase(sid, zlib.crc32(lg.image(sid)) ^ 1)
    assert exc.value.att_error == 0x86 and lg.find(sid)
    lg.erase(sid, zlib.crc32(lg.image(sid)))
    assert lg.sessions() == [] and all(lg.flash.is_erased(p) for p in s.pages)


def test_armed_insole_starts_10_s_before_the_first_of_8_strides_and_stops_when_idle():
    scenario = make_scenario("run", duration_s=60.0, seed=3)
    from insole.sim.session import default_insoles

    model = default_insoles()["left"]
    lg = make_logger(pages=256)
    lg.start(device_time_us=0, rate_hz=100, auto=True, idle_stop_s=60)
    n = 100 * 200                                  # 200 s: 20 s still, 60 s run, then nobody
    tau, index = lg.sample_clock(n)
    t = tau / 1e6 - 20.0
    codes = model.codes_at(scenario, t, index)
    for part in np.array_split(np.arange(n), 9):   # chunked: the pre-trigger buffer spans calls
        lg.log_samples(codes[part])
    (s,) = lg.sessions()
    d = logfmt.decode_log(lg.image(s.session_id))
    ic = np.array(scenario.truth()["steps"]["ic_s"])[np.array(scenario.truth()["steps"]["side"]) == "left"]
    start_s = d.header.start_device_time_us / 1e6 - 20.0
    assert d.header.trigger == "auto" and start_s == pytest.approx(ic[0] - 10.0, abs=0.05)
    assert d.end.reason == "idle" and lg.state == "armed"  # re-armed
    assert d.end.end_device_time_us / 1e6 - 20.0 == pytest.approx(ic[-1] + 60.0, abs=0.5)
    first = round(d.header.start_device_time_us / 10_000)
    assert np.array_equal(d.codes, codes[first:first + d.codes.shape[0]])


# --- state ------------------------------------------------------------------------------------------
def test_state_folder_default_lock_and_power_cycle(tmp_path, monkeypatch):
    monkeypatch.setenv("INSOLE_VIRTUAL_STATE", str(tmp_path / "v"))
    assert default_state_dir() == tmp_path / "v"
    monkeypatch.delenv("INSOLE_VIRTUAL_STATE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    if default_state_dir().parts[-3:] == ("cache", "insole", "virtual"):
        assert default_state_dir() == tmp_path / "cache" / "insole" / "virtual"
    with VirtualPairState.open(tmp_path / "s", capacity_bytes=PAGE * 64) as st:
        with pytest.raises(StateLockedError):
            VirtualPairState.open(tmp_path / "s")
        assert st.window_open("left")                 # fresh and unclaimed
        st.add_claim("left", b"h" * 8, b"k" * 16)
        st.advance(CLAIM_WINDOW_S + 1)
        assert not st.window_open("left") and st.window_open("right")
        st.loggers["left"].start(device_time_us=st.device_time_us("left"), rate_hz=100)
        st.power_cycle("left")
        assert st.window_open("left") and st.loggers["left"].state == "idle"
        (s,) = st.loggers["left"].sessions()
        assert not s.complete                          # stopped as by a power loss
    with VirtualPairState.open(tmp_path / "s") as st:  # unlocked, and kept
        assert st.claims("left") == {b"h" * 8: b"k" * 16}


# --- the virtual runner -----------------------------------------------------------------------------
def test_a_run_logs_both_feet_with_the_models_codes_beacons_and_truth(tmp_path):
    with VirtualPairState.open(tmp_path / "s") as st:
        r = run_virtual(st, minutes=1.0, asymmetry_pct=-8.0, fatigue_pp_per_10min=-1.5, seed=4)
        scenario = make_scenario("run", duration_s=60.0, asymmetry_pct=-8.0, seed=4, fatigue_pp_per_10min=-1.5)
        for side in ("left", "right"):
            lg = st.loggers[side]
            catch_up(st)
            lg.stop(device_time_us=st.device_time_us(side))
            (sid,) = r.sessions[side]
            d = logfmt.decode_log(lg.image(sid))
            assert d.problems == {} and d.end.reason == "host"
            # recompute what the model gave at those device times
            period = 1_000_000 // d.header.sampling_rate_hz
            tau = d.header.start_device_time_us + period * np.arange(d.codes.shape[0])
            t = st.tracks[side].true_time_s(tau) - (r.start_unix_s - st.origin_unix_s)
            index = d.header.start_index + np.arange(d.codes.shape[0])
            assert np.array_equal(d.codes, st.models[side].codes_at(scenario, t, index))
            assert 0.6 * 60 < len(d.beacons) <= 62 and set(d.beacons.peer_side.tolist()) == {1 - "lr".index(side[0])}
            assert np.isfinite(d.temperature_c).all()
            truth = st.truth_for(side, sid)
            assert truth["scenario"]["options"]["contact_time_si_growth_pp_per_10min"] == -1.5
            assert {"side", "ic_s", "to_s"} <= set(truth["scenario"]["steps"])
        # the world moved on by the run; the clocks are 50 ppm apart at its start, 10 ppm more at its end
        assert st.advance_s >= 60.0
        c, t0 = st.tracks, r.start_unix_s - st.origin_unix_s

        def apart_ppm(t):
            return ((c["left"].device_time_us(t + 0.5) - c["left"].device_time_us(t))
                    - (c["right"].device_time_us(t + 0.5) - c["right"].device_time_us(t))) / 0.5

        assert apart_ppm(t0) == pytest.approx(50.0, abs=0.5)
        assert apart_ppm(t0 + 59.5) - apart_ppm(t0) == pytest.approx(10.0, abs=0.5)


# --- the Log service over the virtual radio, through bleak ---------------------------------------------
class Host:
    """A minimal host on bleak's API (the real one is insole.sync)."""

    def __init__(self, client: BleakClient, host_id: bytes = b"host0001", key: bytes | None = None) -> None:
        self.client, self.host_id, self.key = client, host_id, key
        self.responses: asyncio.Queue = asyncio.Queue()
        self.chunks: asyncio.Queue = asyncio.Queue()

    async def open(self) -> Host:
        await self.client.start_notify(LOG_CONTROL_UUID, lambda _c, d: self.responses.put_nowait(bytes(d)))
        await self.client.start_notify(LOG_DATA_UUID, lambda _c, d: self.chunks.put_nowait(bytes(d)))
        self.serial = bytes(await self.client.read_gatt_char(DEVICE_INFO_CHARS["serial"])).decode()
        return self

    async def info(self) -> logctl.LogInfo:
        return logctl.decode_log_info(bytes(await self.client.read_gatt_char(LOG_INFO_UUID)))

    async def signed(self, command: bytes, key: bytes | None = None) -> bytes:
        nonce = bytes(await self.client.read_gatt_char(LOG_CHALLENGE_UUID))
        return auth.sign(command, key=key or self.key or b"x" * 16, host_id=self.host_id, nonce=nonce)

    async def write(self, data: bytes) -> int | None:
        """ATT error code, or None when accepted."""
        try:
            await self.client.write_gatt_char(LOG_CONTROL_UUID, data, response=True)
        except BleakGATTProtocolError as exc:
            return int(exc.args[0])
        return None

    async def command(self, command: bytes) -> int | None:
        return await self.write(await self.signed(command))

    async def claim(self) -> int | None:
        pair = auth.new_keypair()
        code = await self.write(logctl.encode_claim(self.host_id, pair.public))
        if code is None:
            r = await self.response(logctl.LogOpcode.CLAIM)
            self.key = auth.claim_key(private=pair.private, peer_public=r.payload, host_id=self.host_id,
                                      serial=self.serial)
        return code

    async def response(self, opcode) -> logctl.LogResponse:
        return logctl.decode_response(await self.response_raw(opcode))

    async def response_raw(self, opcode) -> bytes:
        while True:
            raw = await asyncio.wait_for(self.responses.get(), 5.0)
            if logctl.decode_response(raw).opcode == opcode:
                return raw

    async def sessions(self) -> list[logctl.SessionEntry]:
        assert await self.command(logctl.encode_list_sessions()) is None
        out = []
        while (e := logctl.decode_session_entry(await self.response_raw(logctl.LogOpcode.LIST_SESSIONS))) is not None:
            out.append(e)
        return out

    async def download(self, sid: int, size: int, data: bytearray, *, window: int = 8) -> bytes:
        """Windowed download with ACKs from len(data); ConnectionError when the link drops."""
        try:
            assert await self.command(logctl.encode_read(sid, len(data), window)) is None
            while len(data) < size:
                offset, chunk = logctl.decode_chunk(await asyncio.wait_for(self.chunks.get(), 5.0))
                if offset != len(data):
                    continue
                data += chunk
                await self.write(logctl.encode_ack(sid, len(data)))
        except (BleakError, TimeoutError) as exc:
            raise ConnectionError(f"link lost at {len(data)} bytes") from exc
        return bytes(data)


async def connect(pair, side: str) -> BleakClient:
    name = "insole-L" if side == "left" else "insole-R"
    device = await BleakScanner.find_device_by_name(name, timeout=5.0, backend=pair.backend[0])
    assert device is not None
    client = BleakClient(device, backend=pair.backend[1], timeout=5.0)
    await client.connect()
    return client


def run(coro):
    return asyncio.run(coro)


def test_claim_auth_replay_window_and_power_cycle_over_bleak(tmp_path):
    async def main():
        with VirtualPairState.open(tmp_path / "s", capacity_bytes=PAGE * 512) as st:
            async with virtual_log_pair(st, time_scale=2.0) as pair:
                client = await connect(pair, "left")
                stranger = await Host(client, b"stranger").open()
                protected = [logctl.encode_log_start(200), logctl.encode_log_stop(),
                             logctl.encode_sync_point(1, 2, 3), logctl.encode_list_sessions(),
                             logctl.encode_read(1, 0, 4), logctl.encode_erase(1, 0)]
                for cmd in protected:                       # unclaimed host: every protected command
                    assert await stranger.command(cmd) == 0x83, hex(cmd[0])
                host = await Host(client).open()
                assert (await host.info()).window_open and not (await host.info()).claimed
                assert await host.claim() is None
                assert (await host.info()).claimed
                ok = await host.signed(logctl.encode_sync_point(st.device_time_us("left"), st.host_time_us(), 100))
                assert await host.write(ok) is None
                assert await host.write(ok) == 0x83          # replayed: the nonce moved on
                assert await host.command(logctl.encode_log_start(200)) is None
                assert await host.command(logctl.encode_log_start(200)) == 0x82
                assert (await host.info()).state == "logging"
                assert await host.command(logctl.encode_log_stop()) is None
                (entry,) = await host.sessions()
                assert entry.complete and not entry.open and entry.start_host_time_us > 0
                assert await host.command(logctl.encode_read(entry.session_id + 5, 0, 4)) == 0x85
                # another host, outside the window of a claimed pair
                st.advance(CLAIM_WINDOW_S + 1)
                late = await Host(client, b"latehost").open()
                assert await late.claim() == 0x84
                await client.disconnect()
                st.power_cycle("left")
                client = await connect(pair, "left")
                late = await Host(client, b"latehost").open()
                assert await late.claim() is None
                assert await late.command(logctl.encode_list_sessions()) is None
                await client.disconnect()
            assert set(st.claims("left")) == {b"host0001", b"latehost"}

    run(main())


def test_download_resumes_after_a_dropped_link_and_erase_checks_the_crc(tmp_path):
    async def main():
        with VirtualPairState.open(tmp_path / "s", capacity_bytes=PAGE * 512) as st:
            key = {}
            async with virtual_log_pair(st, time_scale=50.0) as pair:
                client = await connect(pair, "right")
                host = await Host(client).open()
                assert await host.claim() is None
                key["right"] = host.key
                await client.disconnect()
            run_virtual(st, minutes=0.5, seed=2)
            async with virtual_log_pair(st, time_scale=50.0, link_kB_s=500.0) as pair:
                client = await connect(pair, "right")
                host = await Host(client, key=key["right"]).open()
                assert await host.command(logctl.encode_log_stop()) is None
                (entry,) = await host.sessions()
                flash_image = st.loggers["right"].image(entry.session_id)
                assert entry.image_bytes == len(flash_image) > 12 * PAGE
                pair.log_services["right"].drop_link_after(7 * PAGE + 123)
                data = bytearray()
                with pytest.raises(ConnectionError):
                    await host.download(entry.session_id, entry.image_bytes, data, window=16)
                assert 0 < len(data) < entry.image_bytes
                kept = len(data)
                for _ in range(100):
                    if not client.is_connected:
                        break
                    await asyncio.sleep(0.02)
                client = await connect(pair, "right")
                host = await Host(client, key=key["right"]).open()
                image = await host.download(entry.session_id, entry.image_bytes, data, window=16)
                assert len(image) == len(flash_image) and zlib.crc32(image) == zlib.crc32(flash_image)
                assert image[:kept] == flash_image[:kept]
                # resumed, not restarted: at most a window in flight was sent twice
                chunk = logctl.chunk_data_bytes(client.mtu_size)
                assert pair.log_services["right"].bytes_sent <= entry.image_bytes + 16 * chunk
                assert await host.command(logctl.encode_erase(entry.session_id, zlib.crc32(image) ^ 1)) == 0x86
                assert len(st.loggers["right"].sessions()) == 1
                assert await host.command(logctl.encode_erase(entry.session_id, zlib.crc32(image))) is None
                assert st.loggers["right"].sessions() == []
                await client.disconnect()

    run(main())


def test_state_persists_across_two_pairs(tmp_path):
    async def claim_and_start():
        with VirtualPairState.open(tmp_path / "s", capacity_bytes=PAGE * 512) as st:
            async with virtual_log_pair(st, time_scale=5.0) as pair:
                client = await connect(pair, "left")
                host = await Host(client).open()
                assert await host.claim() is None
                assert await host.command(logctl.encode_log_start(100, note={"subject": "Ann"})) is None
                await client.disconnect()
                return host.key, st.tracks["left"].to_list()

    key, clocks = run(claim_and_start())

    async def later():
        with VirtualPairState.open(tmp_path / "s") as st:
            assert st.tracks["left"].to_list() == clocks
            async with virtual_log_pair(st, time_scale=5.0) as pair:
                client = await connect(pair, "left")
                host = await Host(client, key=key).open()
                info = await host.info()
                assert info.claimed and info.state == "logging" and info.current_session == 1
                assert await host.command(logctl.encode_log_stop()) is None
                (entry,) = await host.sessions()
                assert entry.samples > 0
                await client.disconnect()
            d = logfmt.decode_log(st.loggers["left"].image(1))
            assert d.header.note == {"subject": "Ann"} and d.end.reason == "host"

    run(later())
