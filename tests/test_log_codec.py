"""Log format 1 codec (insole.protocol.log): round trips, page filling,
records placement, damaged and foreign pages, property tests."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from insole.errors import LogFormatError, ProtocolError
from insole.protocol import log as L
from insole.protocol.log import (
    BODY_SIZE,
    PAGE_SIZE,
    Beacons,
    SessionEnd,
    SessionHeader,
    SyncPoints,
    decode_log,
    encode_data_pages,
    encode_end_page,
    encode_header_page,
)
from insole.protocol.logrecords import Beacons as RecordsBeacons
from insole.protocol.logrecords import SyncPoints as RecordsSyncPoints

RATE_HZ = 200
PERIOD_US = 1_000_000 // RATE_HZ
T0_US = 5_000_000
SESSION = 7


def prop_settings(n: int) -> settings:
    return settings(max_examples=n, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def gait_codes(n: int, *, seed: int = 0) -> np.ndarray:
    """Cheap gait-like codes: half-sine stance per sensor, noise, zeros in swing."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / RATE_HZ
    phase = (t[:, None] * 1.4 + np.linspace(0, 0.3, 16)) % 1.0
    load = np.where(phase < 0.4, np.sin(np.pi * phase / 0.4), 0.0)
    codes = load * rng.uniform(800, 3500, 16) + rng.normal(0, 3, (n, 16)) * (load > 0)
    return np.clip(np.rint(codes), 0, 4095).astype(np.uint16)


def header(**kw) -> SessionHeader:
    base = {"session_id": SESSION, "side": "left", "sampling_rate_hz": RATE_HZ, "start_index": 1000,
            "start_device_time_us": T0_US, "trigger": "host", "zeroed": True, "time_synced": True,
            "layout": b"\x01\x02\x03",
            "device": {"manufacturer": "insole project", "model": "v1", "serial": "S-1", "firmware": "1.1",
                       "hardware": "A"},
            "note": {"subject": "Ann", "body_mass_kg": 61.0}}
    return SessionHeader(**{**base, **kw})


def session(codes: np.ndarray, **kw) -> list[bytes]:
    """Header page, data pages, end page of one session."""
    data = encode_data_pages(codes, session_id=SESSION, first_index=1000, device_time_us=T0_US,
                             sampling_rate_hz=RATE_HZ, **kw)
    end = SessionEnd(reason="host", end_index=1000 + len(codes), end_device_time_us=T0_US + len(codes) * PERIOD_US,
                     n_samples=len(codes), n_data_pages=len(data), lost_samples=0)
    return [encode_header_page(header())] + data + [encode_end_page(end, session_id=SESSION, seq=len(data) + 1)]


def recrc(page: bytes | bytearray) -> bytes:
    page = bytearray(page)
    page[L.CRC_OFFSET:] = zlib.crc32(bytes(page[:L.CRC_OFFSET])).to_bytes(4, "little")
    return bytes(page)


def field(page: bytes, name: str) -> int:
    return int(np.frombuffer(page[:32], dtype=L._HDR)[name][0])


# --- helpers -----------------------------------------------------------------
def test_records_types_are_the_shared_ones():
    assert SyncPoints is RecordsSyncPoints and Beacons is RecordsBeacons


def test_zigzag_maps_signs_alternately_and_inverts():
    d = np.arange(-4095, 4096)
    zz = L.zigzag(d)
    assert L.zigzag([0, -1, 1, -2, 2]).tolist() == [0, 1, 2, 3, 4]
    assert zz.min() == 0 and zz.max() == 8190 and np.unique(zz).size == d.size
    assert (L.unzigzag(zz) == d).all()


@pytest.mark.parametrize("values, k", [([0] * 32, 0), ([1] * 32, 0), ([2] * 32, 1), ([3] * 32, 1),
                                       ([4] * 32, 2), ([8190] * 32, 12), ([0] * 31 + [63], 0), ([0] * 31 + [64], 1),
                                       ([0] * 31 + [128], 2)])
