"""Insole protocol v1 codec against the firmware test vectors, round trips,
and property-based fuzzing.

The vectors in ``firmware_specs/test_vectors.json`` come from an independent
standard-library implementation (``firmware_specs/make_test_vectors.py``), so
agreement here cross-checks the numpy codec in ``insole/protocol``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from insole import constants
from insole.errors import ProtocolError
from insole.protocol import (
    Command,
    Opcode,
    SensorLayout,
    Status,
    decode_command,
    decode_layout,
    decode_packet,
    decode_packets,
    decode_status,
    encode_command,
    encode_layout,
    encode_packet,
    encode_status,
    max_samples_per_packet,
    reference_layout,
)
from insole.protocol.packet import REASONS

ROOT = Path(__file__).parents[1]
SPECS = ROOT / "firmware_specs"
VECTORS_PATH = SPECS / "test_vectors.json"
VECTORS = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))

#: vector error name -> reason code of decode_packets
REASON_CODE = {"short": 1, "unknown_version": 2, "bad_rate": 3, "zero_count": 4, "truncated": 5, "oversized": 6}

PACKETS = VECTORS["packets"]
VALID_PACKETS = [v for v in PACKETS if v["valid"]]
INVALID_PACKETS = [v for v in PACKETS if not v["valid"]]

FUZZ = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _ids(vectors):
    return [v["name"] for v in vectors]


def _payload(vector) -> bytes:
    return bytes.fromhex(vector["hex"])


# --------------------------------------------------------------------------
# (a) known-answer tests against the vectors
# --------------------------------------------------------------------------
def test_vector_file_basics():
    assert VECTORS["protocol_version"] == constants.PROTOCOL_VERSION
    names = [v["name"] for v in PACKETS]
    assert len(names) == len(set(names))
    assert {v["error"] for v in INVALID_PACKETS} == set(REASON_CODE)
    assert set(REASON_CODE.values()) == set(REASONS)


@pytest.mark.parametrize("vector", VALID_PACKETS, ids=_ids(VALID_PACKETS))
def test_valid_packet_vector_decodes(vector):
    exp = vector["expected"]
    p = decode_packet(_payload(vector))
    assert p.version == exp["version"]
    assert p.flags == exp["flags"]
    assert p.first_index == exp["first_index"]
    assert p.device_time_us == exp["device_time_us"]
    assert p.sampling_rate_hz == exp["sampling_rate_hz"]
    assert p.count == exp["sample_count"]
    assert (p.imu is not None) == exp["imu_present"]
    assert p.zeroed == exp["zeroed"]
    assert p.time_synced == exp["time_synced"]
    assert p.saturated == exp["saturated"]
    assert p.raw.shape == (exp["sample_count"], constants.N_SENSORS)
    assert p.raw.tolist() == exp["raw"]
    if exp["imu"] is None:
        assert p.imu is None
    else:
        assert p.imu.shape == (exp["sample_count"], 6)
        assert p.imu.tolist() == exp["imu"]
    kpa = p.raw * constants.DEFAULT_PRESSURE_LSB_KPA
    assert kpa.tolist() == exp["pressure_kpa"]


@pytest.mark.parametrize("vector", INVALID_PACKETS, ids=_ids(INVALID_PACKETS))
def test_invalid_packet_vector_raises(vector):
    with pytest.raises(ProtocolError):
        decode_packet(_payload(vector))


@pytest.mark.parametrize("vector", INVALID_PACKETS, ids=_ids(INVALID_PACKETS))
def test_invalid_packet_vector_reason(vector):
    batch = decode_packets([_payload(vector)])
    assert batch.reasons.tolist() == [REASON_CODE[vector["error"]]]
    assert batch.raw.shape == (0, constants.N_SENSORS)
    assert batch.sample_index.size == 0


def test_decode_packets_all_vectors_at_once():
    payloads = [_payload(v) for v in PACKETS]
    batch = decode_packets(payloads)
    assert len(batch.reasons) == len(payloads)
    expected_reasons = [0 if v["valid"] else REASON_CODE[v["error"]] for v in PACKETS]
    assert batch.reasons.tolist() == expected_reasons
    assert batch.valid.tolist() == [v["valid"] for v in PACKETS]

    raw, imu, index, has_imu, packet_of = [], [], [], [], []
    for pos, v in enumerate(PACKETS):
        if not v["valid"]:
            continue
        exp = v["expected"]
        raw += exp["raw"]
        index += exp["sample_index"]
        packet_of += [pos] * exp["sample_count"]
        has_imu += [exp["imu_present"]] * exp["sample_count"]
        imu += exp["imu"] if exp["imu_present"] else [[0] * 6] * exp["sample_count"]
        assert batch.flags[pos] == exp["flags"]
        assert batch.first_index[pos] == exp["first_index"]
        assert int(batch.device_time_us[pos]) == exp["device_time_us"]
        assert batch.sampling_rate_hz[pos] == exp["sampling_rate_hz"]
        assert batch.count[pos] == exp["sample_count"]
    assert batch.raw.tolist() == raw
    assert batch.sample_index.tolist() == index
    assert batch.sample_packet.tolist() == packet_of
    assert batch.sample_has_imu.tolist() == has_imu
    assert batch.imu is not None and batch.imu.tolist() == imu
    assert (batch.sampling_rate_hz[~batch.valid] == 0).all()
    counts = batch.reason_counts()
    assert sum(counts.values()) == len(INVALID_PACKETS)


def test_index_wrap_is_not_reduced():
    v = next(v for v in PACKETS if v["name"] == "index_wrap")
    batch = decode_packets([_payload(v)])
    assert batch.sample_index.tolist() == [2**32 - 1, 2**32]
    assert v["expected"]["sample_index"] == [2**32 - 1, 2**32]
    assert decode_packet(_payload(v)).first_index == 2**32 - 1


def test_index_continues_across_wrap():
    """index_after_wrap follows index_wrap: the gap modulo 2**32 is the previous packet's count, no loss."""
    by_name = {v["name"]: v for v in PACKETS}
    a, b = by_name["index_wrap"]["expected"], by_name["index_after_wrap"]["expected"]
    batch = decode_packets([_payload(by_name["index_wrap"]), _payload(by_name["index_after_wrap"])])
    assert batch.sample_index.tolist() == [2**32 - 1, 2**32, 1]
    assert (b["first_index"] - a["first_index"]) % 2**32 == a["sample_count"]
    period_us = 1_000_000 // a["sampling_rate_hz"]
    assert b["device_time_us"] - a["device_time_us"] == a["sample_count"] * period_us


