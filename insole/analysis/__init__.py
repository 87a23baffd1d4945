"""Analyses: standing balance (and gait, growing here)."""
