"""Power networks (pure; no Django): outages on a pandapower net, the power flow and its
unsupplied buses, N-1 contingencies. pandapower does the engineering; this package says
which elements an outage takes out and collects the results as plain arrays."""

from .flow import FlowResult, PowerFlowParams, solve
from .outages import apply_outages, substation_elements

__all__ = ["FlowResult", "PowerFlowParams", "apply_outages", "solve", "substation_elements"]
