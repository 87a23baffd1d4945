"""Bluetooth LE: the link to the insoles (bleak), and the virtual radio and
virtual insoles that stand in for hardware in the demo and the tests."""
