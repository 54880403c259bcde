"""Water distribution engine: EPANET through WNTR (pure; no Django).

``network``: reading and checking ``.inp`` files, the network as plain records (WNTR's own
dictionary form) and back, pressure-driven runs in a temporary folder of their own.
``outages``: pipe breaks (a leak as an EPANET emitter), valve closures and the isolation
segment a break creates, pumps and tanks out of service, demand changes.
``service``: pressures at the service points -> served / partly served / not served.
``criticality``: every pipe out once, solved with the EPANET toolkit on one open project.
"""
