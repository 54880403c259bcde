"""MQTT for the sensors: the Mosquitto broker's files, device and reader logins, the consumer
that stores what devices publish, and the SensorThings MQTT receive topics.

A Django app of its own (label ``sensors_mqtt``) beside ``sensors``: it owns the logins table.
"""
