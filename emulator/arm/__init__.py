"""Emulator sub-app: arm (see docs/DEVELOPING.md)."""
