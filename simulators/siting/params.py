"""Parameters of a siting run (pure; no Django)."""

from __future__ import annotations

from dataclasses import dataclass

from simulators.common.params import ParamError, check_fields, param


@dataclass
class SitingParams:
    """Settings of a (capacitated) p-median siting.

    Attributes
    ----------
    p : number of sites to open.
    single_assignment : every demand point goes to one site (a household is not split between
        shelters); False lets a demand point's people split between sites (the transportation
        form), whose optimum is never worse.
    allow_unserved : people that no open site can take (capacity short, or no route) are
        left unserved at ``unserved_penalty_s`` per person instead of making the problem
        infeasible.
    unserved_penalty_s : cost of one unserved person (s); None: ten times the longest finite
        travel time, so that serving someone always beats leaving them out.
    mip_rel_gap : relative optimality gap at which HiGHS stops (0 = proven optimum).
    time_limit_s : wall-clock limit of the solver (s); the best solution found so far is
        returned, flagged as not proven optimal.
    strong_link_k : 0: every (demand, site) pair gets the strong row ``x_ij <= y_j``; k > 0:
        only each demand point's k nearest sites do, the rest are linked through the capacity
        (or an aggregated) row. Same optimum, far fewer rows (the model stays exact).
    threads : HiGHS threads (1: one core, as the scale bench measures).
    method : ``"reduced"`` (default): each demand point starts with its ``nearest_k`` nearest
        sites, pairs are added back by pricing against the LP duals and the incumbent's gap
        (the full model's optimum, :mod:`simulators.siting.reduced`), a heuristic incumbent is
        the MIP's start and the answer states its proven gap; ``"full"``: every pair in one
        MIP (``strong_link_k`` applies).
    nearest_k : pairs per demand point the reduced model starts with.
    """

    p: int = param(3, label="Sites to open", unit="1", minimum=1, maximum=100000, integer=True)
    single_assignment: bool = param(
        True, label="One site per building", kind="boolean",
        description="Everyone in a building goes to the same site",
    )  # fmt: skip
    allow_unserved: bool = param(
        False, label="Allow unserved people", kind="boolean",
        description="Leave people unserved (at a penalty) when capacity is short",
    )  # fmt: skip
    unserved_penalty_s: float | None = param(
        None, label="Penalty per unserved person", unit="s", minimum=0.0, maximum=1e9,
        nullable=True, description="Empty: ten times the longest travel time",
    )  # fmt: skip
    mip_rel_gap: float = param(
        0.0, label="Optimality gap", unit="1", minimum=0.0, maximum=0.5,
        description="0 = proven optimum",
    )  # fmt: skip
    time_limit_s: float = param(
        600.0, label="Solver time limit", unit="s", minimum=1.0, maximum=86400.0
    )
    strong_link_k: int = param(
        0, label="Strong rows per demand point", unit="1", minimum=0, maximum=100000,
        integer=True, description="0 = every pair; k = only the k nearest sites",
    )  # fmt: skip
    threads: int = param(1, label="Solver threads", unit="1", minimum=1, maximum=64, integer=True)
    method: str = param(
        "reduced", label="Model",
        choices={"reduced": "nearest sites first, priced (fast, exact)",
                 "full": "every demand-site pair"},
    )  # fmt: skip
    nearest_k: int = param(
        20, label="Nearest sites to start with", unit="1", minimum=1, maximum=100000,
        integer=True, description="Pairs per demand point before pricing adds more",
    )  # fmt: skip

    def __post_init__(self):
        check_fields(self)
        if isinstance(self.p, float):
            self.p = int(self.p)


def check_instance(weights, capacities, cost_s, p: int) -> None:
    """Raise :class:`ParamError` naming the input that does not fit the others.

    Parameters
    ----------
    weights : (n_demand,) people per demand point, >= 0.
    capacities : (n_sites,) people per candidate site, >= 0, or None (uncapacitated).
    cost_s : (n_demand, n_sites) travel time (s), >= 0; ``inf`` = no route.
    p : sites to open.
    """
    import numpy as np

    if weights.ndim != 1 or not len(weights):
        raise ParamError("weights", "needs at least one demand point")
    if not np.all(np.isfinite(weights)) or np.any(weights < 0):
        raise ParamError("weights", "must be finite and >= 0 (people)")
    if cost_s.shape != (len(weights), cost_s.shape[1] if cost_s.ndim == 2 else -1):
        raise ParamError("cost_s", f"must be (n_demand, n_sites), got {cost_s.shape}")
    if not cost_s.shape[1]:
        raise ParamError("cost_s", "needs at least one candidate site")
    if np.any(np.isnan(cost_s)) or np.any(cost_s < 0):
        raise ParamError("cost_s", "travel times must be >= 0 s (inf = no route)")
    if capacities is not None:
        if capacities.shape != (cost_s.shape[1],):
            raise ParamError("capacities", "needs one capacity per candidate site")
        if not np.all(np.isfinite(capacities)) or np.any(capacities < 0):
            raise ParamError("capacities", "must be finite and >= 0 (people)")
    if p > cost_s.shape[1]:
        raise ParamError("p", f"cannot open {p} sites out of {cost_s.shape[1]} candidates")


#: covered living space per person in a shelter, m² (Sphere Handbook 2018, shelter standard 3:
#: at least 3.5 m² per person), for the capacity of a building offered as a candidate site
SPHERE_AREA_PER_PERSON_M2 = 3.5


@dataclass
class ShelterSitingParams(SitingParams):
    """A shelter siting of the twin: which of the candidates to open for a hazard zone.

    Attributes (beyond :class:`SitingParams`)
    ----------------------------------------
    candidates : ``"shelters"`` (the scenario's shelters), ``"buildings"`` (the buildings in
        ``candidate_buildings``) or ``"both"``.
    candidate_buildings : building ids offered as sites; each holds its floor area divided by
        ``area_per_person_m2`` people.
    area_per_person_m2 : floor area per sheltered person (m²), Sphere's 3.5 m² by default.
    mode : travel times by car (free-flow, closed roads closed) or on foot (walking speed on
        the walking network).
    walk_speed_mps : walking speed (m/s) for ``mode="walk"``.
    """

    allow_unserved: bool = param(
        True, label="Allow unserved people", kind="boolean",
        description="Leave people unserved (at a penalty) when capacity is short",
    )  # fmt: skip
    candidates: str = param(
        "shelters", label="Candidate sites",
        choices={"shelters": "the scenario's shelters", "buildings": "the buildings listed",
                 "both": "shelters and the buildings listed"},
    )  # fmt: skip
    candidate_buildings: list = param(
        label="Candidate buildings", kind="ids", default_factory=list,
        description="Building ids offered as shelter sites",
    )  # fmt: skip
    area_per_person_m2: float = param(
        SPHERE_AREA_PER_PERSON_M2, label="Floor area per sheltered person", unit="m2",
        minimum=0.5, maximum=100.0,
    )  # fmt: skip
    mode: str = param(
        "car", label="Travel by", choices={"car": "car (free-flow)", "walk": "on foot"}
    )
    walk_speed_mps: float = param(1.34, label="Walking speed", unit="m/s", minimum=0.3, maximum=3.0)