def test_decode_packets_every_vector_order():
    """Each valid vector alone, reversed and repeated gives the same samples (exercises both gather paths)."""
    payloads = [_payload(v) for v in VALID_PACKETS]
    for seq in (payloads[::-1], payloads * 2, [payloads[0]] * 5):
        batch = decode_packets(seq)
        assert batch.valid.all()
        expected = [row for p in seq for row in decode_packet(p).raw.tolist()]
        assert batch.raw.tolist() == expected


@pytest.mark.parametrize("vector", [v for v in VALID_PACKETS if v["expected"]["reserved_bits"] == 0],
                         ids=_ids([v for v in VALID_PACKETS if v["expected"]["reserved_bits"] == 0]))
def test_encode_packet_reproduces_vector(vector):
    exp = vector["expected"]
    out = encode_packet(
        np.array(exp["raw"]),
        first_index=exp["first_index"],
        device_time_us=exp["device_time_us"],
        sampling_rate_hz=exp["sampling_rate_hz"],
        imu=None if exp["imu"] is None else np.array(exp["imu"]),
        zeroed=exp["zeroed"],
        time_synced=exp["time_synced"],
    )
    assert out.hex() == vector["hex"]


def test_reserved_bit_vectors_exist_and_are_ignored():
    reserved = [v for v in VALID_PACKETS if v["expected"]["reserved_bits"]]
    assert reserved
    for v in reserved:
        payload = bytearray(_payload(v))
        cleared = bytes(payload[:1]) + bytes([payload[1] & 0x3F]) + bytes(payload[2:])
        a, b = decode_packet(bytes(payload)), decode_packet(cleared)
        assert a.raw.tolist() == b.raw.tolist()
        assert (a.sampling_rate_hz, a.first_index, a.device_time_us) == (b.sampling_rate_hz, b.first_index,
                                                                         b.device_time_us)


