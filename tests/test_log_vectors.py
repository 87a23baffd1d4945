"""Protocol v1.1 (on-insole log) host codec against the firmware test vectors.

The vectors in ``firmware_specs/log_vectors.json`` come from an independent
standard-library implementation (``firmware_specs/make_log_vectors.py``), so
agreement here cross-checks ``insole.protocol.log`` (log format 1),
``insole.protocol.logctl`` (commands, chunks, Log info) and
``insole.protocol.auth`` (claiming, command tags) byte for byte.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from insole.errors import LogFormatError, ProtocolError

ROOT = Path(__file__).parents[1]
SPECS = ROOT / "firmware_specs"
VECTORS_PATH = SPECS / "log_vectors.json"
VECTORS = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))
PAGES = VECTORS["pages"]
VALID_PAGES = [v for v in PAGES if v["valid"]]
ENCODED_PAGES = [v for v in VALID_PAGES if v["encoder_output"]]  # the others: legal, decoders accept them
INVALID_PAGES = [v for v in PAGES if not v["valid"]]
HEADER_VECTOR = next(v for v in PAGES if v["name"] == "session_header")  # session 7, like the other page vectors


def _ids(vectors):
    return [v["name"] for v in vectors]


def _hex(text: str) -> bytes:
    return bytes.fromhex(text)


# --------------------------------------------------------------------------
# (a) the committed vectors are what the generator writes; the generator is independent
# --------------------------------------------------------------------------
def test_vectors_are_up_to_date(tmp_path):
    out = tmp_path / "log_vectors.json"
    subprocess.run([sys.executable, str(SPECS / "make_log_vectors.py"), "-o", str(out)], check=True,
                   capture_output=True, cwd=tmp_path)
    assert out.read_bytes() == VECTORS_PATH.read_bytes(), (
        "firmware_specs/log_vectors.json is stale: run python firmware_specs/make_log_vectors.py")


def test_generator_does_not_import_insole():
    source = (SPECS / "make_log_vectors.py").read_text(encoding="utf-8")
    assert "import insole" not in source and "from insole" not in source
    code = (f"import runpy, sys; g = runpy.run_path({str(SPECS / 'make_log_vectors.py')!r}, run_name='gen'); "
            "g['build'](); "
            "assert not any(m == 'insole' or m.startswith('insole.') for m in sys.modules), 'imported insole'; "
            "assert 'numpy' not in sys.modules and 'cryptography' not in sys.modules, 'not stdlib only'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=SPECS)


def test_vector_file_basics():
    assert VECTORS["log_format_version"] == 1
    assert VECTORS["crc"][0]["crc32_hex"] == "cbf43926"
    names = _ids(PAGES)
    assert len(names) == len(set(names))
    assert {v["error"] for v in INVALID_PAGES} == {"erased", "crc", "bad_magic", "unknown_version", "corrupt"}
    assert all(len(_hex(v["hex"])) == 4096 for v in PAGES)


def test_vectors_cover_the_block_format():
    blocks = VECTORS["blocks"]
    encoded = [b for b in blocks if b["encoder_output"]]
    nibbles = {k for b in encoded for k in b["k"]}
    assert 15 in nibbles and 13 in nibbles and max(nibbles - {15}) == 13  # the rule never gives 14
    assert 14 in {k for b in blocks if not b["encoder_output"] for k in b["k"]}
    assert {b["m"] for b in encoded} >= {1, 16}
    assert max(z for b in encoded for row in b["zz"] for z in row) == 16380  # residual +8190
    assert any(e == -8190 for b in encoded for row in b["residuals"] for e in row)
    assert max((z >> k) for b in encoded for row, k in zip(b["zz"], b["k"]) if k != 15 for z in row) == 31
    for b in blocks:  # zero mode: nibble 15 exactly where a sensor's residuals are all 0 (encoder output)
        if b["encoder_output"]:
            assert [k == 15 for k in b["k"]] == [not any(row) for row in b["zz"]], b["name"]
    names = set(_ids(PAGES))
    assert {"data_residual_extremes", "data_ramp", "data_k13_k14_decoder_only", "corrupt_code_above_4095",
            "corrupt_zero_mode_nibble_0"} <= names
    assert any(not v["encoder_output"] for v in VALID_PAGES)


def test_spec_cites_existing_vectors():
    doc = (SPECS / "protocol_v1_1.md").read_text(encoding="utf-8")
    names = set(_ids(PAGES)) | set(_ids(VECTORS["commands"])) | set(_ids(VECTORS["att_errors"])) \
        | set(_ids(VECTORS["blocks"])) | set(_ids(VECTORS["chunks"])) | set(_ids(VECTORS["log_info"])) \
        | set(_ids(VECTORS["list_sessions"])) | set(_ids(VECTORS["crc"])) | set(_ids(VECTORS["beacons"])) \
        | {VECTORS["session"]["name"], "claim"}
    cited = set(re.findall(r"vectors? `([a-z0-9_]+)`", doc))
    assert cited and cited <= names, cited - names
    named = {t for t in re.findall(r"`([a-z0-9_]+)`", doc)  # vector-like names anywhere (tables, lists)
             if re.match(r"(data|corrupt|end|chunk|session|crc)_", t) and not t.endswith("_hex")
             or re.search(r"_m\d+$", t)}
    assert named and named <= names, named - names


# --------------------------------------------------------------------------
# (b) log format 1 under insole.protocol.log
# --------------------------------------------------------------------------
log = pytest.importorskip("insole.protocol.log")
from insole.protocol.logrecords import Beacons, SyncPoints

SIDE_CODE = {"left": 0, "right": 1}


def _sync(items) -> SyncPoints:
    return SyncPoints(device_time_us=np.array([s["device_time_us"] for s in items], dtype=np.uint64),
                      host_time_us=np.array([s["host_time_us"] for s in items], dtype=np.uint64),
                      uncertainty_us=np.array([s["uncertainty_us"] for s in items], dtype=np.uint32))


def _beacons(items) -> Beacons:
    return Beacons(device_time_us=np.array([b["device_time_us"] for b in items], dtype=np.uint64),
                   peer_device_time_us=np.array([b["peer_device_time_us"] for b in items], dtype=np.uint64),
                   peer_side=np.array([SIDE_CODE[b["peer_side"]] for b in items], dtype=np.uint8),
                   peer_session=np.array([b["peer_session"] for b in items], dtype=np.uint16),
                   counter=np.array([b["counter"] for b in items], dtype=np.uint16),
                   rssi_dbm=np.array([b["rssi_dbm"] for b in items], dtype=np.int8))


def _series(items):
    if not items:
        return None
    return (np.array([t for t, _ in items], dtype=np.uint64), np.array([v for _, v in items], dtype=np.float64))


def _header(d: dict):
    return log.SessionHeader(session_id=d["session_id"], side=d["side"], sampling_rate_hz=d["sampling_rate_hz"],
                             start_index=d["start_index"], start_device_time_us=d["start_device_time_us"],
                             trigger=d["trigger"], zeroed=d["zeroed"], time_synced=d["time_synced"],
                             layout=_hex(d["layout"]), device=dict(d["device"]), note=dict(d["note"]))


def _end(d: dict):
    return log.SessionEnd(reason=d["reason"], end_index=d["end_index"], end_device_time_us=d["end_device_time_us"],
                          n_samples=d["n_samples"], n_data_pages=d["n_data_pages"], lost_samples=d["lost_samples"])


def _encode(vector) -> list[bytes]:
    inp = vector["inputs"]
    if vector["kind"] == "header":
        records = (_sync(inp["sync"]),) if inp["sync"] else ()
        return [log.encode_header_page(_header(inp["header"]), records=records, battery_pct=inp["battery_pct"],
                                       temperature_c=inp["temperature_c"])]
    if vector["kind"] == "end":
        return [log.encode_end_page(_end(inp["end"]), session_id=inp["session_id"], seq=inp["seq"],
                                    sync=_sync(inp["sync"]) if inp["sync"] else None)]
    return log.encode_data_pages(
        np.array(inp["codes"], dtype=np.uint16).reshape(-1, 16), session_id=inp["session_id"],
        first_index=inp["first_index"], device_time_us=inp["device_time_us"],
        sampling_rate_hz=inp["sampling_rate_hz"], first_seq=inp["first_seq"],
        sync=_sync(inp["sync"]) if inp["sync"] else None, beacons=_beacons(inp["beacons"]) if inp["beacons"] else None,
        temperature=_series(inp["temperature"]), battery=_series(inp["battery"]))


def _records(decoded, kind):
    if kind == "sync":
        s = decoded.sync
        return [{"type": "sync", "device_time_us": int(a), "host_time_us": int(b), "uncertainty_us": int(c)}
                for a, b, c in zip(s.device_time_us, s.host_time_us, s.uncertainty_us)]
    b = decoded.beacons
    side = {0: "left", 1: "right"}
    return [{"type": "beacon", "device_time_us": int(t), "peer_device_time_us": int(p),
             "peer_side": side[int(s)], "peer_session": int(ss), "counter": int(c), "rssi_dbm": int(r)}
            for t, p, s, ss, c, r in zip(b.device_time_us, b.peer_device_time_us, b.peer_side, b.peer_session,
                                         b.counter, b.rssi_dbm)]


def test_page_crc_check_value():
    page = _hex(HEADER_VECTOR["hex"])
    assert log.page_crc(page) == int.from_bytes(page[4092:], "little")


@pytest.mark.parametrize("vector", ENCODED_PAGES, ids=_ids(ENCODED_PAGES))
def test_encoder_reproduces_page(vector):
    pages = _encode(vector)
    assert len(pages) == 1
    assert pages[0].hex() == vector["hex"]


@pytest.mark.parametrize("vector", VALID_PAGES, ids=_ids(VALID_PAGES))
def test_valid_page_decodes(vector):
    exp = vector["expected"]
    page = _hex(vector["hex"])
    alone = vector["kind"] == "header"
    pages = [page] if alone else [_hex(HEADER_VECTOR["hex"]), page]
    d = log.decode_log(pages)
    assert d.problems == {} or all(v == 0 for v in d.problems.values()), d.problems
    assert d.session_id == exp["session_id"]
    records = _records(d, "sync") + _records(d, "beacon")
    own = [r for r in records if r not in HEADER_VECTOR["expected"]["records"]] \
        if not alone else records
    assert sorted(own, key=lambda r: (r["device_time_us"], r["type"])) == \
        sorted(exp["records"], key=lambda r: (r["device_time_us"], r["type"]))
    if exp["kind"] == "header":
        h = d.header
        assert h is not None
        for key in ("side", "sampling_rate_hz", "trigger", "zeroed", "time_synced", "device", "note"):
            assert getattr(h, key) == exp["header"][key], key
        assert h.layout.hex() == exp["header"]["layout"]
        assert (h.start_index, h.start_device_time_us) == (exp["first_index"], exp["device_time_us"])
    elif exp["kind"] == "end":
        e = d.end
        assert e is not None
        for key in ("reason", "n_samples", "n_data_pages", "lost_samples"):
            assert getattr(e, key) == exp["end"][key], key
        assert (e.end_index, e.end_device_time_us) == (exp["first_index"], exp["device_time_us"])
    else:
        assert d.codes is not None
        np.testing.assert_array_equal(d.codes, np.array(exp["codes"], dtype=np.uint16).reshape(-1, 16))
        assert d.first_index.tolist() == [exp["first_index"]]
        assert d.device_time_us.tolist() == [exp["device_time_us"]]
        assert d.count.tolist() == [exp["n_samples"]]
        assert d.page_seq.tolist() == [exp["seq"]]
        t, b = float(d.temperature_c[0]), float(d.battery_pct[0])
        assert math.isnan(t) if exp["temperature_c"] is None else t == pytest.approx(exp["temperature_c"])
        assert math.isnan(b) if exp["battery_pct"] is None else b == exp["battery_pct"]


NEWER = [v for v in INVALID_PAGES if v["error"] == "unknown_version"]
REJECTED = [v for v in INVALID_PAGES if v["error"] != "unknown_version"]


@pytest.mark.parametrize("vector", REJECTED, ids=_ids(REJECTED))
def test_invalid_page_rejected_with_reason(vector):
    d = log.decode_log([_hex(HEADER_VECTOR["hex"]), _hex(vector["hex"])])
    assert d.problems.get(vector["error"]) == 1, d.problems
    assert d.bad_pages == [1]
    assert d.header is not None


@pytest.mark.parametrize("vector", NEWER, ids=_ids(NEWER))
def test_newer_format_is_refused(vector):
    with pytest.raises(LogFormatError):
        log.decode_log([_hex(vector["hex"])])


def test_length_not_a_multiple_of_a_page():
    with pytest.raises(ProtocolError):
        log.decode_log(_hex(HEADER_VECTOR["hex"])[:-1])


SESSION = VECTORS["session"]


def test_session_image_decodes():
    exp = SESSION["expected"]
    image = b"".join(_hex(h) for h in SESSION["pages_hex"])
    d = log.decode_log(image)
    np.testing.assert_array_equal(d.codes, np.array(SESSION["inputs"]["codes"], dtype=np.uint16))
    assert d.count.tolist() == SESSION["samples_per_data_page"]
    assert d.end is not None and d.end.n_samples == exp["n_samples"] and d.end.n_data_pages == exp["n_data_pages"]
    assert _records(d, "sync") == exp["sync"]
    assert _records(d, "beacon") == exp["beacons"]
    assert log.page_crc(image[:4096]) == int.from_bytes(image[4092:4096], "little")


def test_session_without_end_page_keeps_every_complete_page():
    pages = [_hex(h) for h in SESSION["pages_hex"]]
    d = log.decode_log(pages[:-2])  # power loss: the last data page and the end page never written
    assert d.end is None
    n = sum(SESSION["samples_per_data_page"][:-1])
    np.testing.assert_array_equal(d.codes, np.array(SESSION["inputs"]["codes"][:n], dtype=np.uint16))


def test_session_encoders_reproduce_the_image():
    inp = SESSION["inputs"]
    header = log.encode_header_page(_header(inp["header"]), records=(_sync(inp["start_sync"]),), battery_pct=90,
                                    temperature_c=22.0)
    data = log.encode_data_pages(np.array(inp["codes"], dtype=np.uint16), session_id=inp["header"]["session_id"],
                                 first_index=inp["header"]["start_index"],
                                 device_time_us=inp["header"]["start_device_time_us"], sampling_rate_hz=200,
                                 beacons=_beacons(inp["beacons"]))
    end = log.encode_end_page(_end(inp["end"]), session_id=inp["header"]["session_id"], seq=len(data) + 1,
                              sync=_sync(inp["end_sync"]))
    assert [p.hex() for p in [header, *data, end]] == SESSION["pages_hex"]


@pytest.mark.parametrize("vector", VECTORS["blocks"], ids=_ids(VECTORS["blocks"]))
def test_block_vectors(vector):
    zz = np.array(vector["zz"], dtype=np.int64).T  # the vector is sensor-major (16, m); the codec takes (m, 16)
    if vector["encoder_output"]:  # else a legal block with other nibbles than the encoder's: decode only
        assert log.encode_block(zz).hex() == vector["hex"]
        assert log.rice_k(zz).tolist() == vector["k"]  # 15 = zero mode
    back, used = log.decode_block(_hex(vector["hex"]), vector["m"])
    assert used == len(_hex(vector["hex"]))
    assert np.asarray(back).tolist() == zz.tolist()


def test_zigzag_vectors():
    d = np.array([v["residual"] for v in VECTORS["zigzag"]])
    z = np.array([v["zz"] for v in VECTORS["zigzag"]])
    assert log.zigzag(d).tolist() == z.tolist()
    assert log.unzigzag(z).tolist() == d.tolist()


# --------------------------------------------------------------------------
# (c) commands, ATT errors, chunks, Log info, LIST_SESSIONS, claim
# --------------------------------------------------------------------------
logctl = pytest.importorskip("insole.protocol.logctl")
auth = pytest.importorskip("insole.protocol.auth")


def _command_bytes(vector) -> bytes:
    p, c = vector["params"], vector["command"]
    if c == "CLAIM":
        return logctl.encode_claim(_hex(p["host_id"]), _hex(p["public_key"]))
    if c == "LOG_START":
        return logctl.encode_log_start(p["rate_hz"], auto=p["auto"], idle_stop_s=p["idle_stop_s"], note=p["note"])
    if c == "LOG_STOP":
        return logctl.encode_log_stop()
    if c == "SYNC_POINT":
        return logctl.encode_sync_point(p["device_time_us"], p["host_time_us"], p["uncertainty_us"])
    if c == "LIST_SESSIONS":
        return logctl.encode_list_sessions()
    if c == "READ":
        return logctl.encode_read(p["session_id"], p["offset"], p["window"])
    if c == "ACK":
        return logctl.encode_ack(p["session_id"], p["offset"])
    return logctl.encode_erase(p["session_id"], p["crc32"])


COMMANDS = VECTORS["commands"]
KEYS = {bytes.fromhex("0102030405060708"): bytes.fromhex("000102030405060708090a0b0c0d0e0f")}
NONCE = bytes.fromhex("a0a1a2a3a4a5a6a7a8a9aaabacadaeaf")


@pytest.mark.parametrize("vector", COMMANDS, ids=_ids(COMMANDS))
def test_command_encodes_and_signs(vector):
    body = _command_bytes(vector)
    assert body.hex() == vector["command_hex"]
    if vector["protected"]:
        key, host_id, nonce = _hex(vector["key_hex"]), _hex(vector["host_id_hex"]), _hex(vector["nonce_hex"])
        assert auth.auth_tag(body, key=key, host_id=host_id, nonce=nonce).hex() == vector["tag_hex"]
        assert auth.sign(body, key=key, host_id=host_id, nonce=nonce).hex() == vector["hex"]
        assert auth.verify(_hex(vector["hex"]), keys=KEYS, nonce=nonce) == (body, host_id)
    else:
        assert vector["hex"] == vector["command_hex"]


@pytest.mark.parametrize("vector", COMMANDS, ids=_ids(COMMANDS))
def test_command_decodes(vector):
    cmd = logctl.decode_log_command(_hex(vector["hex"]), keys=KEYS, nonce=NONCE)
    assert int(cmd.opcode) == vector["opcode"]
    if vector["protected"]:
        assert cmd.host_id == bytes.fromhex("0102030405060708")
    p, got = vector["params"], cmd.params
    if vector["command"] == "LOG_START":
        assert (got.sampling_rate_hz, got.auto, got.note) == (p["rate_hz"], p["auto"], p["note"])
    elif vector["command"] == "ERASE":
        assert (got.session_id, got.image_crc32) == (p["session_id"], p["crc32"])
    elif vector["command"] == "CLAIM":
        assert (got.host_id.hex(), got.public_key.hex()) == (p["host_id"], p["public_key"])
    else:
        for key, value in p.items():
            assert getattr(got, key) == value, key


#: errors a codec can see from the bytes alone (opcode, length, auth, parameter values)
CODEC_ERRORS = {0x80, 0x81, 0x83}
ATT = VECTORS["att_errors"]


@pytest.mark.parametrize("vector", ATT, ids=_ids(ATT))
def test_att_error_vectors(vector):
    dev = vector["device"]
    keys = {bytes.fromhex(h): bytes.fromhex(k) for h, k in dev["keys"].items()}
    data, nonce = _hex(vector["hex"]), _hex(dev["nonce"])
    assert vector["codec"] == (vector["att_error"] in CODEC_ERRORS and not vector["name"].startswith("claim_"))
    if vector["codec"]:  # the codec sees it in the bytes; else (state, or CLAIM's key after the window) the device
        with pytest.raises(logctl.LogCommandError) as info:
            logctl.decode_log_command(data, keys=keys, nonce=nonce)
        assert int(info.value.att_error) == vector["att_error"]
    else:  # well-formed and authorised: the refusal (0x82, 0x84-0x86) depends on the device's state
        logctl.decode_log_command(data, keys=keys, nonce=nonce)
        assert vector["att_error"] in {int(e) for e in logctl.LogAttError}


CHUNKS = VECTORS["chunks"]


@pytest.mark.parametrize("vector", CHUNKS, ids=_ids(CHUNKS))
def test_chunk_vectors(vector):
    if vector["valid"]:
        assert logctl.encode_chunk(vector["offset"], _hex(vector["data_hex"])).hex() == vector["hex"]
        assert logctl.decode_chunk(_hex(vector["hex"])) == (vector["offset"], _hex(vector["data_hex"]))
    else:
        with pytest.raises(ProtocolError):
            logctl.decode_chunk(_hex(vector["hex"]))


def test_chunk_data_bytes_at_mtu_247():
    assert logctl.chunk_data_bytes(247) == 236


INFOS = VECTORS["log_info"]


@pytest.mark.parametrize("vector", INFOS, ids=_ids(INFOS))
def test_log_info_vectors(vector):
    if not vector["valid"]:
        with pytest.raises(ProtocolError):
            logctl.decode_log_info(_hex(vector["hex"]))
        return
    info = logctl.decode_log_info(_hex(vector["hex"]))
    for key, value in vector["expected"].items():
        assert getattr(info, key) == value, key
    assert logctl.encode_log_info(logctl.LogInfo(**vector["expected"])).hex() == vector["hex"]


LISTS = VECTORS["list_sessions"]


@pytest.mark.parametrize("vector", LISTS, ids=_ids(LISTS))
def test_list_sessions_vectors(vector):
    entry = logctl.decode_session_entry(_hex(vector["hex"]))
    if vector["expected"].get("end"):
        assert entry is None
        return
    assert entry == logctl.SessionEntry(**vector["expected"])
    assert logctl.encode_session_entry(entry).hex() == vector["hex"]


def test_claim_vector():
    c = VECTORS["claim"]
    host_private, insole_private = _hex(c["host_private_hex"]), _hex(c["insole_private_hex"])
    assert auth.public_key(host_private).hex() == c["host_public_hex"]
    assert auth.public_key(insole_private).hex() == c["insole_public_hex"]
    secret = auth.shared_secret(host_private, _hex(c["insole_public_hex"]))
    assert secret.hex() == c["shared_secret_hex"] == auth.shared_secret(insole_private,
                                                                        _hex(c["host_public_hex"])).hex()
    key = auth.claim_key(secret, host_id=_hex(c["host_id_hex"]), serial=c["serial"])
    assert key.hex() == c["key_hex"]
    assert logctl.encode_claim(_hex(c["host_id_hex"]), _hex(c["host_public_hex"])).hex() == c["request_hex"]
    assert logctl.encode_claim_response(_hex(c["insole_public_hex"])).hex() == c["response_hex"]
    assert logctl.decode_claim_response(_hex(c["response_hex"])).hex() == c["insole_public_hex"]
    first = c["first_command"]
    assert auth.sign(logctl.encode_log_stop(), key=key, host_id=_hex(c["host_id_hex"]),
                     nonce=_hex(first["nonce_hex"])).hex() == first["hex"]


BEACONS = VECTORS["beacons"]


@pytest.mark.parametrize("vector", BEACONS, ids=_ids(BEACONS))
def test_beacon_air_vectors(vector):
    """The beacon's AD structure as section 7.2 lays it out (the host never sees it: insole to insole)."""
    import struct

    ad, fields = _hex(vector["hex"]), vector["fields"]
    found = None
    at = 0
    while at + 1 < len(ad) and ad[at]:
        n = ad[at]
        if ad[at + 1] == 0xFF and n == 18 and ad[at + 2:at + 6] == b"\xff\xffIB":
            side, sid, counter, t = struct.unpack_from("<BHHQ", ad, at + 6)
            found = {"side": ("left", "right")[side], "session_id": sid, "counter": counter, "device_time_us": t}
        at += 1 + n
    assert at == len(ad)
    assert found == fields


def test_claim_low_order_keys_are_refused_by_the_host_key_derivation():
    """The device's 0x81 for a low-order CLAIM key is the shared secret 0 the host's X25519 refuses too."""
    for v in (v for v in ATT if v["name"] in ("claim_zero_key", "claim_low_order_key")):
        public = _hex(v["hex"])[9:41]
        with pytest.raises(ProtocolError):
            auth.claim_key(private=bytes(range(32)), peer_public=public, host_id=bytes(8), serial="SIM-L-0000")
