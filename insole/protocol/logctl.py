"""Log service of insole protocol v1.1: control point commands, responses,
Log info, session list and download chunks. Host and (virtual) insole share
this codec.

Log control point (write with response + notify), one command per write::

    opcode | params | [host_id (8) | tag (16)]       (auth: protected commands)

    0x20 CLAIM          host_id (8), host X25519 public key (32)       open
    0x21 LOG_START      u8 rate code, u8 mode (0 now, 1 arm auto start),
                        u16 idle_stop_s (0 = 300, else 60..3600),
                        u16 N, N bytes UTF-8 JSON object (N <= 512)   protected
    0x22 LOG_STOP                                                     protected
    0x23 SYNC_POINT     u64 device_time_us, u64 host_time_us,
                        u32 uncertainty_us                            protected
    0x24 LIST_SESSIONS                                                protected
    0x25 READ           u16 session id, u32 offset, u16 window 1..64  protected
    0x26 ACK            u16 session id, u32 offset                    open
    0x27 ERASE          u16 session id, u32 crc32 of the image        protected

The insole checks, in this order: opcode (0x80), length (0x81), auth (0x83,
protected commands), values (0x81); then its state (0x82, 0x84..0x86), which
is the device's business, not this codec's.

Responses are notifications on the control point: ``0x80 | request opcode |
u8 result (0 ok) | payload`` (byte 0 is the constant 0x80). A download chunk
(Log data notification) is ``u32 offset | data | u32 crc32(offset + data)``.
"""

from __future__ import annotations

import json
import logging
import struct
import zlib
from dataclasses import dataclass
from enum import IntEnum

from ..constants import RATE_CODES_HZ
from ..errors import ProtocolError
from ..jsonsafe import json_safe
from .auth import AUTH_BYTES, HOST_ID_BYTES, X25519_KEY_BYTES, AuthError, verify

__all__ = [
    "CHUNK_OVERHEAD_BYTES",
    "DEFAULT_IDLE_STOP_S",
    "IDLE_STOP_RANGE_S",
    "LOG_INFO_BYTES",
    "MAX_CHUNK_BYTES",
    "MAX_NOTE_BYTES",
    "MAX_WINDOW",
    "PROTECTED_OPCODES",
    "RESPONSE_CODE",
    "SESSION_ENTRY_BYTES",
    "SESSION_ID_RANGE",
    "SESSION_LIST_END",
    "AckParams",
    "ClaimParams",
    "EraseParams",
    "LogAttError",
    "LogCommand",
    "LogCommandError",
    "LogInfo",
    "LogOpcode",
    "LogResponse",
    "LogStartParams",
    "ReadParams",
    "SessionEntry",
    "SyncPointParams",
    "chunk_data_bytes",
    "decode_chunk",
    "decode_claim_response",
    "decode_log_command",
    "decode_log_info",
    "decode_response",
    "decode_session_entry",
    "encode_ack",
    "encode_chunk",
    "encode_claim",
    "encode_claim_response",
    "encode_erase",
    "encode_list_sessions",
    "encode_log_info",
    "encode_log_start",
    "encode_log_stop",
    "encode_read",
    "encode_response",
    "encode_session_entry",
    "encode_sync_point",
]

log = logging.getLogger(__name__)


class LogOpcode(IntEnum):
    CLAIM = 0x20
    LOG_START = 0x21
    LOG_STOP = 0x22
    SYNC_POINT = 0x23
    LIST_SESSIONS = 0x24
    READ = 0x25
    ACK = 0x26
    ERASE = 0x27


class LogAttError(IntEnum):
    """ATT application errors of the Log control point (0x80..0x82 are the
    v1 :class:`insole.protocol.control.AttError` codes)."""

    UNSUPPORTED = 0x80
    INVALID = 0x81
    STATE = 0x82
    NOT_AUTHORISED = 0x83
    WINDOW_CLOSED = 0x84
    NO_SESSION = 0x85
    VERIFY_FAILED = 0x86


class LogCommandError(ProtocolError):
    """A Log control point write the insole refuses; ``att_error`` is the
    :class:`LogAttError` it answers with (as ``ProtocolError.att_error`` of
    the v1 control point)."""

    def __init__(self, message: str, att_error: int) -> None:
        super().__init__(message)
        self.att_error = LogAttError(att_error)


