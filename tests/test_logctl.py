"""Log service codec (protocol v1.1): commands, auth, claim, info, session
list, chunks."""

from __future__ import annotations

import hashlib
import hmac
import struct
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from insole import constants
from insole.errors import ProtocolError
from insole.protocol import auth
from insole.protocol import logctl as L
from insole.protocol.logctl import LogAttError as E
from insole.protocol.logctl import LogOpcode as Op

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

HOST_ID = bytes.fromhex("0102030405060708")
KEY = bytes(range(16))
NONCE = bytes(range(100, 116))
KEYS = {HOST_ID: KEY}


def signed(command: bytes, *, key=KEY, host_id=HOST_ID, nonce=NONCE) -> bytes:
    return auth.sign(command, key=key, host_id=host_id, nonce=nonce)


def att_code(data: bytes, *, keys=KEYS, nonce=NONCE) -> int:
    with pytest.raises(L.LogCommandError) as info:
        L.decode_log_command(data, keys=keys, nonce=nonce)
    assert isinstance(info.value, ProtocolError)
    return int(info.value.att_error)


def test_log_service_uuids_share_the_v1_base():
    uuids = [constants.LOG_SERVICE_UUID, constants.LOG_CONTROL_UUID, constants.LOG_DATA_UUID,
             constants.LOG_INFO_UUID, constants.LOG_CHALLENGE_UUID]
    assert [u[:8] for u in uuids] == ["7a1e0100", "7a1e0101", "7a1e0102", "7a1e0103", "7a1e0104"]
    assert {u[8:] for u in uuids} == {constants.SERVICE_UUID[8:]}


# --- commands round-trip -------------------------------------------------------------
PUBLIC = bytes(range(32, 64))
ROUND_TRIPS = [
    (L.encode_claim(HOST_ID, PUBLIC), L.ClaimParams(HOST_ID, PUBLIC)),
    (L.encode_log_start(200, auto=True, idle_stop_s=600, note={"subject": "Ann", "body_mass_kg": 61.0}),
     L.LogStartParams(200, True, 600, {"subject": "Ann", "body_mass_kg": 61.0})),
    (L.encode_log_start(50, note={"name": "Zoë 日本"}), L.LogStartParams(50, False, 300, {"name": "Zoë 日本"})),
    (L.encode_log_start(100, idle_stop_s=0), L.LogStartParams(100, False, 300, {})),
    (L.encode_log_stop(), None),
    (L.encode_sync_point(2**64 - 1, 1_700_000_000_123_456, 2**32 - 1),
     L.SyncPointParams(2**64 - 1, 1_700_000_000_123_456, 2**32 - 1)),
    (L.encode_list_sessions(), None),
    (L.encode_read(0xFFFE, 2**32 - 1, 64), L.ReadParams(0xFFFE, 2**32 - 1, 64)),
    (L.encode_ack(1, 123_456), L.AckParams(1, 123_456)),
    (L.encode_erase(7, 0xDEADBEEF), L.EraseParams(7, 0xDEADBEEF)),
]


@pytest.mark.parametrize("command, params", ROUND_TRIPS, ids=lambda x: getattr(x, "hex", lambda: None)())
def test_every_command_round_trips(command, params):
    opcode = Op(command[0])
    protected = opcode in L.PROTECTED_OPCODES
    cmd = L.decode_log_command(signed(command) if protected else command, keys=KEYS, nonce=NONCE)
    assert cmd.opcode is opcode
    assert cmd.params == params
    expected_host = HOST_ID if protected or opcode is Op.CLAIM else None
    assert cmd.host_id == expected_host


def test_every_opcode_is_covered_and_protection_follows_the_contract():
    assert {Op(c[0]) for c, _ in ROUND_TRIPS} == set(Op)
    assert set(Op) - L.PROTECTED_OPCODES == {Op.CLAIM, Op.ACK}


def test_wire_bytes_are_little_endian_as_in_the_contract():
    assert L.encode_read(3, 0x01020304, 8) == bytes.fromhex("25" "0300" "04030201" "0800")
    assert L.encode_ack(0x0102, 0x0A0B0C0D) == bytes.fromhex("26" "0201" "0d0c0b0a")
    assert L.encode_erase(2, 0x11223344) == bytes.fromhex("27" "0200" "44332211")
    assert L.encode_sync_point(1, 2, 3) == bytes([0x23]) + struct.pack("<QQI", 1, 2, 3)
    start = L.encode_log_start(200, auto=True, idle_stop_s=3600, note={"a": 1})
    assert start == bytes.fromhex("21" "02" "01" "100e" "0700") + b'{"a":1}'
    assert L.encode_log_stop() == b"\x22" and L.encode_list_sessions() == b"\x24"
    assert L.encode_claim(HOST_ID, PUBLIC) == b"\x20" + HOST_ID + PUBLIC


