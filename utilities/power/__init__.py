"""Power networks of the twin: pandapower grids stored per city, their import and export,
buildings linked to service points, and the power-flow simulator's results."""