LAYOUTS = VECTORS["layouts"]


@pytest.mark.parametrize("vector", LAYOUTS, ids=_ids(LAYOUTS))
def test_layout_vector(vector):
    payload = _payload(vector)
    if not vector["valid"]:
        with pytest.raises(ProtocolError):
            decode_layout(payload)
        return
    exp = vector["expected"]
    lay = decode_layout(payload)
    assert lay.side == exp["side"]
    assert lay.size_eu == exp["size_eu"]
    assert lay.length_mm == exp["length_mm"]
    assert lay.width_mm == exp["width_mm"]
    assert lay.pressure_lsb_kpa == exp["pressure_lsb_kpa"]
    assert lay.x_mm.tolist() == exp["x_mm"]
    assert lay.y_mm.tolist() == exp["y_mm"]
    assert lay.area_mm2.tolist() == exp["area_mm2"]
    assert encode_layout(lay).hex() == vector["hex"]
    assert encode_layout(SensorLayout.from_dict(exp)).hex() == vector["hex"]


@pytest.mark.parametrize("side", constants.SIDES)
def test_reference_layout_matches_vector(side):
    """constants.REFERENCE_LAYOUT and the generator's own copy agree."""
    v = next(v for v in LAYOUTS if v["name"] == f"reference_{side}_eu42")
    assert encode_layout(reference_layout(side)).hex() == v["hex"]
    assert len(_payload(v)) == 106
    assert _payload(v)[1] == constants.SIDE_CODE[side]


CONTROL = VECTORS["control"]


@pytest.mark.parametrize("vector", CONTROL, ids=_ids(CONTROL))
def test_control_vector(vector):
    payload = _payload(vector)
    if not vector["valid"]:
        with pytest.raises(ProtocolError) as info:
            decode_command(payload)
        assert info.value.att_error == vector["att_error"]
        assert vector["att_error"] in (0x80, 0x81)
        return
    exp = vector["expected"]
    cmd = decode_command(payload)
    assert cmd == Command(Opcode[exp["opcode"]], exp["value"])
    assert encode_command(cmd.opcode, cmd.value).hex() == vector["hex"]
    if "state" in vector:
        # well-formed: only the device's state can refuse it, with 0x82
        assert vector["att_error"] == 0x82


def test_control_vectors_cover_every_opcode_and_error():
    assert {v["expected"]["opcode"] for v in CONTROL if v["valid"]} == {op.name for op in Opcode}
    assert {v["att_error"] for v in CONTROL if "att_error" in v} == {0x80, 0x81, 0x82}


STATUS = VECTORS["status"]


@pytest.mark.parametrize("vector", STATUS, ids=_ids(STATUS))
def test_status_vector(vector):
    payload = _payload(vector)
    if not vector["valid"]:
        with pytest.raises(ProtocolError):
            decode_status(payload)
        return
    status = decode_status(payload)
    assert status == Status(**vector["expected"])
    if payload[1] & 0x80 == 0:  # reserved bit 7 is not reproduced
        assert encode_status(status).hex() == vector["hex"]


@pytest.mark.parametrize("vector", VECTORS["advertising"], ids=_ids(VECTORS["advertising"]))
def test_advertising_vector(vector):
    side = vector["side"]
    assert vector["service_uuid"] == constants.SERVICE_UUID
    assert vector["local_name"] == constants.ADVERTISED_NAMES[side]
    name = constants.ADVERTISED_NAMES[side].encode("ascii")
    expected = (bytes([2, 0x01, 0x06])
                + bytes([17, 0x07]) + uuid.UUID(constants.SERVICE_UUID).bytes[::-1]
                + bytes([len(name) + 1, 0x08]) + name)
    assert len(expected) == 31
    assert vector["hex"] == expected.hex()
    assert "".join(s["hex"] for s in vector["structures"]) == vector["hex"]
    assert name[-1:] == {"left": b"L", "right": b"R"}[side]


@pytest.mark.parametrize("row", VECTORS["batching"],
                         ids=[f"mtu{r['att_mtu']}-{r['sampling_rate_hz']}hz-{'imu' if r['imu'] else 'noimu'}"
                              for r in VECTORS["batching"]])
