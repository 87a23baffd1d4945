"""The second way into the recording tier: runs logged on the insoles
themselves (protocol v1.1), claimed, started, synced and verified from the
host. ``workflow`` holds what the commands do; ``link`` one insole's Log
service; ``ingest`` turns downloaded sessions into recordings; ``keys`` this
host's claim keys."""