PROTECTED_OPCODES = frozenset({LogOpcode.LOG_START, LogOpcode.LOG_STOP, LogOpcode.SYNC_POINT,
                               LogOpcode.LIST_SESSIONS, LogOpcode.READ, LogOpcode.ERASE})
#: byte 0 of every response notification
RESPONSE_CODE = 0x80
MAX_NOTE_BYTES = 512
DEFAULT_IDLE_STOP_S = 300
IDLE_STOP_RANGE_S = (60, 3600)
MAX_WINDOW = 64
SESSION_ID_RANGE = (1, 0xFFFE)

_CLAIM = struct.Struct(f"<{HOST_ID_BYTES}s{X25519_KEY_BYTES}s")
_LOG_START = struct.Struct("<BBHH")  # then the note
_SYNC_POINT = struct.Struct("<QQI")
_READ = struct.Struct("<HIH")
_ACK = struct.Struct("<HI")
_ERASE = struct.Struct("<HI")
#: fixed parameter bytes per opcode (LOG_START: its head, the note follows)
_PARAM_BYTES = {LogOpcode.CLAIM: _CLAIM.size, LogOpcode.LOG_START: _LOG_START.size, LogOpcode.LOG_STOP: 0,
                LogOpcode.SYNC_POINT: _SYNC_POINT.size, LogOpcode.LIST_SESSIONS: 0, LogOpcode.READ: _READ.size,
                LogOpcode.ACK: _ACK.size, LogOpcode.ERASE: _ERASE.size}


def _invalid(msg: str) -> LogCommandError:
    return LogCommandError(msg, LogAttError.INVALID)


# --- Log info characteristic -------------------------------------------------
_INFO = struct.Struct("<BBBBIIIHHQI")
LOG_INFO_BYTES = _INFO.size  # 32
_STATES = ("idle", "armed", "logging")
_INFO_FLAGS = ("claimed", "window_open", "battery_low")


@dataclass(frozen=True)
class LogInfo:
    """The Log info characteristic (32 bytes, open read).

    Attributes
    ----------
    format_version : int
        Log format version of the pages (1).
    state : str
        "idle", "armed" (auto start armed) or "logging".
    claimed, window_open, battery_low : bool
        The insole has a claimed host; its claim window is open; battery low.
    battery_pct : int
        Battery charge, 0..100 %.
    page_size : int
        Flash page size, bytes (4096).
    capacity_pages, used_pages : int
        Log flash size and pages in use.
    sessions : int
        Sessions stored.
    current_session : int
        Id of the open session, 0 if none.
    device_time_us : int
        The insole's clock when the read was answered, microseconds.
    """

    format_version: int = 1
    state: str = "idle"
    claimed: bool = False
    window_open: bool = False
    battery_low: bool = False
    battery_pct: int = 100
    page_size: int = 4096
    capacity_pages: int = 0
    used_pages: int = 0
    sessions: int = 0
    current_session: int = 0
    device_time_us: int = 0


def encode_log_info(info: LogInfo) -> bytes:
    """The 32-byte Log info value of ``info``."""
    if info.state not in _STATES:
        raise ProtocolError(f"log state must be one of {_STATES}, got {info.state!r}")
    if not 0 <= info.battery_pct <= 100:
        raise ProtocolError(f"battery {info.battery_pct} % is outside 0..100")
    flags = sum(1 << i for i, name in enumerate(_INFO_FLAGS) if getattr(info, name))
    try:
        return _INFO.pack(info.format_version, _STATES.index(info.state), flags, info.battery_pct, info.page_size,
                          info.capacity_pages, info.used_pages, info.sessions, info.current_session,
                          info.device_time_us, 0)
    except struct.error as exc:
        raise ProtocolError(f"log info field out of range: {exc}") from exc