def test_batching_rule(row):
    kw = dict(att_mtu=row["att_mtu"], sampling_rate_hz=row["sampling_rate_hz"], imu=row["imu"])
    if row["samples_per_packet"] == 0:
        with pytest.raises(ProtocolError):
            max_samples_per_packet(**kw)
    else:
        assert max_samples_per_packet(**kw) == row["samples_per_packet"]


def test_batching_headline_numbers():
    assert max_samples_per_packet(att_mtu=247, sampling_rate_hz=200) == 8
    assert max_samples_per_packet(att_mtu=247, sampling_rate_hz=100) == 4
    assert max_samples_per_packet(att_mtu=247, sampling_rate_hz=50) == 2
    assert max_samples_per_packet(att_mtu=247, sampling_rate_hz=200, imu=True) == 6
    assert max_samples_per_packet(att_mtu=42, sampling_rate_hz=200) == 1
    with pytest.raises(ProtocolError):
        max_samples_per_packet(att_mtu=41, sampling_rate_hz=200)
    with pytest.raises(ProtocolError):
        max_samples_per_packet(att_mtu=23, sampling_rate_hz=50)


# --------------------------------------------------------------------------
# (b) round trips
# --------------------------------------------------------------------------
@pytest.mark.parametrize("side", constants.SIDES)
@pytest.mark.parametrize("size_eu", [36, 42, 47])
def test_layout_round_trip(side, size_eu):
    lay = reference_layout(side, size_eu=size_eu)
    back = decode_layout(encode_layout(lay))
    assert back == lay
    assert encode_layout(back) == encode_layout(lay)


@pytest.mark.parametrize("opcode,value", [
    (Opcode.START_STREAM, None), (Opcode.STOP_STREAM, None), (Opcode.SET_RATE, 50), (Opcode.SET_RATE, 100),
    (Opcode.SET_RATE, 200), (Opcode.ZERO, 0), (Opcode.ZERO, 2000), (Opcode.TIME_SYNC, 0),
    (Opcode.TIME_SYNC, 2**64 - 1), (Opcode.IDENTIFY, 3), (Opcode.SET_IMU, 0), (Opcode.SET_IMU, 1),
])
def test_command_round_trip(opcode, value):
    assert decode_command(encode_command(opcode, value)) == Command(opcode, value)


@pytest.mark.parametrize("opcode,value", [
    (Opcode.START_STREAM, 1), (Opcode.SET_RATE, None), (Opcode.SET_RATE, 2), (Opcode.SET_RATE, 150),
    (Opcode.ZERO, -1), (Opcode.ZERO, 65536), (Opcode.TIME_SYNC, 2**64), (Opcode.IDENTIFY, 256),
])
def test_encode_command_rejects_bad_parameters(opcode, value):
    with pytest.raises(ProtocolError):
        encode_command(opcode, value)


def test_status_round_trip():
    s = Status(battery_pct=42, streaming=True, imu_on=True, sampling_rate_hz=200, samples_per_packet=6,
               device_dropped_samples=3)
    assert decode_status(encode_status(s)) == s


def test_decode_packets_empty_input():
    batch = decode_packets([])
    assert batch.reasons.size == 0 and batch.sample_index.size == 0
    assert batch.raw.shape == (0, constants.N_SENSORS)
    assert batch.imu is None


def test_encode_packet_rejects_bad_input():
    ok = np.zeros((1, 16), dtype=int)
    with pytest.raises(ProtocolError):
        encode_packet(np.zeros((0, 16)), first_index=0, device_time_us=0, sampling_rate_hz=100)
    with pytest.raises(ProtocolError):
        encode_packet(np.zeros((256, 16)), first_index=0, device_time_us=0, sampling_rate_hz=100)
    with pytest.raises(ProtocolError):
        encode_packet(np.zeros((1, 15)), first_index=0, device_time_us=0, sampling_rate_hz=100)
    with pytest.raises(ProtocolError):
        encode_packet(ok + 4096, first_index=0, device_time_us=0, sampling_rate_hz=100)
    with pytest.raises(ProtocolError):
        encode_packet(ok - 1, first_index=0, device_time_us=0, sampling_rate_hz=100)
    with pytest.raises(ProtocolError):
        encode_packet(ok, first_index=0, device_time_us=0, sampling_rate_hz=150)
    with pytest.raises(ProtocolError):
        encode_packet(ok, first_index=0, device_time_us=0, sampling_rate_hz=100, imu=np.zeros((2, 6)))


