"""Emulator sub-app: graph (see docs/DEVELOPING.md)."""
