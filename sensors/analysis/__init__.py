"""What the twin makes of its sensors: the traffic demand calibrated to the counters, short-term
forecasts with anomaly flags, and the time zone they are read in.

A Django app of its own (label ``sensors_analysis``) beside ``sensors``: it owns the calibrated
demands and the anomaly flags (see docs/sensors.md, "Calibration and forecasts").
"""