# --------------------------------------------------------------------------
# (c) property-based tests
# --------------------------------------------------------------------------
codes = st.integers(0, 0xFFF)
i16 = st.integers(-32768, 32767)


@st.composite
def packet_inputs(draw):
    n = draw(st.integers(1, 20))
    raw = draw(st.lists(st.lists(codes, min_size=16, max_size=16), min_size=n, max_size=n))
    with_imu = draw(st.booleans())
    imu = draw(st.lists(st.lists(i16, min_size=6, max_size=6), min_size=n, max_size=n)) if with_imu else None
    return dict(
        raw=np.array(raw, dtype=np.int64),
        imu=None if imu is None else np.array(imu, dtype=np.int64),
        first_index=draw(st.integers(0, 2**32 - 1)),
        device_time_us=draw(st.integers(0, 2**64 - 1)),
        sampling_rate_hz=draw(st.sampled_from(constants.SAMPLING_RATES_HZ)),
        zeroed=draw(st.booleans()),
        time_synced=draw(st.booleans()),
    )


@st.composite
def near_valid_packets(draw):
    """A valid packet, then maybe one field or the length disturbed: reaches every decoder branch."""
    payload = bytearray(encode_packet(**draw(packet_inputs())))
    mutation = draw(st.sampled_from(["none", "version", "flags", "count", "cut", "extend", "byte"]))
    if mutation == "version":
        payload[0] = draw(st.integers(0, 255))
    elif mutation == "flags":
        payload[1] = draw(st.integers(0, 255))
    elif mutation == "count":
        payload[14] = draw(st.integers(0, 255))
    elif mutation == "cut":
        del payload[draw(st.integers(0, len(payload) - 1)):]
    elif mutation == "extend":
        payload += draw(st.binary(min_size=1, max_size=40))
    elif mutation == "byte":
        payload[draw(st.integers(0, len(payload) - 1))] = draw(st.integers(0, 255))
    return bytes(payload)


any_payload = st.one_of(st.binary(max_size=600), near_valid_packets())


@FUZZ
@given(st.binary(max_size=600))
def test_decode_packet_random_bytes_only_protocol_error(data):
    try:
        p = decode_packet(data)
    except ProtocolError:
        return
    assert p.raw.shape == (p.count, 16) and p.count >= 1
    assert len(data) == 15 + p.count * (36 if p.imu is not None else 24)


@FUZZ
@given(near_valid_packets())
def test_decode_packet_near_valid_only_protocol_error(data):
    try:
        p = decode_packet(data)
    except ProtocolError:
        return
    assert len(data) == 15 + p.count * (36 if p.imu is not None else 24)
    assert int(p.raw.max()) <= 0xFFF


@FUZZ
@given(st.lists(any_payload, max_size=12))
def test_decode_packets_random_lists(payloads):
    batch = decode_packets(payloads)
    assert len(batch.reasons) == len(payloads)
    valid = batch.reasons == 0
    n = int(batch.count[valid].astype(int).sum())
    assert batch.raw.shape == (n, 16)
    assert batch.sample_index.size == n
    assert batch.sample_packet.size == n
    assert batch.sample_has_imu.size == n
    if batch.imu is not None:
        assert batch.imu.shape == (n, 6)
    # consistent with decoding one at a time
    rows, imu_rows, index = [], [], []
    for pos, payload in enumerate(payloads):
        try:
            p = decode_packet(payload)
        except ProtocolError:
            assert batch.reasons[pos] != 0
            continue
        assert batch.reasons[pos] == 0
        rows += p.raw.tolist()
        index += [p.first_index + k for k in range(p.count)]
        imu_rows += p.imu.tolist() if p.imu is not None else [[0] * 6] * p.count
    assert batch.raw.tolist() == rows
    assert batch.sample_index.tolist() == index
    if batch.imu is not None:
        assert batch.imu.tolist() == imu_rows