def test_encoders_refuse_what_the_insole_would():
    bad = [lambda: L.encode_log_start(60), lambda: L.encode_log_start(100, idle_stop_s=59),
           lambda: L.encode_log_start(100, idle_stop_s=3601), lambda: L.encode_log_start(100, note={"x": "a" * 600}),
           lambda: L.encode_log_start(100, note={"x": object()}), lambda: L.encode_log_start(100, note=[1]),
           lambda: L.encode_read(0, 0, 1), lambda: L.encode_read(1, 0, 0), lambda: L.encode_read(1, 0, 65),
           lambda: L.encode_read(1, 2**32, 1), lambda: L.encode_ack(0xFFFF, 0), lambda: L.encode_erase(1, -1),
           lambda: L.encode_sync_point(-1, 0, 0), lambda: L.encode_claim(HOST_ID[:7], PUBLIC)]
    for make in bad:
        with pytest.raises(ProtocolError):
            make()


def test_a_note_of_exactly_512_bytes_fits():
    note = {"x": "a" * (512 - len('{"x":""}'))}
    cmd = L.decode_log_command(signed(L.encode_log_start(100, note=note)), keys=KEYS, nonce=NONCE)
    assert cmd.params.note == note


# --- ATT errors and their order ----------------------------------------------------------
def raw_log_start(code=1, mode=0, idle_s=0, note=b"", n=None) -> bytes:
    return bytes([Op.LOG_START]) + struct.pack("<BBHH", code, mode, idle_s, len(note) if n is None else n) + note


@pytest.mark.parametrize("opcode", [0x00, 0x01, 0x07, 0x1F, 0x28, 0x7F, 0x80, 0xFF])
@pytest.mark.parametrize("tail", [b"", b"\x00" * 7, b"\x00" * 40])
def test_unknown_opcode_is_0x80_whatever_follows(opcode, tail):
    assert att_code(bytes([opcode]) + tail) == E.UNSUPPORTED


def test_empty_write_is_0x81():
    assert att_code(b"") == E.INVALID


@pytest.mark.parametrize("command, _", ROUND_TRIPS, ids=lambda x: getattr(x, "hex", lambda: None)())
def test_one_byte_more_or_less_is_0x81(command, _):
    data = signed(command) if Op(command[0]) in L.PROTECTED_OPCODES else command
    assert att_code(data + b"\x00") == E.INVALID
    assert att_code(data[:-1]) == E.INVALID


@pytest.mark.parametrize("command", [L.encode_log_stop(), L.encode_read(1, 0, 4), L.encode_log_start(100)])
def test_protected_command_without_auth_is_a_length_error(command):
    assert att_code(command) == E.INVALID


def test_length_is_checked_before_auth_and_auth_before_values():
    garbage_auth = b"\xAA" * auth.AUTH_BYTES
    # wrong length and bad auth: 0x81 (length first)
    assert att_code(L.encode_read(1, 0, 4) + b"\x00" + garbage_auth) == E.INVALID
    # a note length N that disagrees with the bytes written: length error, even unsigned
    assert att_code(raw_log_start(note=b"{}", n=3) + garbage_auth) == E.INVALID
    # right length, bad value, bad auth: 0x83 (auth before value)
    bad_window = bytes([Op.READ]) + struct.pack("<HIH", 1, 0, 0)
    assert att_code(bad_window + garbage_auth) == E.NOT_AUTHORISED
    # same bad value, good auth: 0x81
    assert att_code(signed(bad_window)) == E.INVALID


BAD_VALUES = [
    raw_log_start(code=3), raw_log_start(code=0xFF), raw_log_start(mode=2), raw_log_start(idle_s=59),
    raw_log_start(idle_s=3601), raw_log_start(idle_s=1), raw_log_start(note=b"[1, 2]"), raw_log_start(note=b'"ab"'),
    raw_log_start(note=b"{not json"), raw_log_start(note=b'{"a": "\xff"}'), raw_log_start(note=b"{" + b" " * 511 + b"}"),
    bytes([Op.READ]) + struct.pack("<HIH", 0, 0, 1), bytes([Op.READ]) + struct.pack("<HIH", 0xFFFF, 0, 1),
    bytes([Op.READ]) + struct.pack("<HIH", 1, 0, 65), bytes([Op.ERASE]) + struct.pack("<HI", 0, 0),
    bytes([Op.ERASE]) + struct.pack("<HI", 0xFFFF, 0),
]