def decode_log_info(data: bytes) -> LogInfo:
    """Parse the Log info value (unknown flag bits and the reserved field are
    ignored).

    Raises
    ------
    ProtocolError
        Not 32 bytes, unknown state, battery over 100 %.
    """
    data = bytes(data)
    if len(data) != LOG_INFO_BYTES:
        raise ProtocolError(f"log info is {len(data)} bytes, expected {LOG_INFO_BYTES}")
    version, state, flags, battery, page, capacity, used, sessions, current, now_us, _ = _INFO.unpack(data)
    if state >= len(_STATES):
        raise ProtocolError(f"log info names unknown state {state}")
    if battery > 100:
        raise ProtocolError(f"log info battery {battery} % is over 100")
    bits = {name: bool(flags >> i & 1) for i, name in enumerate(_INFO_FLAGS)}
    return LogInfo(format_version=version, state=_STATES[state], battery_pct=battery, page_size=page,
                   capacity_pages=capacity, used_pages=used, sessions=sessions, current_session=current,
                   device_time_us=now_us, **bits)


# --- commands: parameters ------------------------------------------------------
@dataclass(frozen=True)
class ClaimParams:
    """CLAIM: ``host_id`` (8 bytes) and the host's X25519 ``public_key`` (32)."""

    host_id: bytes
    public_key: bytes


@dataclass(frozen=True)
class LogStartParams:
    """LOG_START: rate (Hz), ``auto`` (arm auto start instead of now),
    ``idle_stop_s`` (s, the default 300 when 0 was sent), ``note`` (JSON object)."""

    sampling_rate_hz: int
    auto: bool
    idle_stop_s: int
    note: dict


@dataclass(frozen=True)
class SyncPointParams:
    """SYNC_POINT: device clock (us) at the host instant ``host_time_us``
    (Unix us), +- ``uncertainty_us``."""

    device_time_us: int
    host_time_us: int
    uncertainty_us: int


@dataclass(frozen=True)
class ReadParams:
    """READ: byte ``offset`` into the session image, ``window`` chunks in flight."""

    session_id: int
    offset: int
    window: int


@dataclass(frozen=True)
class AckParams:
    """ACK: every byte of the image below ``offset`` arrived intact."""

    session_id: int
    offset: int


@dataclass(frozen=True)
class EraseParams:
    """ERASE: the session, and the crc32 of its whole image as the host has it."""

    session_id: int
    image_crc32: int


Params = ClaimParams | LogStartParams | SyncPointParams | ReadParams | AckParams | EraseParams


@dataclass(frozen=True)
class LogCommand:
    """A decoded Log control point write.

    Attributes
    ----------
    opcode : LogOpcode
    params : ClaimParams, LogStartParams, ..., or None
        None for LOG_STOP and LIST_SESSIONS.
    host_id : bytes or None
        The verified sender of a protected command; the claiming host of a
        CLAIM (not verified: that is what claiming is); None for ACK.
    """

    opcode: LogOpcode
    params: Params | None = None
    host_id: bytes | None = None


def _check_session(session_id: int) -> None:
    lo, hi = SESSION_ID_RANGE
    if not lo <= session_id <= hi:
        raise _invalid(f"session id {session_id} is outside {lo}..{hi}")


def _check_window(window: int) -> None:
    if not 1 <= window <= MAX_WINDOW:
        raise _invalid(f"READ window {window} is outside 1..{MAX_WINDOW} chunks")


def _check_idle(idle_stop_s: int) -> None:
    lo, hi = IDLE_STOP_RANGE_S
    if idle_stop_s != 0 and not lo <= idle_stop_s <= hi:
        raise _invalid(f"idle_stop_s {idle_stop_s} is outside {lo}..{hi} s (0 = {DEFAULT_IDLE_STOP_S} s)")


def _rate_code(rate_hz: int) -> int:
    codes = {hz: c for c, hz in RATE_CODES_HZ.items()}
    if rate_hz not in codes:
        raise _invalid(f"sampling rate must be one of {sorted(codes)} Hz, got {rate_hz}")
    return codes[rate_hz]