@FUZZ
@given(packet_inputs())
def test_encode_decode_round_trip(inputs):
    payload = encode_packet(**inputs)
    n = inputs["raw"].shape[0]
    assert len(payload) == 15 + n * (36 if inputs["imu"] is not None else 24)
    p = decode_packet(payload)
    assert p.raw.tolist() == inputs["raw"].tolist()
    if inputs["imu"] is None:
        assert p.imu is None
    else:
        assert p.imu.tolist() == inputs["imu"].tolist()
    assert p.first_index == inputs["first_index"]
    assert p.device_time_us == inputs["device_time_us"]
    assert p.sampling_rate_hz == inputs["sampling_rate_hz"]
    assert p.zeroed == inputs["zeroed"]
    assert p.time_synced == inputs["time_synced"]
    assert p.saturated == bool((inputs["raw"] == 0xFFF).any())
    assert p.flags & 0xC0 == 0


@FUZZ
@given(st.lists(packet_inputs(), min_size=1, max_size=6))
def test_decode_packets_round_trip_many(inputs):
    payloads = [encode_packet(**kw) for kw in inputs]
    batch = decode_packets(payloads)
    assert batch.valid.all()
    assert batch.raw.tolist() == [row for kw in inputs for row in kw["raw"].tolist()]
    assert batch.sample_index.tolist() == [kw["first_index"] + k for kw in inputs for k in range(len(kw["raw"]))]


@FUZZ
@given(st.binary(max_size=200))
def test_decode_layout_random_bytes(data):
    try:
        decode_layout(data)
    except ProtocolError:
        pass


@FUZZ
@given(st.binary(min_size=10, max_size=10).map(lambda h: b"\x01" + bytes([h[1] % 2]) + h[2:3] + b"\x10" + h[4:])
       .flatmap(lambda head: st.binary(min_size=96, max_size=96).map(lambda body: head + body)))
def test_decode_layout_random_valid_shape(data):
    try:
        lay = decode_layout(data)
    except ProtocolError:
        assert data[8:10] == b"\x00\x00"  # only a zero LSB is left to reject
        return
    assert encode_layout(lay) == data


@FUZZ
@given(st.binary(max_size=20))
def test_decode_command_random_bytes(data):
    try:
        cmd = decode_command(data)
    except ProtocolError as exc:
        assert exc.att_error in (0x80, 0x81)
        return
    assert encode_command(cmd.opcode, cmd.value) == data


@FUZZ
@given(st.binary(max_size=20))
def test_decode_status_random_bytes(data):
    try:
        s = decode_status(data)
    except ProtocolError:
        return
    assert encode_status(s) == data[:1] + bytes([data[1] & 0x7F]) + data[2:]


def test_spec_examples_are_vectors():
    """Every vector the spec names exists, and every hex string it quotes in full is a vector's hex."""
    import re

    doc = (SPECS / "protocol_v1.md").read_text(encoding="utf-8")
    all_vectors = [v for key in ("packets", "layouts", "control", "status", "advertising") for v in VECTORS[key]]
    names = {v["name"] for v in all_vectors}
    hexes = {v["hex"] for v in all_vectors}
    cited = set(re.findall(r"vectors? `([a-z0-9_]+)`", doc))
    assert cited and cited <= names, cited - names
    quoted = re.findall(r"`([0-9a-f]{16,})`", doc)
    assert quoted and set(quoted) <= hexes


# --------------------------------------------------------------------------
# (d) the committed vectors are what the generator writes
# --------------------------------------------------------------------------
def test_vectors_are_up_to_date(tmp_path):
    out = tmp_path / "test_vectors.json"
    subprocess.run([sys.executable, str(SPECS / "make_test_vectors.py"), "-o", str(out)], check=True,
                   capture_output=True, cwd=tmp_path)
    assert out.read_bytes() == VECTORS_PATH.read_bytes(), (
        "firmware_specs/test_vectors.json is stale: run python firmware_specs/make_test_vectors.py")


def test_generator_does_not_import_insole():
    source = (SPECS / "make_test_vectors.py").read_text(encoding="utf-8")
    assert "import insole" not in source and "from insole" not in source
    code = (f"import runpy, sys; g = runpy.run_path({str(SPECS / 'make_test_vectors.py')!r}, run_name='gen'); g['build'](); "
            "assert not any(m == 'insole' or m.startswith('insole.') for m in sys.modules), 'imported insole'; "
            "assert 'numpy' not in sys.modules, 'imported numpy'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=SPECS)