@pytest.mark.parametrize("command", BAD_VALUES, ids=lambda b: b[:12].hex())
def test_bad_values_of_protected_commands_are_0x81_once_authenticated(command):
    assert att_code(signed(command)) == E.INVALID
    assert att_code(signed(command, key=b"x" * 16)) == E.NOT_AUTHORISED


@pytest.mark.parametrize("command", [bytes([Op.ACK]) + struct.pack("<HI", 0, 5),
                                     bytes([Op.ACK]) + struct.pack("<HI", 0xFFFF, 5)])
def test_bad_values_of_open_commands_are_0x81(command):
    assert att_code(command) == E.INVALID


# --- auth ----------------------------------------------------------------------------------
def test_tag_is_hmac_sha256_of_nonce_command_host_id_truncated():
    cmd = L.encode_read(5, 4096, 16)
    expected = hmac.new(KEY, NONCE + cmd + HOST_ID, hashlib.sha256).digest()[:16]
    assert signed(cmd) == cmd + HOST_ID + expected
    assert auth.verify(signed(cmd), keys=KEYS, nonce=NONCE) == (cmd, HOST_ID)


def test_signed_command_verifies_among_several_hosts():
    other = bytes(8)
    keys = {other: b"\x01" * 16, HOST_ID: KEY}
    cmd = L.decode_log_command(signed(L.encode_log_stop()), keys=keys, nonce=NONCE)
    assert cmd.opcode is Op.LOG_STOP and cmd.host_id == HOST_ID


@pytest.mark.parametrize("command", [L.encode_sync_point(10, 20, 30), L.encode_read(2, 8, 4),
                                     L.encode_log_start(100, note={"s": "x"}), L.encode_erase(9, 1)])
def test_wrong_key_host_id_nonce_or_any_altered_byte_is_0x83(command):
    good = signed(command)
    assert L.decode_log_command(good, keys=KEYS, nonce=NONCE).opcode == command[0]
    assert att_code(signed(command, key=KEY[::-1])) == E.NOT_AUTHORISED          # wrong key
    assert att_code(signed(command, host_id=b"\x09" * 8)) == E.NOT_AUTHORISED    # unknown host id
    assert att_code(good, keys={b"\x09" * 8: KEY}) == E.NOT_AUTHORISED           # host id not in the slots
    assert att_code(good, keys={}) == E.NOT_AUTHORISED                           # unclaimed insole
    assert att_code(good, nonce=auth.new_nonce()) == E.NOT_AUTHORISED            # replay after the nonce changed
    length_field = range(5, 7) if command[0] == Op.LOG_START else range(0)
    for i in range(1, len(good)):
        if i in length_field:
            continue
        altered = bytearray(good)
        altered[i] ^= 0x01
        assert att_code(bytes(altered)) == E.NOT_AUTHORISED, i


def test_verify_raises_auth_error_with_att_code():
    with pytest.raises(auth.AuthError) as info:
        auth.verify(b"\x22" + b"\x00" * 24, keys=KEYS, nonce=NONCE)
    assert info.value.att_error == E.NOT_AUTHORISED and isinstance(info.value, ProtocolError)
    with pytest.raises(auth.AuthError):
        auth.verify(b"\x00" * 24, keys=KEYS, nonce=NONCE)  # no command at all
    with pytest.raises(ProtocolError):
        auth.sign(b"\x22", key=KEY, host_id=HOST_ID, nonce=NONCE[:15])


def test_nonces_and_host_ids_are_fresh():
    assert len(auth.new_nonce()) == 16 and len(auth.new_host_id()) == 8
    assert len({auth.new_nonce() for _ in range(50)}) == 50


# --- claim ---------------------------------------------------------------------------------
RFC7748 = {  # RFC 7748 section 6.1
    "a": "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
    "A": "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
    "b": "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
    "B": "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
    "K": "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742",
}


def test_x25519_matches_rfc7748_section_6_1():
    v = {k: bytes.fromhex(x) for k, x in RFC7748.items()}
    assert auth.public_key(v["a"]) == v["A"] and auth.public_key(v["b"]) == v["B"]
    assert auth.shared_secret(v["a"], v["B"]) == v["K"] == auth.shared_secret(v["b"], v["A"])


def hkdf_sha256(ikm: bytes, salt: bytes, info: bytes, n: int) -> bytes:
    """RFC 5869 written out, independent of the library (n <= 32)."""
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()[:n]


