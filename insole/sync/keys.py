"""This host's identity and the keys of the insoles it has claimed.

Claiming a pair (firmware_specs/protocol_v1_1.md, "Claiming") gives each
insole and this host a shared 16-byte key; the insole then accepts logging
control, download and erase only from hosts that prove they hold it. The
keys live in one JSON file in the user's config folder (``$INSOLE_CONFIG_DIR``,
else ``%APPDATA%\\insole`` on Windows, ``~/Library/Application Support/insole``
on macOS, ``$XDG_CONFIG_HOME/insole`` or ``~/.config/insole`` elsewhere),
readable by the user only. Virtual pairs keep theirs in their state folder.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import InsoleError
from ..paths import write_atomic

log = logging.getLogger(__name__)

__all__ = ["KeyStore", "config_dir"]

KEYS_FILE = "keys.json"
HOST_ID_BYTES = 8


def config_dir() -> Path:
    """The user's config folder for insole (not created here)."""
    if env := os.environ.get("INSOLE_CONFIG_DIR"):
        return Path(env)
    if sys.platform == "win32":
        return Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming")) / "insole"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "insole"
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "insole"


@dataclass
class KeyStore:
    """The keys file: this host's id and one key per claimed insole.

    Parameters
    ----------
    folder : Path
        Where ``keys.json`` lives (created on the first save).
    """

    folder: Path

    def __post_init__(self) -> None:
        self.folder = Path(self.folder)
        self._data = self._read()

    @property
    def path(self) -> Path:
        return self.folder / KEYS_FILE

    @property
    def host_id(self) -> bytes:
        """This host's 8-byte id (made on first use and kept)."""
        if "host_id" not in self._data:
            self._data["host_id"] = secrets.token_bytes(HOST_ID_BYTES).hex()
            self.save()
        return bytes.fromhex(self._data["host_id"])

    def key(self, serial: str) -> bytes | None:
        """The key shared with the insole of this serial number, if claimed."""
        entry = self._data.get("insoles", {}).get(serial)
        return bytes.fromhex(entry["key"]) if entry else None

    def remember(self, serial: str, key: bytes, *, side: str) -> None:
        """Keep the key of a newly claimed insole (replaces an older one)."""
        self._data.setdefault("insoles", {})[serial] = {"key": key.hex(), "side": side}
        self.save()

    def save(self) -> None:
        """Write the file atomically, readable by the user only."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            write_atomic(self.path, json.dumps(self._data, indent=1).encode("utf-8"), mode=0o600)
        except (OSError, InsoleError) as exc:
            raise InsoleError(f"cannot save the insole keys in {self.folder}: {getattr(exc, 'strerror', None) or exc}") \
                from None

    def _read(self) -> dict:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise InsoleError(f"cannot read the insole keys {self.path}: {exc.strerror or exc}") from None
        try:
            data = json.loads(text)
            bytes.fromhex(data.get("host_id", ""))
            for entry in data.get("insoles", {}).values():
                bytes.fromhex(entry["key"])
        except (ValueError, TypeError, KeyError, AttributeError):
            raise InsoleError(f"{self.path} is damaged; move it away and claim the insoles again "
                              "(`insole claim`, with the insoles just switched on)") from None
        return data
