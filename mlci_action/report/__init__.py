"""Rendering of the run record: pure functions from a RunRecord to text."""
