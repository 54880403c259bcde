"""Water networks of the twin: EPANET networks imported per city, service points, runs."""
