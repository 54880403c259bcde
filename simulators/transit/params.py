"""Parameters of the transit network, its assignment and the mode choice (with sources).

Times are seconds in the engine; the service publishes minutes where people think in minutes
(``Simulator.params`` scales them).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from simulators.common.params import check_fields, param

__all__ = ["TransitParams", "ModeChoiceParams", "TransitRunParams"]


def dataclass_field_copy(cls, name: str):
    """A described field with the same default, label, unit and range as ``cls.name``."""
    f = dataclasses.fields(cls)
    spec = next(x for x in f if x.name == name)
    meta = dict(spec.metadata)
    return param(
        spec.default, label=meta["label"], unit=meta["unit"], description=meta["description"],
        minimum=meta["minimum"], maximum=meta["maximum"], choices=meta["choices"],
        kind=meta["kind"], nullable=meta["nullable"], integer=meta["integer"],
    )  # fmt: skip


@dataclass(frozen=True)
class TransitParams:
    """How the frequency-based network is built and what a traveller minimises.

    Sources
    -------
    - ``walk_speed_m_s`` 1.33 m/s (4.8 km/h): the default walking speed of OpenTripPlanner
      and of Conveyal R5, near the mean of adult pedestrians measured by Knoblauch,
      Pietrucha & Nitzburg (1996, Transportation Research Record 1538: 1.25-1.51 m/s).
    - ``wait_factor`` 0.5: passengers arriving at random at a line of regular headway ``h``
      wait ``h / 2`` on average (Spiess & Florian 1989 use the same factor).
    - ``wait_weight`` and ``walk_weight`` 2.0: waiting and walking minutes weigh about twice
      an in-vehicle minute (UK DfT TAG unit M3.2 s. 4.3; Wardman 2004, Transport Policy 11:
      "Public transport values of time", walk 1.6-2.0 and wait 1.5-2.5 x in-vehicle time).
    - ``boarding_penalty_s`` 300 s: each boarding weighs like 5 in-vehicle minutes, the low end
      of the interchange penalties reviewed by Wardman (2004) (5-10 min); the first boarding of
      every trip pays it too, so it acts as a transfer penalty plus a constant of the mode.
    - ``max_access_m`` 1000 m and ``max_transfer_m`` 300 m: walking distances beyond which a
      stop is not considered from a zone or from another stop (catchments of 400-800 m are the
      planning rule for bus stops, longer for rail: Walker 2011, *Human Transit*, ch. 5).
    - ``detour_factor`` 1.3: street distance over straight-line distance where no street
      network is given (1.2-1.4 in European cities; Boscoe et al. 2012).
    """

    walk_speed_m_s: float = param(
        1.33, label="Walking speed", unit="m/s", minimum=0.3, maximum=3.0,
        description="Speed on foot to, from and between stops and for walking trips",
    )  # fmt: skip
    wait_factor: float = param(
        0.5, label="Waiting factor", unit="1", minimum=0.05, maximum=1.0,
        description="Expected wait as a share of the headway (0.5: random arrivals)",
    )  # fmt: skip
    wait_weight: float = param(
        2.0, label="Weight of waiting time", unit="1", minimum=0.5, maximum=5.0,
        description="How much a waiting minute weighs against a minute on board",
    )  # fmt: skip
    walk_weight: float = param(
        2.0, label="Weight of walking time", unit="1", minimum=0.5, maximum=5.0,
        description="How much a walking minute (to, from, between stops) weighs",
    )  # fmt: skip
    boarding_penalty_s: float = param(
        300.0, label="Boarding penalty", unit="s", minimum=0.0, maximum=1800.0,
        description="In-vehicle-time equivalent of each boarding (a transfer costs this)",
    )  # fmt: skip
    max_access_m: float = param(
        1000.0, label="Longest walk to a stop", unit="m", minimum=50.0, maximum=5000.0,
        description="Stops farther than this from a zone are not walked to",
    )  # fmt: skip
    max_transfer_m: float = param(
        300.0, label="Longest transfer walk", unit="m", minimum=0.0, maximum=2000.0,
        description="Stops closer than this are linked by a walking transfer",
    )  # fmt: skip
    detour_factor: float = param(
        1.3, label="Walking detour factor", unit="1", minimum=1.0, maximum=3.0,
        description="Street distance / straight-line distance where no street network is used",
    )  # fmt: skip

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass(frozen=True)
class ModeChoiceParams:
    """Multinomial logit between car, transit and walking on generalized times.

    Utilities (minutes of in-vehicle time, times the time coefficient):

        V_car     = beta_time_per_min x (car time + terminal time + car cost / value of time)
        V_transit = asc_transit + beta_time_per_min x (transit generalized time + fare / VoT)
        V_walk    = asc_walk + beta_time_per_min x walk_weight_mode x walking time

    Sources and status (asserted, to be calibrated against a local travel survey)
    -----------------------------------------------------------------------------
    - ``beta_time_per_min`` -0.06 /min: inside the range of in-vehicle time coefficients of
      commuting mode-choice models (-0.02 .. -0.10 /min; Ortúzar & Willumsen, *Modelling
      Transport*, 4th ed., ch. 7 examples).
    - ``value_of_time_eur_h`` 10 EUR/h: order of the commuting values of time in Finnish
      appraisal guidance (Väylävirasto 2020 unit values, about 8-12 EUR/h for trips to work).
    - ``car_cost_eur_km`` 0.12 EUR/km: fuel and wear of a petrol car (about 7 l/100 km at
      1.8 EUR/l); parking charges are not modelled.
    - ``car_terminal_time_min`` 5 min: walking to and from the car and parking, a common
      terminal-time value in urban models (2-8 min by area type).
    - ``fare_eur`` 1.5 EUR: the average fare per trip of a season-ticket holder in a Nordic
      city (a single ticket costs about 3 EUR, a 30-day ticket about 60 EUR).
    - ``asc_transit`` -0.5 and ``asc_walk`` 0.0: mode constants (relative to car) that give
      car, transit and walking shares of the order of a Nordic city (car 40-55 %, transit
      20-30 %, walking 20-30 %; Finnish National Travel Survey 2016) on the demo cities.
    - ``walk_weight_mode`` 1.5: a minute of a walking trip weighs more than one in a car.
    - ``max_walk_m`` 5000 m: walking is not an option beyond it.
    - Averaging: the car demand is the running average of the logit's car trips (method of
      successive averages, Sheffi 1985 ch. 12). With the plain 1/k step ("msa") the first
      rounds (free-flow times) weigh on the average for long and the residual falls like
      1/k; the self-regulated step ("sra", Liu, He & He 2009, Transportation Research
      Record 2091) adds 0.25 to the step's denominator while the residual falls and 1.5 when
      it grows, which reaches the same fixed point in far fewer rounds. The loop stops when
      the largest difference between a zone pair's logit car share at the current car
      times and the averaged share assigned is below ``share_tolerance`` and the car
      assignment reached its relative gap.
    """

    beta_time_per_min: float = param(
        -0.06, label="Time coefficient", unit="1/min", minimum=-1.0, maximum=-0.001,
        description="Utility of one minute of generalized time (negative)",
    )  # fmt: skip
    value_of_time_eur_h: float = param(
        10.0, label="Value of time", unit="EUR/h", minimum=1.0, maximum=100.0,
        description="Money per hour of travel time (turns costs into minutes)",
    )  # fmt: skip
    car_cost_eur_km: float = param(
        0.12, label="Car running cost", unit="EUR/km", minimum=0.0, maximum=2.0,
        description="Fuel and wear per kilometre driven",
    )  # fmt: skip
    car_terminal_time_min: float = param(
        5.0, label="Car terminal time", unit="min", minimum=0.0, maximum=30.0,
        description="Walking to and from the car and parking, per trip",
    )  # fmt: skip
    fare_eur: float = param(
        1.5, label="Transit fare", unit="EUR", minimum=0.0, maximum=20.0,
        description="Average fare paid per trip",
    )  # fmt: skip
    asc_transit: float = param(
        -0.5, label="Transit constant", unit="1", minimum=-10.0, maximum=10.0,
        description="Mode constant of transit against car",
    )  # fmt: skip
    asc_walk: float = param(
        0.0, label="Walking constant", unit="1", minimum=-10.0, maximum=10.0,
        description="Mode constant of walking against car",
    )  # fmt: skip
    walk_weight_mode: float = param(
        1.5, label="Weight of walking-trip time", unit="1", minimum=0.5, maximum=5.0,
        description="How much a minute of a trip on foot weighs against a minute by car",
    )  # fmt: skip
    max_walk_m: float = param(
        5000.0, label="Longest walking trip", unit="m", minimum=100.0, maximum=20000.0,
        description="Walking is not an option for longer trips",
    )  # fmt: skip
    car_occupancy: float = param(
        1.3, label="Car occupancy", unit="persons/veh", minimum=1.0, maximum=5.0,
        description="Persons per car (Finnish National Travel Survey 2016)",
    )  # fmt: skip
    max_iter: int = param(
        30, label="Mode-choice iterations", unit="1", minimum=1, maximum=500, integer=True,
        description="Largest number of mode choice / car assignment rounds",
    )  # fmt: skip
    averaging: str = param(
        "sra", label="Averaging of the car demand",
        choices={"sra": "Self-regulated averaging", "msa": "Method of successive averages (1/k)"},
        description="Step rule of the running average of the car trips between rounds",
    )  # fmt: skip
    share_tolerance: float = param(
        0.002, label="Share tolerance", unit="1", minimum=1e-8, maximum=0.5,
        description="Stop when no car share changes by more than this between rounds",
    )  # fmt: skip

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass(frozen=True)
class TransitRunParams:
    """Settings of one run of the transit model on a city (period, assignment, choice).

    The transit and mode-choice fields not listed here keep the defaults (and sources) of
    :class:`TransitParams` and :class:`ModeChoiceParams`.
    """

    start_h: float = param(
        7.0, label="Period start", unit="h", minimum=0.0, maximum=24.0,
        description="Local hour the modelled period starts (headways averaged over it)",
    )  # fmt: skip
    end_h: float = param(
        9.0, label="Period end", unit="h", minimum=0.0, maximum=30.0,
        description="Local hour it ends (after 24 for service past midnight)",
    )  # fmt: skip
    day: str = param(
        "tuesday", label="Day of the week",
        choices={d: d.capitalize() for d in ("monday", "tuesday", "wednesday", "thursday",
                                              "friday", "saturday", "sunday")},
        description="Services of a typical week on that day (calendar.txt)",
    )  # fmt: skip
    walk_speed_m_s: float = dataclass_field_copy(TransitParams, "walk_speed_m_s")
    wait_weight: float = dataclass_field_copy(TransitParams, "wait_weight")
    boarding_penalty_s: float = dataclass_field_copy(TransitParams, "boarding_penalty_s")
    max_access_m: float = dataclass_field_copy(TransitParams, "max_access_m")
    value_of_time_eur_h: float = dataclass_field_copy(ModeChoiceParams, "value_of_time_eur_h")
    fare_eur: float = dataclass_field_copy(ModeChoiceParams, "fare_eur")
    asc_transit: float = dataclass_field_copy(ModeChoiceParams, "asc_transit")
    max_iter: int = dataclass_field_copy(ModeChoiceParams, "max_iter")
    share_tolerance: float = dataclass_field_copy(ModeChoiceParams, "share_tolerance")
    averaging: str = dataclass_field_copy(ModeChoiceParams, "averaging")
    gap: float = param(
        1e-4, label="Relative gap of the car assignment", unit="1", minimum=1e-10, maximum=1.0,
        description="Target relative gap of each round's car user equilibrium",
    )  # fmt: skip
    external_traffic: bool = param(
        True, label="Traffic across the city's edge", kind="boolean",
        description="Car trips entering, leaving and crossing the area (they stay cars)",
    )  # fmt: skip
    access_threshold_min: float = param(
        30.0, label="Accessibility threshold", unit="min", minimum=5.0, maximum=120.0,
        description="People and jobs reachable by transit within this time per building",
    )  # fmt: skip

    def __post_init__(self) -> None:
        check_fields(self)
        if self.end_h <= self.start_h:
            from simulators.common.params import ParamError

            raise ParamError("end_h", "must be after the period start")

    def transit(self) -> TransitParams:
        return TransitParams(
            walk_speed_m_s=self.walk_speed_m_s, wait_weight=self.wait_weight,
            boarding_penalty_s=self.boarding_penalty_s, max_access_m=self.max_access_m,
        )  # fmt: skip

    def mode_choice(self) -> ModeChoiceParams:
        return ModeChoiceParams(
            value_of_time_eur_h=self.value_of_time_eur_h, fare_eur=self.fare_eur,
            asc_transit=self.asc_transit, max_iter=self.max_iter,
            share_tolerance=self.share_tolerance, averaging=self.averaging,
        )  # fmt: skip