def test_rice_k_is_the_normative_rule(values, k):
    zz = np.repeat(np.array(values)[:, None], 16, axis=1)
    assert (L.rice_k(zz) == k).all()


def test_rice_k_of_a_short_block_divides_by_m():
    zz = np.zeros((32, 16), dtype=np.int32)
    zz[:4] = 8  # mean over m = 4 is 8 -> k = 3; over 32 it would be 1 -> k = 0
    assert (L.rice_k(zz, m=4) == 3).all() and (L.rice_k(zz) == 0).all()


def test_encode_block_layout_by_hand():
    zz = np.zeros((2, 16), dtype=np.int64)
    zz[:, 0] = [4, 6]  # mean 5 -> k = 2: q = 1, 1; r = 0, 2
    b = L.encode_block(zz)
    assert b[0] == 0x02 and b[1:8] == bytes(7)  # sensor 0 low nibble of byte 0
    u = int.from_bytes(b[8:10], "little")
    # sensor 0: 10 10, then 30 zero-bits -> 34 bits -> 5 bytes
    assert u == 5 and b[10] == 0b10100000 and b[11:15] == bytes(4)
    assert b[15:] == bytes([0b00100000])  # remainders 00, 10, padded


@given(st.integers(1, 32), st.integers(0, 2**32 - 1), st.sampled_from([1, 8, 200, 8190]))
@prop_settings(60)
def test_block_round_trip(m, seed, top):
    zz = np.random.default_rng(seed).integers(0, top + 1, (m, 16))
    data = L.encode_block(zz)
    back, used = L.decode_block(data + b"\xff" * 5, m)
    assert used == len(data) and (back == zz).all()
    assert used == L.block_size(zz)


def test_decode_block_rejects_bad_blocks():
    good = L.encode_block(np.ones((4, 16), dtype=np.int64))
    with pytest.raises(ProtocolError):
        L.decode_block(b"\xff" + good[1:], 4)  # k = 15
    with pytest.raises(ProtocolError):
        L.decode_block(good[:-1], 4)  # remainder runs past the data
    with pytest.raises(ProtocolError):
        L.decode_block(good[:10] + b"\xff" * (len(good) - 10), 4)  # no terminators


def test_page_crc_is_zlib_over_bytes_0_to_4091():
    page = encode_header_page(header())
    assert L.page_crc(page) == zlib.crc32(page[:4092]) == int.from_bytes(page[4092:], "little")