def test_claim_key_is_hkdf_of_the_shared_secret_with_host_id_and_serial():
    v = {k: bytes.fromhex(x) for k, x in RFC7748.items()}
    key = auth.claim_key(private=v["a"], peer_public=v["B"], host_id=HOST_ID, serial="SN-0042")
    assert key == hkdf_sha256(v["K"], HOST_ID + b"SN-0042", b"insole-claim-v1", 16)
    assert key == auth.claim_key(v["K"], host_id=HOST_ID, serial="SN-0042")
    assert key != auth.claim_key(v["K"], host_id=HOST_ID, serial="SN-0043")
    assert key != auth.claim_key(v["K"], host_id=b"\x00" * 8, serial="SN-0042")
    with pytest.raises(ProtocolError):
        auth.claim_key(host_id=HOST_ID, serial="x")  # neither secret nor keys


def test_full_claim_exchange_then_a_signed_command():
    host, device, host_id, serial = auth.new_keypair(), auth.new_keypair(), auth.new_host_id(), "R-123"
    # host -> device: CLAIM (open); device derives its key and answers with its public key
    cmd = L.decode_log_command(L.encode_claim(host_id, host.public), keys={}, nonce=NONCE)
    assert cmd.opcode is Op.CLAIM and cmd.host_id == host_id
    device_key = auth.claim_key(private=device.private, peer_public=cmd.params.public_key, host_id=host_id,
                                serial=serial)
    insole_public = L.decode_claim_response(L.encode_claim_response(device.public))
    host_key = auth.claim_key(private=host.private, peer_public=insole_public, host_id=host_id, serial=serial)
    assert host_key == device_key and len(host_key) == 16
    nonce = auth.new_nonce()
    write = auth.sign(L.encode_list_sessions(), key=host_key, host_id=host_id, nonce=nonce)
    assert L.decode_log_command(write, keys={host_id: device_key}, nonce=nonce).host_id == host_id
    assert "private" not in repr(host) and host.private.hex() not in repr(host)


def test_low_order_or_short_public_key_is_refused():
    mine = auth.new_keypair()
    for bad in (bytes(32), b"\x01" + bytes(31), bytes(31)):
        with pytest.raises(ProtocolError):
            auth.shared_secret(mine.private, bad)


# --- Log info ---------------------------------------------------------------------------------
INFO = L.LogInfo(format_version=1, state="armed", claimed=True, window_open=False, battery_low=True, battery_pct=7,
                 page_size=4096, capacity_pages=8192, used_pages=1234, sessions=3, current_session=0xFFFE,
                 device_time_us=2**63 + 5)


def test_log_info_round_trips_and_has_the_contract_layout():
    raw = L.encode_log_info(INFO)
    assert len(raw) == 32 == L.LOG_INFO_BYTES
    assert L.decode_log_info(raw) == INFO
    assert raw == struct.pack("<BBBBIIIHHQI", 1, 1, 0b101, 7, 4096, 8192, 1234, 3, 0xFFFE, 2**63 + 5, 0)
    for state, code in (("idle", 0), ("armed", 1), ("logging", 2)):
        raw = L.encode_log_info(L.LogInfo(state=state))
        assert raw[1] == code and L.decode_log_info(raw).state == state


def test_log_info_errors():
    raw = L.encode_log_info(INFO)
    for bad in (raw[:-1], raw + b"\x00", raw[:1] + b"\x03" + raw[2:], raw[:3] + b"\x65" + raw[4:]):
        with pytest.raises(ProtocolError):
            L.decode_log_info(bad)
    for info in (L.LogInfo(state="busy"), L.LogInfo(battery_pct=101), L.LogInfo(sessions=70000)):
        with pytest.raises(ProtocolError):
            L.encode_log_info(info)


# --- responses and the session list ------------------------------------------------------
ENTRY = L.SessionEntry(session_id=42, image_bytes=4096 * 30, samples=123_456, start_device_time_us=10**12,
                       start_host_time_us=1_700_000_000_000_000, duration_ms=1_234_560, complete=True, open=False)


def test_session_entries_round_trip_and_end_marker():
    raw = L.encode_session_entry(ENTRY)
    assert raw[:3] == b"\x80\x24\x00" and len(raw) == 3 + L.SESSION_ENTRY_BYTES == 34
    assert L.decode_session_entry(raw) == ENTRY
    opened = L.SessionEntry(7, 8192, 10, 0, 0, 0, complete=False, open=True)
    assert L.decode_session_entry(L.encode_session_entry(opened)) == opened
    assert L.SESSION_LIST_END == bytes.fromhex("802400ffff")
    assert L.decode_session_entry(L.SESSION_LIST_END) is None


