"""Scenarios (ordered edits on the base twin) and simulation runs with their stored results."""
