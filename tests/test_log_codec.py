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


@pytest.mark.parametrize("values, k", [([0] * 16, 15), ([1] * 16, 0), ([2] * 16, 1), ([3] * 16, 1),
                                       ([4] * 16, 2), ([16380] * 16, 13), ([24569] * 16, 14), ([0] * 15 + [1], 0),
                                       ([0] * 15 + [31], 0), ([0] * 15 + [32], 1), ([0] * 15 + [64], 2)])
def test_rice_k_is_the_normative_rule(values, k):
    zz = np.repeat(np.array(values)[:, None], 16, axis=1)
    assert (L.rice_k(zz) == k).all()


def test_rice_k_of_a_short_block_divides_by_m():
    zz = np.zeros((16, 16), dtype=np.int32)
    zz[:4] = 8  # mean over m = 4 is 8 -> k = 3; over 16 it would be 2 -> k = 1
    zz[:, 5] = 0  # all zero: nibble 15 whatever m
    assert (np.delete(L.rice_k(zz, m=4), 5) == 3).all() and (np.delete(L.rice_k(zz), 5) == 1).all()
    assert L.rice_k(zz, m=4)[5] == L.rice_k(zz)[5] == 15


def test_residuals_are_second_order_after_the_first():
    x = np.array([100, 103, 110, 110, 0, 4095, 0])[:, None] * np.ones((1, 16), int)
    e = L.residuals(x)
    assert e[:, 0].tolist() == [3, 4, -7, -110, 4205, -8190]  # x1 - x0, then x_j - 2 x_(j-1) + x_(j-2)
    assert (L.reconstruct(x[0], e) == x).all()


def test_encode_block_layout_by_hand():
    zz = np.zeros((2, 16), dtype=np.int64)
    zz[:, 0] = [4, 6]  # mean 5 -> k = 2: q = 1, 1; r = 0, 2; sensors 1..15 all zero -> nibble 15, no bits
    b = L.encode_block(zz)
    assert b[0] == 0xF2 and b[1:8] == b"\xff" * 7  # sensor 0 low nibble of byte 0
    assert int.from_bytes(b[8:10], "little") == 1 and b[10] == 0b10100000  # 10 10, padded
    assert b[11:] == bytes([0b00100000])  # remainders 00, 10, padded
    assert L.encode_block(np.zeros((16, 16), dtype=np.int64)) == b"\xff" * 8 + bytes(2)  # zero block: 10 bytes


@given(st.integers(1, 16), st.integers(0, 2**32 - 1), st.sampled_from([1, 8, 200, 16380, 24569]), st.integers(0, 16))
@prop_settings(60)
def test_block_round_trip(m, seed, top, n_zero):
    rng = np.random.default_rng(seed)
    zz = rng.integers(0, top + 1, (m, 16))
    zz[:, rng.permutation(16)[:n_zero]] = 0
    data = L.encode_block(zz)
    back, used = L.decode_block(data + b"\xff" * 5, m)
    assert used == len(data) and (back == zz).all()
    assert used == L.block_size(zz)


def rice_block(zz: np.ndarray, nibbles, *, unary: bytes | None = None) -> bytes:
    """A block with the given nibbles (not the encoder's rule), bit by bit."""
    ubits, rbits = [], []
    for s, k in enumerate(nibbles):
        if k == 15:
            assert not zz[:, s].any()
            continue
        for v in zz[:, s]:
            ubits += [1] * (int(v) >> k) + [0]
            rbits += [(int(v) >> (k - 1 - i)) & 1 for i in range(k)]
    u = np.packbits(np.array(ubits, np.uint8)).tobytes() if unary is None else unary
    nib = bytes(nibbles[i] | nibbles[i + 1] << 4 for i in range(0, 16, 2))
    return nib + len(u).to_bytes(2, "little") + u + np.packbits(np.array(rbits, np.uint8)).tobytes()


def data_page(ref, blocks: list[bytes], n: int, *, seq: int = 1) -> bytes:
    """A data page built by hand from its reference codes and block bytes."""
    body = L._pack12(np.asarray(ref).reshape(1, 16)).tobytes() + b"".join(blocks)
    h = L._page_header(kind=L.PageKind.DATA, session_id=SESSION, seq=seq, first_index=0, device_time_us=0,
                       n_samples=n, n_records=0, battery=255, temperature=-32768, body_used=len(body))
    return L._finish_page(h, body)


def test_decode_block_accepts_k14_and_zero_nibble():
    zz = np.zeros((3, 16), dtype=np.int64)
    zz[:, 1] = [5, 16383, 20000]  # k = 14: q = 0, 0, 1
    nib = [15, 14] + [15] * 14
    back, used = L.decode_block(rice_block(zz, nib), 3)
    assert (back == zz).all() and used == 10 + 1 + 6  # U: 0 0 10 -> 1 byte; R: 3 x 14 bits -> 6 bytes


