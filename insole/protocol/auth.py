"""Claiming and command authentication of the Log service (protocol v1.1).

A host claims an insole once, inside the insole's claim window: both sides
exchange X25519 public keys (CLAIM command and its response) and derive the
same 16-byte key::

    key = HKDF-SHA256(ikm = X25519 shared secret,
                      salt = host_id || serial (UTF-8),
                      info = b"insole-claim-v1", length = 16)

Every protected command then ends with ``host_id (8) | tag (16)``::

    tag = HMAC-SHA256(key, nonce || command || host_id)[:16]

where ``command`` is ``opcode | params`` and ``nonce`` is the 16-byte value
of the Challenge characteristic, which the insole renews on every connection
and after every protected command, so a recorded command cannot be replayed.

All functions here are pure (the randomness of :func:`new_keypair`,
:func:`new_nonce` and :func:`new_host_id` aside); keys are raw bytes, which is
what a host stores and what a firmware keeps in its slots.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..errors import ProtocolError

__all__ = [
    "AUTH_BYTES",
    "CLAIM_INFO",
    "HOST_ID_BYTES",
    "KEY_BYTES",
    "NONCE_BYTES",
    "TAG_BYTES",
    "X25519_KEY_BYTES",
    "AuthError",
    "KeyPair",
    "auth_tag",
    "claim_key",
    "new_host_id",
    "new_keypair",
    "new_nonce",
    "public_key",
    "shared_secret",
    "sign",
    "verify",
]

log = logging.getLogger(__name__)

HOST_ID_BYTES = 8
NONCE_BYTES = 16
TAG_BYTES = 16
#: bytes a protected command carries after its parameters: host_id | tag
AUTH_BYTES = HOST_ID_BYTES + TAG_BYTES
#: length of the claim key (HMAC key of the tags)
KEY_BYTES = 16
X25519_KEY_BYTES = 32
CLAIM_INFO = b"insole-claim-v1"
#: ATT error a failed check answers with (LogAttError.NOT_AUTHORISED)
_NOT_AUTHORISED = 0x83


class AuthError(ProtocolError):
    """A protected command does not verify: unknown host_id, bad tag (wrong
    key, altered byte) or a tag made with an old nonce (replay).

    ``att_error`` is 0x83, the ATT error the insole answers with.
    """

    att_error = _NOT_AUTHORISED


@dataclass(frozen=True)
class KeyPair:
    """An X25519 key pair as raw bytes.

    Attributes
    ----------
    private : bytes
        32-byte private scalar (keep secret).
    public : bytes
        32-byte public u-coordinate, what goes on the air.
    """

    private: bytes
    public: bytes

    def __repr__(self) -> str:  # never show the private key in logs or tracebacks
        return f"KeyPair(public={self.public.hex()})"


def _need(value: bytes, n: int, what: str) -> bytes:
    value = bytes(value)
    if len(value) != n:
        raise ProtocolError(f"{what} must be {n} bytes, got {len(value)}")
    return value


def new_keypair() -> KeyPair:
    """A fresh random X25519 key pair."""
    private = X25519PrivateKey.generate().private_bytes_raw()
    return KeyPair(private=private, public=public_key(private))


def public_key(private: bytes) -> bytes:
    """The 32-byte X25519 public key of a 32-byte private key.

    Parameters
    ----------
    private : bytes
        Raw private key (32 bytes).
    """
    key = X25519PrivateKey.from_private_bytes(_need(private, X25519_KEY_BYTES, "X25519 private key"))
    return key.public_key().public_bytes_raw()


def shared_secret(private: bytes, peer_public: bytes) -> bytes:
    """The 32-byte X25519 shared secret (RFC 7748).

    Parameters
    ----------
    private : bytes
        This side's raw private key (32 bytes).
    peer_public : bytes
        The other side's raw public key (32 bytes).

    Raises
    ------
    ProtocolError
        A key has the wrong length, or the peer key is a low-order point
        (the secret would be all zeros). A device answers 0x81.
    """
    mine = X25519PrivateKey.from_private_bytes(_need(private, X25519_KEY_BYTES, "X25519 private key"))
    peer = X25519PublicKey.from_public_bytes(_need(peer_public, X25519_KEY_BYTES, "X25519 public key"))
    try:
        return mine.exchange(peer)
    except ValueError as exc:  # all-zero result: a low-order public key
        raise ProtocolError(f"X25519 public key {bytes(peer_public).hex()} is not usable (low order)") from exc


def claim_key(secret: bytes | None = None, *, private: bytes | None = None, peer_public: bytes | None = None,
              host_id: bytes, serial: str) -> bytes:
    """The 16-byte key a claim gives host and insole.

    Give either the shared ``secret`` or this side's ``private`` key and the
    ``peer_public`` key.

    Parameters
    ----------
    secret : bytes, optional
        X25519 shared secret (32 bytes).
    private, peer_public : bytes, optional
        Raw X25519 keys (32 bytes each), instead of ``secret``.
    host_id : bytes
        The claiming host's 8-byte id.
    serial : str
        The insole's serial number (Device Information), UTF-8 in the salt.

    Returns
    -------
    bytes
        HKDF-SHA256(ikm=secret, salt=host_id || serial, info=b"insole-claim-v1"), 16 bytes.
    """
    if (secret is None) == (private is None or peer_public is None):
        raise ProtocolError("claim_key needs either the shared secret or private and peer_public keys")
    if secret is None:
        secret = shared_secret(private, peer_public)
    salt = _need(host_id, HOST_ID_BYTES, "host_id") + serial.encode("utf-8")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=salt, info=CLAIM_INFO)
    return hkdf.derive(_need(secret, X25519_KEY_BYTES, "X25519 shared secret"))


def new_nonce() -> bytes:
    """A fresh random 16-byte challenge nonce."""
    return secrets.token_bytes(NONCE_BYTES)


def new_host_id() -> bytes:
    """A fresh random 8-byte host id."""
    return secrets.token_bytes(HOST_ID_BYTES)


def auth_tag(command: bytes, *, key: bytes, host_id: bytes, nonce: bytes) -> bytes:
    """HMAC-SHA256(key, nonce || command || host_id), first 16 bytes.

    Parameters
    ----------
    command : bytes
        ``opcode | params`` (without auth).
    key : bytes
        The claim key shared with ``host_id``.
    host_id : bytes
        8-byte host id.
    nonce : bytes
        The 16-byte challenge the insole currently shows.
    """
    if not key:
        raise ProtocolError("empty authentication key")
    msg = _need(nonce, NONCE_BYTES, "nonce") + bytes(command) + _need(host_id, HOST_ID_BYTES, "host_id")
    return hmac.new(bytes(key), msg, hashlib.sha256).digest()[:TAG_BYTES]


def sign(command: bytes, *, key: bytes, host_id: bytes, nonce: bytes) -> bytes:
    """``command | host_id | tag``: a protected command ready to write.

    Parameters
    ----------
    command : bytes
        ``opcode | params``, e.g. from :func:`insole.protocol.logctl.encode_read`.
    key, host_id, nonce : bytes
        As in :func:`auth_tag`.
    """
    command = bytes(command)
    return command + bytes(host_id) + auth_tag(command, key=key, host_id=host_id, nonce=nonce)


def verify(data: bytes, *, keys: dict[bytes, bytes], nonce: bytes) -> tuple[bytes, bytes]:
    """Check a signed command (what the insole does).

    Parameters
    ----------
    data : bytes
        ``command | host_id | tag`` as written.
    keys : dict of bytes to bytes
        host_id -> claim key, the insole's slots.
    nonce : bytes
        The challenge the insole showed for this command.

    Returns
    -------
    tuple of bytes
        ``(command, host_id)``: the command without its auth, and who sent it.

    Raises
    ------
    AuthError
        Too short for auth, unknown host_id, or the tag does not match
        (compared in constant time).
    """
    data = bytes(data)
    if len(data) <= AUTH_BYTES:
        raise AuthError(f"a signed command needs more than {AUTH_BYTES} bytes, got {len(data)}")
    command, host_id, tag = data[:-AUTH_BYTES], data[-AUTH_BYTES:-TAG_BYTES], data[-TAG_BYTES:]
    key = keys.get(host_id)
    if key is None:
        raise AuthError(f"host {host_id.hex()} has not claimed this insole")
    if not hmac.compare_digest(auth_tag(command, key=key, host_id=host_id, nonce=nonce), tag):
        raise AuthError(f"bad authentication tag from host {host_id.hex()} (wrong key, altered or replayed)")
    return command, host_id
