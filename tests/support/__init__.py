"""Shared test helpers (the emulator fixture, offline credentials, SDK client factories)."""