def test_session_entry_errors():
    raw = L.encode_session_entry(ENTRY)
    for bad in (raw[:-1], raw[:1] + b"\x25" + raw[2:], raw[:2] + b"\x01" + raw[3:], b"\x80\x24\x00\x00\x00",
                raw[:3] + b"\x00\x00" + raw[5:], b"\x80\x24"):
        with pytest.raises(ProtocolError):
            L.decode_session_entry(bad)
    with pytest.raises(ProtocolError):
        L.encode_session_entry(L.SessionEntry(0, 0, 0, 0, 0, 0))


def test_responses_round_trip():
    for opcode in Op:
        raw = L.encode_response(opcode, result=0, payload=b"xy")
        assert raw == bytes([0x80, opcode, 0]) + b"xy"
        assert L.decode_response(raw) == L.LogResponse(opcode, 0, b"xy")
    for bad in (b"", b"\x80\x21", b"\x81\x21\x00", b"\x80\x30\x00"):
        with pytest.raises(ProtocolError):
            L.decode_response(bad)
    with pytest.raises(ProtocolError):
        L.decode_claim_response(L.encode_response(Op.CLAIM, payload=bytes(31)))


# --- chunks ---------------------------------------------------------------------------------------
def test_chunk_layout_and_sizes():
    chunk = L.encode_chunk(0x01020304, b"abc")
    assert chunk[:7] == bytes.fromhex("04030201") + b"abc"
    assert chunk[7:] == struct.pack("<I", zlib.crc32(chunk[:7]))
    assert L.decode_chunk(chunk) == (0x01020304, b"abc")
    assert L.chunk_data_bytes(247) == 236 and L.chunk_data_bytes(23) == 12 and L.chunk_data_bytes(517) == 504
    with pytest.raises(ProtocolError):
        L.chunk_data_bytes(22)
    for bad in (lambda: L.encode_chunk(0, b""), lambda: L.encode_chunk(2**32, b"x"), lambda: L.decode_chunk(bytes(8))):
        with pytest.raises(ProtocolError):
            bad()


@FUZZ
@given(offset=st.integers(0, 2**32 - 1), data=st.binary(min_size=1, max_size=504), bit=st.integers(0, 10**6))
def test_chunk_crc_catches_every_single_bit_flip(offset, data, bit):
    chunk = bytearray(L.encode_chunk(offset, data))
    assert L.decode_chunk(bytes(chunk)) == (offset, data)
    bit %= 8 * len(chunk)
    chunk[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(ProtocolError):
        L.decode_chunk(bytes(chunk))


def test_chunk_crc_catches_every_single_bit_flip_of_one_full_chunk():
    chunk = L.encode_chunk(123_456, bytes(range(236)))
    for bit in range(8 * len(chunk)):
        flipped = bytearray(chunk)
        flipped[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(ProtocolError):
            L.decode_chunk(bytes(flipped))


# --- fuzz: only the package's errors ------------------------------------------------------------
@FUZZ
@given(data=st.binary(max_size=600))
def test_random_writes_raise_only_log_command_errors(data):
    try:
        L.decode_log_command(data, keys=KEYS, nonce=NONCE)
    except L.LogCommandError as exc:
        assert exc.att_error in (E.UNSUPPORTED, E.INVALID, E.NOT_AUTHORISED)


@FUZZ
@given(opcode=st.sampled_from(list(Op)), params=st.binary(max_size=560))
def test_random_signed_parameters_raise_only_0x81(opcode, params):
    command = bytes([opcode]) + params
    data = signed(command) if opcode in L.PROTECTED_OPCODES else command
    try:
        cmd = L.decode_log_command(data, keys=KEYS, nonce=NONCE)
    except L.LogCommandError as exc:
        assert exc.att_error == E.INVALID
    else:
        assert cmd.opcode is opcode


@FUZZ
@given(data=st.binary(max_size=80))
def test_random_chunks_infos_and_notifications_raise_only_protocol_errors(data):
    for decode in (L.decode_chunk, L.decode_log_info, L.decode_session_entry, L.decode_response,
                   L.decode_claim_response):
        try:
            decode(data)
        except ProtocolError:
            pass


@FUZZ
@given(data=st.binary(min_size=32, max_size=32))
def test_any_32_bytes_decode_as_log_info_or_protocol_error(data):
    try:
        info = L.decode_log_info(data)
    except ProtocolError:
        assert data[1] > 2 or data[3] > 100
    else:
        assert L.decode_log_info(L.encode_log_info(info)) == info
