"""Synthetic city generator for scaling benchmarks (pure: no Django, no I/O).

>>> from simulators.synthetic import generate_city
>>> city = generate_city(n_road_links=2000, seed=0)
>>> graph = city.to_networkx()
"""

from simulators.synthetic.city import SyntheticCity, generate_city

__all__ = ["SyntheticCity", "generate_city"]