def _note_bytes(note: dict | None) -> bytes:
    if note is None:
        return b""
    if not isinstance(note, dict):
        raise _invalid(f"the host note must be a dict (a JSON object), got {type(note).__name__}")
    if not note:
        return b""
    try:
        raw = json.dumps(json_safe(note), separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
    except (TypeError, ValueError) as exc:
        raise _invalid(f"the host note is not JSON: {exc}") from exc
    if len(raw) > MAX_NOTE_BYTES:
        raise _invalid(f"the host note is {len(raw)} bytes of JSON, at most {MAX_NOTE_BYTES}")
    return raw


def _parse_note(raw: bytes) -> dict:
    if len(raw) > MAX_NOTE_BYTES:
        raise _invalid(f"host note of {len(raw)} bytes, at most {MAX_NOTE_BYTES}")
    if not raw:
        return {}
    try:
        note = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise _invalid(f"host note is not UTF-8 JSON: {exc}") from None
    if not isinstance(note, dict):
        raise _invalid(f"host note is a JSON {type(note).__name__}, not an object")
    return note


# --- commands: host-side encoders -----------------------------------------------
def _command(opcode: LogOpcode, fmt: struct.Struct | None = None, *values) -> bytes:
    if fmt is None:
        return bytes([opcode])
    try:
        return bytes([opcode]) + fmt.pack(*values)
    except struct.error as exc:
        raise _invalid(f"{opcode.name}: parameter out of range ({values})") from exc


def encode_claim(host_id: bytes, public_key: bytes) -> bytes:
    """CLAIM command (not signed).

    Parameters
    ----------
    host_id : bytes
        This host's 8-byte id (:func:`insole.protocol.auth.new_host_id`).
    public_key : bytes
        This host's 32-byte X25519 public key.
    """
    host_id, public_key = bytes(host_id), bytes(public_key)
    if len(host_id) != HOST_ID_BYTES or len(public_key) != X25519_KEY_BYTES:
        raise _invalid(f"CLAIM needs an {HOST_ID_BYTES}-byte host id and a {X25519_KEY_BYTES}-byte public key")
    return _command(LogOpcode.CLAIM, _CLAIM, host_id, public_key)


def encode_log_start(rate_hz: int, *, auto: bool = False, idle_stop_s: int = DEFAULT_IDLE_STOP_S,
                     note: dict | None = None) -> bytes:
    """LOG_START command, to sign with :func:`insole.protocol.auth.sign`.

    Parameters
    ----------
    rate_hz : int
        Sampling rate, 50, 100 or 200 Hz.
    auto : bool
        Arm auto start (log once stepping is detected) instead of starting now.
    idle_stop_s : int
        Stop after this long without steps, 60..3600 s (0: the device default, 300 s).
    note : dict, optional
        JSON object stored in the session header (at most 512 bytes as compact UTF-8 JSON).
    """
    code = _rate_code(rate_hz)
    _check_idle(idle_stop_s)
    raw = _note_bytes(note)
    return _command(LogOpcode.LOG_START, _LOG_START, code, int(bool(auto)), idle_stop_s, len(raw)) + raw


def encode_log_stop() -> bytes:
    """LOG_STOP command, to sign."""
    return _command(LogOpcode.LOG_STOP)


def encode_sync_point(device_time_us: int, host_time_us: int, uncertainty_us: int) -> bytes:
    """SYNC_POINT command, to sign.

    Parameters
    ----------
    device_time_us : int
        The insole's clock at the host instant, us (u64).
    host_time_us : int
        That instant on the host clock, Unix time in us (u64).
    uncertainty_us : int
        Half the round trip of the exchange that produced the pair, us (u32).
    """
    return _command(LogOpcode.SYNC_POINT, _SYNC_POINT, device_time_us, host_time_us, uncertainty_us)


def encode_list_sessions() -> bytes:
    """LIST_SESSIONS command, to sign."""
    return _command(LogOpcode.LIST_SESSIONS)


def encode_read(session_id: int, offset: int, window: int) -> bytes:
    """READ command, to sign: stream the image of ``session_id`` from byte
    ``offset`` with up to ``window`` (1..64) unacknowledged chunks."""
    _check_session(session_id)
    _check_window(window)
    return _command(LogOpcode.READ, _READ, session_id, offset, window)


def encode_ack(session_id: int, offset: int) -> bytes:
    """ACK command (not signed): bytes below ``offset`` received and checked."""
    _check_session(session_id)
    return _command(LogOpcode.ACK, _ACK, session_id, offset)


def encode_erase(session_id: int, image_crc32: int) -> bytes:
    """ERASE command, to sign; ``image_crc32`` = zlib.crc32 of the whole
    session image the host downloaded."""
    _check_session(session_id)
    return _command(LogOpcode.ERASE, _ERASE, session_id, image_crc32)


# --- commands: device-side decoder ------------------------------------------------
def _parse_claim(p: bytes) -> ClaimParams:
    host_id, public_key = _CLAIM.unpack(p)
    return ClaimParams(host_id=host_id, public_key=public_key)


def _parse_log_start(p: bytes) -> LogStartParams:
    code, mode, idle_s, n = _LOG_START.unpack_from(p)
    if code not in RATE_CODES_HZ:
        raise _invalid(f"LOG_START: invalid rate code {code}")
    if mode not in (0, 1):
        raise _invalid(f"LOG_START: mode must be 0 (now) or 1 (auto), got {mode}")
    _check_idle(idle_s)
    note = _parse_note(p[_LOG_START.size:_LOG_START.size + n])
    return LogStartParams(sampling_rate_hz=RATE_CODES_HZ[code], auto=mode == 1,
                          idle_stop_s=idle_s or DEFAULT_IDLE_STOP_S, note=note)


def _parse_sync_point(p: bytes) -> SyncPointParams:
    device_us, host_us, unc_us = _SYNC_POINT.unpack(p)
    return SyncPointParams(device_time_us=device_us, host_time_us=host_us, uncertainty_us=unc_us)


def _parse_read(p: bytes) -> ReadParams:
    session_id, offset, window = _READ.unpack(p)
    _check_session(session_id)
    _check_window(window)
    return ReadParams(session_id=session_id, offset=offset, window=window)


def _parse_ack(p: bytes) -> AckParams:
    session_id, offset = _ACK.unpack(p)
    _check_session(session_id)
    return AckParams(session_id=session_id, offset=offset)


def _parse_erase(p: bytes) -> EraseParams:
    session_id, crc = _ERASE.unpack(p)
    _check_session(session_id)
    return EraseParams(session_id=session_id, image_crc32=crc)


_PARSERS = {LogOpcode.CLAIM: _parse_claim, LogOpcode.LOG_START: _parse_log_start, LogOpcode.LOG_STOP: None,
            LogOpcode.SYNC_POINT: _parse_sync_point, LogOpcode.LIST_SESSIONS: None, LogOpcode.READ: _parse_read,
            LogOpcode.ACK: _parse_ack, LogOpcode.ERASE: _parse_erase}


def _opcode(data: bytes) -> LogOpcode:
    if not data:
        raise _invalid("empty log control point write")
    try:
        return LogOpcode(data[0])
    except ValueError:
        raise LogCommandError(f"unknown log opcode 0x{data[0]:02x}", LogAttError.UNSUPPORTED) from None


def _check_length(opcode: LogOpcode, data: bytes) -> None:
    auth = AUTH_BYTES if opcode in PROTECTED_OPCODES else 0
    expected = _PARAM_BYTES[opcode]
    n = len(data) - 1 - auth
    if opcode is LogOpcode.LOG_START and n >= expected:
        expected += int.from_bytes(data[5:7], "little")  # the note's length N
    if n != expected:
        tail = f" + {auth} auth (host id, tag)" if auth else ""
        raise _invalid(f"{opcode.name}: {len(data)} bytes, expected 1 opcode + {expected} parameters{tail}")


def decode_log_command(data: bytes, *, keys: dict[bytes, bytes], nonce: bytes) -> LogCommand:
    """Parse and authenticate a Log control point write (what the insole does).

    Checks in the contract's order: opcode (0x80), length (0x81), auth of a
    protected command (0x83), values (0x81). State checks (0x82, 0x84..0x86)
    are the device's.

    Parameters
    ----------
    data : bytes
        The value written.
    keys : dict of bytes to bytes
        host_id (8 bytes) -> claim key, the insole's claim slots.
    nonce : bytes
        The 16-byte challenge the insole showed for this command.

    Raises
    ------
    LogCommandError
        A :class:`ProtocolError` whose ``att_error`` is the :class:`LogAttError`
        to answer with.
    """
    data = bytes(data)
    opcode = _opcode(data)
    _check_length(opcode, data)
    command, host_id = data, None
    if opcode in PROTECTED_OPCODES:
        try:
            command, host_id = verify(data, keys=keys, nonce=nonce)
        except AuthError as exc:
            raise LogCommandError(f"{opcode.name}: {exc}", LogAttError.NOT_AUTHORISED) from None
    parse = _PARSERS[opcode]
    params = parse(command[1:]) if parse else None
    if opcode is LogOpcode.CLAIM:
        host_id = params.host_id
    return LogCommand(opcode=opcode, params=params, host_id=host_id)


# --- responses -----------------------------------------------------------------------
@dataclass(frozen=True)
class LogResponse:
    """A response notification: ``opcode`` it answers, ``result`` (0 ok), ``payload``."""

    opcode: LogOpcode
    result: int = 0
    payload: bytes = b""


def encode_response(opcode: LogOpcode, *, result: int = 0, payload: bytes = b"") -> bytes:
    """``0x80 | opcode | result | payload``, a control point notification."""
    if not 0 <= result <= 0xFF:
        raise ProtocolError(f"response result {result} is not a byte")
    return bytes([RESPONSE_CODE, LogOpcode(opcode), result]) + bytes(payload)


def decode_response(data: bytes) -> LogResponse:
    """Parse a control point notification (host side).

    Raises
    ------
    ProtocolError
        Shorter than 3 bytes, byte 0 not 0x80, or an unknown opcode.
    """
    data = bytes(data)
    if len(data) < 3 or data[0] != RESPONSE_CODE:
        raise ProtocolError(f"not a log control point response: {data[:8].hex()}")
    try:
        opcode = LogOpcode(data[1])
    except ValueError:
        raise ProtocolError(f"response to unknown log opcode 0x{data[1]:02x}") from None
    return LogResponse(opcode=opcode, result=data[2], payload=data[3:])


def encode_claim_response(public_key: bytes) -> bytes:
    """The insole's answer to CLAIM: its 32-byte X25519 public key."""
    if len(public_key) != X25519_KEY_BYTES:
        raise ProtocolError(f"X25519 public key must be {X25519_KEY_BYTES} bytes")
    return encode_response(LogOpcode.CLAIM, payload=public_key)


def decode_claim_response(data: bytes) -> bytes:
    """The insole's 32-byte public key from its CLAIM response notification."""
    resp = _expect(data, LogOpcode.CLAIM)
    if len(resp.payload) != X25519_KEY_BYTES:
        raise ProtocolError(f"CLAIM response carries {len(resp.payload)} bytes, expected a {X25519_KEY_BYTES}-byte key")
    return resp.payload


def _expect(data: bytes, opcode: LogOpcode) -> LogResponse:
    resp = decode_response(data)
    if resp.opcode is not opcode:
        raise ProtocolError(f"expected a {opcode.name} response, got {resp.opcode.name}")
    if resp.result != 0:
        raise ProtocolError(f"{opcode.name} answered result {resp.result}")
    return resp


# --- LIST_SESSIONS notifications -------------------------------------------------------
_ENTRY = struct.Struct("<HIIQQIB")
SESSION_ENTRY_BYTES = _ENTRY.size  # 31
_END_MARK = 0xFFFF


@dataclass(frozen=True)
class SessionEntry:
    """One stored session, as LIST_SESSIONS reports it.

    Attributes
    ----------
    session_id : int
    image_bytes : int
        Size of the session image (pages x 4096), bytes.
    samples : int
        Samples logged.
    start_device_time_us : int
        Device time of the first sample, us.
    start_host_time_us : int
        Host time of the start sync point, Unix us (0: none).
    duration_ms : int
        Session length, ms.
    complete : bool
        The session has an end page.
    open : bool
        The session is still logging.
    """

    session_id: int
    image_bytes: int
    samples: int
    start_device_time_us: int
    start_host_time_us: int
    duration_ms: int
    complete: bool = False
    open: bool = False


#: the notification that ends a LIST_SESSIONS answer
SESSION_LIST_END = bytes([RESPONSE_CODE, LogOpcode.LIST_SESSIONS, 0]) + _END_MARK.to_bytes(2, "little")


def encode_session_entry(entry: SessionEntry) -> bytes:
    """The LIST_SESSIONS notification of one session (end: :data:`SESSION_LIST_END`)."""
    lo, hi = SESSION_ID_RANGE
    if not lo <= entry.session_id <= hi:
        raise ProtocolError(f"session id {entry.session_id} is outside {lo}..{hi}")
    flags = int(entry.complete) | int(entry.open) << 1
    try:
        payload = _ENTRY.pack(entry.session_id, entry.image_bytes, entry.samples, entry.start_device_time_us,
                              entry.start_host_time_us, entry.duration_ms, flags)
    except struct.error as exc:
        raise ProtocolError(f"session entry field out of range: {exc}") from exc
    return encode_response(LogOpcode.LIST_SESSIONS, payload=payload)


def decode_session_entry(data: bytes) -> SessionEntry | None:
    """Parse a LIST_SESSIONS notification; None for the end marker.

    Raises
    ------
    ProtocolError
        Not a LIST_SESSIONS response, a non-zero result, a wrong payload
        length or session id.
    """
    payload = _expect(data, LogOpcode.LIST_SESSIONS).payload
    if payload == _END_MARK.to_bytes(2, "little"):
        return None
    if len(payload) != SESSION_ENTRY_BYTES:
        raise ProtocolError(f"session entry is {len(payload)} bytes, expected {SESSION_ENTRY_BYTES}")
    sid, image, samples, dev_us, host_us, dur_ms, flags = _ENTRY.unpack(payload)
    if not SESSION_ID_RANGE[0] <= sid <= SESSION_ID_RANGE[1]:
        raise ProtocolError(f"session entry names invalid session id {sid}")
    return SessionEntry(session_id=sid, image_bytes=image, samples=samples, start_device_time_us=dev_us,
                        start_host_time_us=host_us, duration_ms=dur_ms, complete=bool(flags & 1),
                        open=bool(flags & 2))


# --- download chunks ----------------------------------------------------------------------
_OFFSET = struct.Struct("<I")
#: chunk bytes besides its data: u32 offset + u32 crc32
CHUNK_OVERHEAD_BYTES = 8
#: largest attribute value BLE allows (Core spec Vol 3 Part F 3.2.9)
MAX_CHUNK_BYTES = 512
_MIN_ATT_MTU = 23


def chunk_data_bytes(att_mtu: int) -> int:
    """Data bytes per chunk at ``att_mtu``: ATT_MTU - 3 - 8 (236 at 247),
    at most 504 so that a chunk stays within the 512-byte attribute limit.

    Parameters
    ----------
    att_mtu : int
        Negotiated ATT MTU, bytes (>= 23).
    """
    if att_mtu < _MIN_ATT_MTU:
        raise ProtocolError(f"ATT MTU {att_mtu} is below the BLE minimum of {_MIN_ATT_MTU}")
    return min(att_mtu - 3, MAX_CHUNK_BYTES) - CHUNK_OVERHEAD_BYTES


def encode_chunk(offset: int, data: bytes) -> bytes:
    """``u32 offset | data | u32 crc32(offset bytes + data)``.

    Parameters
    ----------
    offset : int
        Byte offset of ``data`` in the session image (u32).
    data : bytes
        At least one byte of the image.
    """
    data = bytes(data)
    if not data:
        raise ProtocolError("a chunk carries at least one byte")
    if not 0 <= offset <= 0xFFFFFFFF:
        raise ProtocolError(f"chunk offset {offset} is not a u32")
    head = _OFFSET.pack(offset) + data
    return head + _OFFSET.pack(zlib.crc32(head))


def decode_chunk(chunk: bytes) -> tuple[int, bytes]:
    """``(offset, data)`` of a Log data notification.

    Raises
    ------
    ProtocolError
        Shorter than 9 bytes, or the CRC does not match.
    """
    chunk = bytes(chunk)
    if len(chunk) <= CHUNK_OVERHEAD_BYTES:
        raise ProtocolError(f"log data chunk of {len(chunk)} bytes is too short")
    head, (crc,) = chunk[:-4], _OFFSET.unpack(chunk[-4:])
    if zlib.crc32(head) != crc:
        raise ProtocolError(f"log data chunk CRC mismatch at offset {_OFFSET.unpack(head[:4])[0]}")
    return _OFFSET.unpack(head[:4])[0], head[4:]
