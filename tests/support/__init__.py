"""Helpers shared by the test suite (real components started for tests)."""
