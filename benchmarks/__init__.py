"""Scripted measurements that print numbers (not timed tests)."""