# --- round trips ---------------------------------------------------------------
@pytest.mark.parametrize("kind", ["random", "constant", "ramp", "jumps", "gait", "one", "two", "33"])
def test_round_trip(kind):
    rng = np.random.default_rng(1)
    n = {"one": 1, "two": 2, "33": 33}.get(kind, 4000)
    codes = {
        "random": lambda: rng.integers(0, 4096, (n, 16)),
        "constant": lambda: np.full((n, 16), 1234),
        "ramp": lambda: (np.arange(n)[:, None] * np.arange(1, 17)) % 4096,
        "jumps": lambda: np.where((np.arange(n) // 3 % 2)[:, None] == 1, 4095, 0) * np.ones((1, 16), int),
        "gait": lambda: gait_codes(n),
    }.get(kind, lambda: rng.integers(0, 4096, (n, 16)))()
    pages = session(codes)
    d = decode_log(b"".join(pages))
    assert d.problems == {} and d.bad_pages == []
    assert d.codes.dtype == np.uint16 and (d.codes == codes).all()
    assert d.count.sum() == n and (np.diff(d.page_seq) == 1).all() and d.page_seq[0] == 1
    assert (d.first_index == 1000 + np.concatenate([[0], np.cumsum(d.count)[:-1]])).all()
    assert (d.device_time_us == T0_US + PERIOD_US * (d.first_index - 1000)).all()
    assert d.header == header() and d.end.n_samples == n and d.session_id == SESSION


def test_pages_are_filled_with_whole_blocks():
    codes = gait_codes(20_000)
    pages = encode_data_pages(codes, session_id=SESSION, first_index=0, device_time_us=0, sampling_rate_hz=RATE_HZ)
    zz = L.zigzag(np.diff(codes.astype(np.int32), axis=0))
    s0 = 0
    for p in pages[:-1]:
        n, used = field(p, "n_samples"), field(p, "body_used")
        assert (n - 1) % 32 == 0 and used <= BODY_SIZE
        nxt = L.block_size(np.asarray(zz[s0 + n - 1:s0 + n + 31]))
        assert used + nxt > BODY_SIZE  # the next block would not have fitted
        assert p[32 + used:4092] == b"\xff" * (BODY_SIZE - used)
        s0 += n
    assert sum(field(p, "n_samples") for p in pages) == len(codes)


def test_vectorised_encoder_matches_reference_blocks():
    codes = gait_codes(3000, seed=4)
    page = encode_data_pages(codes, session_id=1, first_index=0, device_time_us=0, sampling_rate_hz=RATE_HZ)[1]
    s0 = field(encode_data_pages(codes, session_id=1, first_index=0, device_time_us=0,
                                 sampling_rate_hz=RATE_HZ)[0], "n_samples")
    zz = L.zigzag(np.diff(codes.astype(np.int32), axis=0))
    ref = L._pack12(codes[s0:s0 + 1]).tobytes()
    blocks = b"".join(L.encode_block(zz[s0 + i:s0 + i + 32]) for i in range(0, field(page, "n_samples") - 1, 32))
    assert page[32:32 + 24 + len(blocks)] == ref + blocks


def test_exactly_full_page_round_trips():
    # one varied block of 114 bytes + 53 constant blocks of 74 bytes + the reference fill 4060 bytes exactly
    rng = np.random.default_rng(3)
    for _ in range(2000):
        zz = np.zeros((32, 16), dtype=np.int64)
        zz[:, :2] = rng.integers(0, 40, (32, 2))
        if L.block_size(zz) == BODY_SIZE - 24 - 53 * 74:
            break
    else:
        raise AssertionError("no block of the size wanted")
    deltas = np.concatenate([L.unzigzag(zz), np.zeros((53 * 32, 16), np.int64), rng.integers(-3, 4, (100, 16))])
    codes = np.concatenate([np.full((1, 16), 2000), 2000 + np.cumsum(deltas, axis=0)])
    pages = encode_data_pages(codes, session_id=1, first_index=0, device_time_us=0, sampling_rate_hz=RATE_HZ)
    assert field(pages[0], "body_used") == BODY_SIZE and field(pages[0], "n_samples") == 1 + 54 * 32
    assert (decode_log(pages).codes == codes).all()


def test_full_page_with_records_fills_to_the_last_byte():
    codes = np.random.default_rng(5).integers(0, 4096, (400, 16))
    plain = encode_data_pages(codes, session_id=1, first_index=0, device_time_us=0, sampling_rate_hz=RATE_HZ)[0]
    spare = (BODY_SIZE - field(plain, "body_used")) // 24
    n = field(plain, "n_samples")
    sync = SyncPoints(np.arange(spare) * 10, np.arange(spare) + 10**15, np.full(spare, 50))
    pages = encode_data_pages(codes, session_id=1, first_index=0, device_time_us=0, sampling_rate_hz=RATE_HZ,
                              sync=sync)
    assert field(pages[0], "n_samples") == n and field(pages[0], "n_records") == spare
    d = decode_log(pages)
    assert (d.codes == codes).all() and len(d.sync) == spare


# --- records, temperature, battery --------------------------------------------------
def test_records_land_in_the_page_whose_span_holds_their_time():
    codes = gait_codes(12_000)
    t_sync = T0_US + np.array([-1000, 0, 123_457, 2_000_000, 30_000_000, 59_999_999, 99_000_000])
    sync = SyncPoints(t_sync, t_sync + 1_700_000_000_000_000, np.arange(7) + 100)
    t_b = T0_US + np.arange(0, 60_000_000, 1_000_000) + 77
    beacons = Beacons(t_b, t_b + 12_345, np.ones(60), np.full(60, 9), np.arange(60), np.full(60, -71))
    pages = encode_data_pages(codes, session_id=SESSION, first_index=0, device_time_us=T0_US,
                              sampling_rate_hz=RATE_HZ, sync=sync, beacons=beacons)
    starts = np.array([field(p, "device_time_us") for p in pages])
    for p, lo, hi in zip(pages, starts, list(starts[1:]) + [2**63]):
        nrec, used = field(p, "n_records"), field(p, "body_used")
        rec = np.frombuffer(p[32 + used - 24 * nrec:32 + used], dtype=L._REC)
        assert (np.diff(rec["a"].astype(np.int64)) >= 0).all()
        inside = (rec["a"] >= lo) & (rec["a"] < hi)
        early = rec["a"] < starts[0]  # before the first sample: first page
        assert (inside | (early & (lo == starts[0]))).all()
    d = decode_log(pages)
    assert (d.sync.device_time_us == np.sort(t_sync)).all() and (d.sync.uncertainty_us == np.arange(7) + 100).all()
    assert (d.beacons.device_time_us == t_b).all() and (d.beacons.peer_device_time_us == t_b + 12_345).all()
    assert (d.beacons.rssi_dbm == -71).all() and (d.beacons.peer_session == 9).all()
    assert (d.beacons.peer_side == 1).all() and (d.beacons.counter == np.arange(60)).all()
    assert (d.codes == codes).all()


def test_sync_from_header_and_end_pages_is_merged_in_time_order():
    codes = gait_codes(500)
    data = encode_data_pages(codes, session_id=SESSION, first_index=1000, device_time_us=T0_US,
                             sampling_rate_hz=RATE_HZ, sync=SyncPoints([T0_US + 10], [2], [3]))
    end = SessionEnd("idle", 1500, T0_US + 10**7, 500, len(data), 2)
    pages = [encode_header_page(header(), records=[SyncPoints([T0_US - 5], [1], [4])], battery_pct=80,
                                temperature_c=25.5)]
    pages += data + [encode_end_page(end, session_id=SESSION, seq=len(data) + 1,
                                     sync=SyncPoints([T0_US + 10**7], [3], [5]))]
    d = decode_log(pages[::-1])
    assert d.sync.host_time_us.tolist() == [1, 2, 3] and d.end == end
    assert (d.codes == codes).all()


def test_temperature_and_battery_per_page():
    codes = gait_codes(20_000)
    t = T0_US + np.arange(0, 100_000_000, 10_000_000)
    pages = encode_data_pages(codes, session_id=SESSION, first_index=0, device_time_us=T0_US + 1,
                              sampling_rate_hz=RATE_HZ, temperature=(t, 20 + 0.5 * np.arange(10)),
                              battery=(t, 90 - np.arange(10)))
    d = decode_log(pages)
    i = (d.device_time_us.astype(np.int64) - T0_US) // 10_000_000
    assert np.allclose(d.temperature_c, 20 + 0.5 * i) and np.allclose(d.battery_pct, 90 - i)
    none = decode_log(encode_data_pages(codes[:100], session_id=1, first_index=0, device_time_us=0,
                                        sampling_rate_hz=RATE_HZ, temperature=(t, t * 0)))
    assert np.isnan(none.temperature_c).all() and np.isnan(none.battery_pct).all()


def test_header_fields_round_trip():
    h = header(side="right", sampling_rate_hz=50, trigger="auto", zeroed=False, note={})
    d = decode_log([encode_header_page(h, battery_pct=55, temperature_c=-3.25)])
    assert d.header == h and d.codes.shape == (0, 16) and d.count.size == 0


# --- damage, power loss, foreign pages -------------------------------------------------
def test_power_loss_keeps_every_complete_page():
    codes = gait_codes(8000)
    pages = session(codes)[:-1]  # no end page
    half = bytearray(pages[-1])
    half[2000:] = b"\xff" * (PAGE_SIZE - 2000)  # programming interrupted
    image = b"".join(pages[:-1]) + bytes(half) + b"\xff" * PAGE_SIZE * 3  # erased tail
    d = decode_log(image)
    assert d.end is None and d.problems == {"crc": 1, "erased": 3}
    assert d.bad_pages == [len(pages) - 1, len(pages), len(pages) + 1, len(pages) + 2]
    assert (d.codes == codes[:d.count.sum()]).all() and d.count.sum() == len(codes) - field(pages[-1], "n_samples")


def test_corrupt_middle_page_leaves_a_visible_gap():
    codes = gait_codes(8000)
    pages = session(codes)
    bad = bytearray(pages[3])
    bad[500] ^= 0x10
    pages[3] = bytes(bad)
    d = decode_log(pages)
    assert d.problems == {"crc": 1} and d.bad_pages == [3]
    gap = np.flatnonzero(np.diff(d.first_index) != d.count[:-1])
    assert gap.size == 1 and d.page_seq[gap[0] + 1] - d.page_seq[gap[0]] == 2
    full = decode_log(session(codes))
    keep = full.page_seq != 3
    assert (d.codes == full.codes[np.repeat(keep, full.count)]).all()


def test_other_session_duplicates_and_order():
    codes = gait_codes(6000)
    pages = session(codes)
    foreign = encode_data_pages(gait_codes(300, seed=9), session_id=SESSION + 1, first_index=0, device_time_us=0,
                                sampling_rate_hz=RATE_HZ)
    rng = np.random.default_rng(0)
    mixed = [pages[i] for i in rng.permutation(len(pages))] + [pages[2], pages[0]] + foreign
    d = decode_log(mixed)
    assert d.problems == {"duplicate_seq": 2, "other_session": len(foreign)}
    assert (d.codes == codes).all() and d.session_id == SESSION
    assert sorted(d.bad_pages) == list(range(len(pages), len(mixed)))


def test_session_without_header_is_the_commonest():
    codes = gait_codes(4000)
    data = session(codes)[1:-1]
    other = encode_data_pages(gait_codes(100), session_id=99, first_index=0, device_time_us=0, sampling_rate_hz=RATE_HZ)
    d = decode_log(other + data)
    assert d.header is None and d.session_id == SESSION and (d.codes == codes).all()
    assert d.problems == {"other_session": len(other)}


def test_newer_format_raises_log_format_error():
    page = bytearray(encode_header_page(header()))
    page[4] = 2
    with pytest.raises(LogFormatError, match="update insole") as e:
        decode_log(recrc(page))
    assert "erased" in str(e.value) and isinstance(e.value, ProtocolError)
    # among readable format-1 pages a format-2 page is only counted
    d = decode_log(session(gait_codes(100)) + [recrc(page)])
    assert d.problems == {"unknown_version": 1}


@pytest.mark.parametrize("data", [b"", b"\xff" * PAGE_SIZE, bytes(PAGE_SIZE * 2)], ids=["empty", "erased", "zeros"])
def test_nothing_decodable_raises(data):
    with pytest.raises(ProtocolError, match="no valid"):
        decode_log(data)


def test_length_not_whole_pages_raises():
    with pytest.raises(ProtocolError, match="whole 4096"):
        decode_log(b"\x00" * 5000)
    with pytest.raises(ProtocolError):
        decode_log([b"\x00" * 100])


def test_bad_magic_and_decoded_out_of_range_are_rejected():
    codes = gait_codes(2000)
    pages = session(codes)
    p = bytearray(pages[1])
    p[0] = ord("X")
    pages[1] = recrc(p)
    q = bytearray(pages[2])
    q[32:32 + 24] = L._pack12(np.full((1, 16), 4095)).tobytes()  # reference now too high for the deltas
    pages[2] = recrc(q)
    d = decode_log(pages)
    assert d.problems.get("bad_magic") == 1 and d.problems.get("corrupt") == 1 and d.bad_pages == [1, 2]


def test_decode_codes_false_skips_samples():
    d = decode_log(session(gait_codes(3000)), decode_codes=False)
    assert d.codes is None and d.count.sum() == 3000


def test_encoder_rejects_bad_input():
    with pytest.raises(ProtocolError):
        encode_data_pages(np.full((3, 16), 4096), session_id=1, first_index=0, device_time_us=0, sampling_rate_hz=200)
    with pytest.raises(ProtocolError):
        encode_data_pages(np.zeros((3, 15)), session_id=1, first_index=0, device_time_us=0, sampling_rate_hz=200)
    with pytest.raises(ProtocolError):
        encode_data_pages(np.zeros((3, 16)), session_id=0, first_index=0, device_time_us=0, sampling_rate_hz=200)
    with pytest.raises(ProtocolError):
        encode_header_page(header(note={"x": "y" * 600}))
    assert encode_data_pages(np.zeros((0, 16)), session_id=1, first_index=0, device_time_us=0,
                             sampling_rate_hz=200) == []


# --- properties and fuzz ---------------------------------------------------------------
@given(st.integers(1, 2500), st.integers(0, 2**32 - 1), st.sampled_from([1, 16, 300, 4095]),
       st.sampled_from([50, 100, 200]))
@prop_settings(40)
def test_random_codes_round_trip(n, seed, step, rate):
    rng = np.random.default_rng(seed)
    codes = np.clip(2000 + np.cumsum(rng.integers(-step, step + 1, (n, 16)), axis=0), 0, 4095)
    pages = encode_data_pages(codes, session_id=3, first_index=2**32 - 5, device_time_us=2**40,
                              sampling_rate_hz=rate, first_seq=10)
    d = decode_log(pages[::-1])
    assert (d.codes == codes).all() and d.page_seq[0] == 10
    assert d.first_index[0] == 2**32 - 5 and (d.first_index < 2**32).all()


@given(st.binary(min_size=0, max_size=3 * PAGE_SIZE), st.booleans(), st.integers(1, 3))
@prop_settings(150)
def test_random_bytes_never_crash(raw, plausible, kind):
    data = bytearray(raw[: len(raw) // PAGE_SIZE * PAGE_SIZE] or raw)
    if plausible:  # valid magic, version, kind and CRC so the body parsers run
        for i in range(len(data) // PAGE_SIZE):
            data[i * PAGE_SIZE:i * PAGE_SIZE + 6] = b"ILOG\x01" + bytes([kind])
            data[i * PAGE_SIZE + 6:i * PAGE_SIZE + 8] = b"\x07\x00"
            data[i * PAGE_SIZE:(i + 1) * PAGE_SIZE] = recrc(data[i * PAGE_SIZE:(i + 1) * PAGE_SIZE])
    try:
        d = decode_log(bytes(data))
    except ProtocolError:
        return
    assert d.codes.shape == (d.count.sum(), 16) and d.codes.max(initial=0) <= 4095


_VALID = session(gait_codes(3000, seed=2))
_VALID_CODES = decode_log(_VALID).codes


@given(st.integers(1, len(_VALID) - 2), st.lists(st.tuples(st.integers(0, PAGE_SIZE - 1), st.integers(0, 255)),
                                                  min_size=1, max_size=8), st.booleans())
@prop_settings(200)
def test_mutated_pages(which, edits, fix_crc):
    page = bytearray(_VALID[which])
    for at, value in edits:
        page[at] = value
    if fix_crc:
        page = bytearray(recrc(page))
    pages = list(_VALID)
    pages[which] = bytes(page)
    d = decode_log(pages)
    assert d.codes.shape == (d.count.sum(), 16) and d.codes.max(initial=0) <= 4095
    if bytes(page) == _VALID[which]:
        assert (d.codes == _VALID_CODES).all()
    elif not fix_crc:  # the CRC catches the edit; the other pages decode as before
        assert d.bad_pages == [which]
        full = decode_log(_VALID)
        assert (d.codes == full.codes[np.repeat(full.page_seq != which, full.count)]).all()
