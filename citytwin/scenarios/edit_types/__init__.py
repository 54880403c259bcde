"""Scenario edit types, one class each, registered in :mod:`citytwin.scenarios.edits`."""