def test_decode_block_rejects_bad_blocks():
    good = L.encode_block(np.ones((4, 16), dtype=np.int64))
    with pytest.raises(ProtocolError):
        L.decode_block(good[:-1], 4)  # remainder runs past the data
    with pytest.raises(ProtocolError):
        L.decode_block(good[:10] + b"\xff" * (len(good) - 10), 4)  # no terminators
    with pytest.raises(ProtocolError):
        L.decode_block(good[:5], 4)  # shorter than its header


def test_page_crc_is_zlib_over_bytes_0_to_4091():
    page = encode_header_page(header())
    assert L.page_crc(page) == zlib.crc32(page[:4092]) == int.from_bytes(page[4092:], "little")


# --- round trips ---------------------------------------------------------------
@pytest.mark.parametrize("kind", ["random", "constant", "ramp", "jumps", "alternate", "gait", "one", "two", "17",
                                  "18", "33"])
def test_round_trip(kind):
    rng = np.random.default_rng(1)
    n = {"one": 1, "two": 2, "17": 17, "18": 18, "33": 33}.get(kind, 4000)
    codes = {
        "random": lambda: rng.integers(0, 4096, (n, 16)),
        "constant": lambda: np.full((n, 16), 1234),
        "ramp": lambda: (np.arange(n)[:, None] * np.arange(1, 17)) % 4096,
        "jumps": lambda: np.where((np.arange(n) // 3 % 2)[:, None] == 1, 4095, 0) * np.ones((1, 16), int),
        "alternate": lambda: (np.arange(n)[:, None] + np.arange(16)) % 2 * 4095,  # residuals +-8190
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


def test_second_order_extremes_use_k13():
    codes = (np.arange(40)[:, None] + np.arange(16)) % 2 * 4095
    page = encode_data_pages(codes, session_id=1, first_index=0, device_time_us=0, sampling_rate_hz=RATE_HZ)[0]
    zz = L.zigzag(L.residuals(codes))
    assert zz.max() == 16380 and (L.rice_k(zz[16:32]) == 13).all()
    assert page[32 + 24:32 + 24 + 8] == bytes([0xDD] * 8)  # first block too (e_1 = +-4095, then +-8190): k = 13
    assert (decode_log([page]).codes == codes).all()


def page_zz(codes: np.ndarray, s0: int, n: int) -> np.ndarray:
    """Zigzagged residuals of the page of samples s0 .. s0 + n - 1."""
    return L.zigzag(L.residuals(codes[s0:s0 + n].astype(np.int32)))


def test_pages_are_filled_with_whole_blocks():
    codes = gait_codes(20_000)
    pages = encode_data_pages(codes, session_id=SESSION, first_index=0, device_time_us=0, sampling_rate_hz=RATE_HZ)
    s0 = 0
    for p in pages[:-1]:
        n, used = field(p, "n_samples"), field(p, "body_used")
        assert (n - 1) % 16 == 0 and used <= BODY_SIZE
        nxt = L.block_size(page_zz(codes, s0, n + 16)[n - 1:])  # the page's next block, residuals continued
        assert used + nxt > BODY_SIZE  # the next block would not have fitted
        assert p[32 + used:4092] == b"\xff" * (BODY_SIZE - used)
        s0 += n
    assert sum(field(p, "n_samples") for p in pages) == len(codes)


def test_vectorised_encoder_matches_reference_blocks():
    codes = gait_codes(3000, seed=4)
    pages = encode_data_pages(codes, session_id=1, first_index=0, device_time_us=0, sampling_rate_hz=RATE_HZ)
    s0 = 0
    for page in pages:
        n = field(page, "n_samples")
        zz = page_zz(codes, s0, n)
        blocks = b"".join(L.encode_block(zz[i:i + 16]) for i in range(0, n - 1, 16))
        assert page[32:32 + field(page, "body_used")] == L._pack12(codes[s0:s0 + 1]).tobytes() + blocks
        s0 += n


def test_exactly_full_page_round_trips():
    # one varied block of S bytes + c all-zero blocks of 10 bytes + the 24-byte reference fill 4060 bytes exactly
    rng = np.random.default_rng(3)
    for _ in range(2000):
        head = np.full((17, 16), 2000)
        head[1:16, :2] = 2000 + np.cumsum(rng.integers(-6, 7, (15, 2)), axis=0)
        head[16] = head[15]  # slope 0 at the end: the constant run after it has residuals 0
        size = int(L.block_size(page_zz(head, 0, 17)))
        if (BODY_SIZE - 24 - size) % 10 == 0:
            break
    else:
        raise AssertionError("no block of the size wanted")
    c = (BODY_SIZE - 24 - size) // 10
    codes = np.concatenate([head, np.repeat(head[16:], 16 * c, axis=0), rng.integers(0, 4096, (100, 16))])
    pages = encode_data_pages(codes, session_id=1, first_index=0, device_time_us=0, sampling_rate_hz=RATE_HZ)
    assert field(pages[0], "body_used") == BODY_SIZE and field(pages[0], "n_samples") == 1 + 16 * (1 + c)
    assert (decode_log(pages).codes == codes).all()


def test_constant_signal_fills_pages_with_header_only_blocks():
    codes = np.full((20_000, 16), 321)
    pages = encode_data_pages(codes, session_id=1, first_index=0, device_time_us=0, sampling_rate_hz=RATE_HZ)
    assert field(pages[0], "n_samples") == 1 + 16 * L.MAX_BLOCKS and field(pages[0], "body_used") == 24 + 4030
    assert (decode_log(pages).codes == codes).all()


# --- hand-built pages: the decoder's side of the rules ------------------------------
def test_residuals_count_across_blocks_of_a_page():
    zz = np.zeros((32, 16), dtype=np.int64)
    zz[0] = L.zigzag(np.arange(16) - 8)  # e_1 = slope; every later residual 0: a ramp over both blocks
    page = data_page(np.full(16, 2000), [L.encode_block(zz[:16]), L.encode_block(zz[16:])], 33)
    d = decode_log([page])
    assert d.problems == {} and (d.codes == 2000 + np.arange(33)[:, None] * (np.arange(16) - 8)).all()


def test_decoder_accepts_k14_and_zero_nibbles_in_a_page():
    zz = np.zeros((5, 16), dtype=np.int64)
    zz[:, 3] = [4, 0, 0, 3, 0]  # e = +2, 0, 0, -2, 0
    page = data_page(np.full(16, 100), [rice_block(zz, [15, 15, 15, 14] + [15] * 12)], 6)
    d = decode_log([page])
    assert d.problems == {} and d.codes[:, 3].tolist() == [100, 102, 104, 106, 106, 106]
    assert (np.delete(d.codes, 3, axis=1) == 100).all()


def test_corrupt_reconstruction_is_rejected():
    zz = np.zeros((16, 16), dtype=np.int64)
    zz[0] = 20  # e_1 = +10, then 0: x_j = x_0 + 10 j (a plain delta decoder would stay at x_0 + 10)
    block = L.encode_block(zz)
    fine = data_page(np.full(16, 3000), [block], 17, seq=1)
    high = data_page(np.full(16, 4000), [block], 17, seq=2)  # 4000 + 160 > 4095
    d = decode_log([fine, high])
    assert d.problems == {"corrupt": 1} and d.bad_pages == [1]
    assert (d.codes == 3000 + 10 * np.arange(17)[:, None]).all()


def test_too_few_terminators_and_overrun_are_corrupt():
    zz = np.full((16, 16), 2, dtype=np.int64)  # e = +1: x_j = 100 + j (j + 1) / 2
    good = rice_block(zz, [0] * 16)  # k = 0 forced: 256 values of "110", 96 unary bytes, no remainders
    no_terms = rice_block(zz, [0] * 16, unary=b"\xff" * 96)
    short_u = good[:8] + (95).to_bytes(2, "little") + good[10:10 + 95]  # 253 terminators
    cases = [data_page(np.full(16, 100), [b], 17, seq=i + 1) for i, b in enumerate([good, no_terms, short_u])]
    cases.append(data_page(np.full(16, 100), [good[:-1]], 17, seq=4))  # the unary stream runs past the section
    d = decode_log(cases)
    assert d.problems == {"corrupt": 3} and d.bad_pages == [1, 2, 3]
    assert (d.codes == 100 + (np.arange(17) * np.arange(1, 18) // 2)[:, None]).all()


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


@pytest.mark.parametrize("chunk", [1, 700, 12_000])
def test_decode_in_chunks_of_samples_is_the_same(monkeypatch, chunk):
    codes = gait_codes(8000, seed=6)
    pages = session(codes)
    bad = bytearray(pages[5])
    bad[40] ^= 0x01
    pages[5] = recrc(bad)  # a valid CRC over damaged samples: only the decoder can tell
    whole = decode_log(pages)
    assert whole.problems == {"corrupt": 1} and whole.bad_pages == [5]
    monkeypatch.setattr(L, "_DECODE_CHUNK_ROWS", chunk)
    d = decode_log(pages)
    assert d.problems == whole.problems and d.bad_pages == whole.bad_pages and (d.codes == whole.codes).all()
    keep = np.repeat(np.isin(np.arange(1, len(pages) - 1), d.page_seq), session_counts(pages))
    assert (d.codes == codes[keep]).all()


def session_counts(pages: list[bytes]) -> np.ndarray:
    return np.array([field(p, "n_samples") for p in pages[1:-1]])


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
