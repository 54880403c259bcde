"""The simulator registry: one :class:`Simulator` spec per capability, one module each.

A capability module (``traffic.py``, ``solar.py``, ``evacuation.py`` here; transit, utilities or
sweeps next) builds its engine inputs from the twin plus the edits (:mod:`..inputs`), calls the
pure engine with a progress callback, stores its results, and registers itself with
:func:`register`. Everything else (the API's choices and parameter checks, the run form of the
web map via ``GET /api/simulators/``, the engine version digest, the CLI) reads the registry:
nothing outside it branches on a simulator's name.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simulators.common.params import ParamError, check_value, field_spec, json_schema

Progress = Callable[[float, str], None]

#: result kinds a simulator may produce (the result endpoints, tiles and OGC collections)
RESULT_KINDS = ("edges", "buildings", "rasters", "series")


class ParamsRejected(Exception):
    """A run parameter is invalid (400 naming ``params.<field>``, or ``simulator``)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"params.{field}: {message}")
        self.field, self.message = field, message

    def api_error(self) -> tuple[dict, int]:
        where = f"params.{self.field}" if self.field else "simulator"
        return {"error": f"{where}: {self.message}", "field": where}, 400


@dataclass(frozen=True)
class Kpi:
    """A key figure of a run: ``key`` in ``Run.kpis``, words and unit for people."""

    key: str
    label: str
    unit: str = "1"


@dataclass(frozen=True)
class SweepMetric:
    """What a sweep ranks the variants of a simulator by (:mod:`citytwin.sweeps`).

    Attributes
    ----------
    key, label, unit : the metric's name, words and unit (as a KPI).
    value : ``value(kpis) -> float``: the metric of one run from its KPIs.
    worse : "higher" when a higher value is worse for people (vehicle-hours, T90, people
        without service), "lower" when a lower one is.
    """

    key: str
    label: str
    unit: str
    value: Callable[[dict], float]
    worse: str = "higher"

    def describe(self) -> dict:
        return {"key": self.key, "label": self.label, "unit": self.unit, "worse": self.worse}


def kpi_metric(key: str, label: str, unit: str, worse: str = "higher") -> SweepMetric:
    """A sweep metric that is one KPI as it is."""
    return SweepMetric(key, label, unit, lambda kpis: float(kpis[key]), worse)


@dataclass(frozen=True)
class Simulator:
    """Everything the twin knows about one simulator.

    Attributes
    ----------
    name : ``Run.simulator`` value.
    label, description : words for people.
    params_class : the engine's parameter dataclass (fields declared with
        :func:`simulators.common.params.param`): it owns the ranges, units and defaults.
    params : published run parameters, in display order: ``name -> (field of params_class,
        scale, unit)``; a run value times ``scale`` is the engine's value (minutes -> s: 60).
    run : ``run(run, progress) -> kpis``: builds the inputs, calls the engine, stores results.
    kpis : the key figures ``run`` returns, with units.
    results : result kinds among :data:`RESULT_KINDS`.
    engine_packages : packages under ``simulators/`` whose source makes the engine version.
    requires_edits : edit types a scenario must hold for this simulator to run.
    prepare : fills parameters that depend on the moment (e.g. today's year), after defaults.
    report_map : what the printable report draws on its map: ``(result kind, field, words,
        unit)``, e.g. ``("edges", "vc_ratio", "Volume/capacity", "1")``; None for no map.
    preflight : ``preflight(city, params)`` raises ParamsRejected before a run is queued.
    data_version : ``data_version(city)``: what identifies the simulator's own input tables
        (e.g. the city's water networks) in the input checksum, beyond buildings and roads.
    sweep_metric : what a sweep of this simulator ranks its variants by; None: no sweeps.
    run_variant : ``run_variant(run, base_run, progress) -> kpis``: a sweep variant started
        from the base run's state and inputs (e.g. a warm-started assignment), its KPIs only;
        ``base_run`` None: from scratch (benchmarks). None runs ``run``.
    """

    name: str
    label: str
    description: str
    params_class: type
    params: Mapping[str, tuple[str, float, str | None]]
    run: Callable[[Any, Progress], dict]
    kpis: tuple[Kpi, ...]
    results: tuple[str, ...]
    engine_packages: tuple[str, ...]
    requires_edits: tuple[str, ...] = ()
    prepare: Callable[[dict], dict] | None = None
    preflight: Callable[[Any, dict], None] | None = None
    report_map: tuple[str, str, str, str] | None = None
    data_version: Callable[[Any], Any] | None = None
    sweep_metric: SweepMetric | None = None
    run_variant: Callable[[Any, Any, Progress], dict] | None = None

    def parameters_schema(self) -> dict:
        """JSON Schema (draft 2020-12) of the run parameters, from the engine's class."""
        return json_schema(self.params_class, self.params)

    def defaults(self) -> dict:
        return {
            name: prop["default"] for name, prop in self.parameters_schema()["properties"].items()
        }

    def describe(self) -> dict:
        """The simulator as served by ``GET /api/simulators/``."""
        return {
            "name": self.name,
            "label": self.label,
            "description": self.description,
            "parameters": self.parameters_schema(),
            "requires_edits": list(self.requires_edits),
            "kpis": [{"key": k.key, "label": k.label, "unit": k.unit} for k in self.kpis],
            "results": list(self.results),
            "sweep_metric": self.sweep_metric.describe() if self.sweep_metric else None,
        }

    def clean_params(self, params: Any, edits: list[dict]) -> dict:
        """Parameters with defaults filled in, checked; raises :class:`ParamsRejected`."""
        if not isinstance(params, dict):
            raise ParamsRejected("", "params must be a JSON object")
        unknown = set(params) - set(self.params)
        if unknown:
            raise ParamsRejected(sorted(unknown)[0], f"is not a parameter of {self.name}")
        out = {**self.defaults(), **params}
        if self.prepare is not None:
            out = self.prepare(out)
        for name, (engine_field, scale, _) in self.params.items():
            try:
                check_value(name, out[name], field_spec(self.params_class, engine_field), scale)
            except ParamError as exc:
                raise ParamsRejected(exc.field, exc.message) from None
        present = {e["type"] for e in edits}
        for kind in self.requires_edits:
            if kind not in present:
                raise ParamsRejected("", f"{self.label} runs need a {kind} edit in the scenario")
        return out

    def engine_params(self, params: dict, **extra) -> Any:
        """The engine's parameter object from clean run parameters (plus engine-only fields)."""
        values = {}
        for name, (engine_field, scale, _) in self.params.items():
            value = params[name]
            is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
            values[engine_field] = value * scale if is_number and scale != 1.0 else value
        try:
            return self.params_class(**{**values, **extra})
        except ParamError as exc:  # an edit's override out of the engine's range
            raise ParamsRejected(exc.field, exc.message) from None

    @functools.cached_property
    def engine_version(self) -> str:
        """The package version plus a digest of the engine's source files.

        A change to the engine's code changes the version, so an earlier result is not
        reused. Computed once per process (every process serving the code restarts when it
        changes).
        """
        repo = Path(__file__).resolve().parents[3]
        scenarios = repo / "citytwin" / "scenarios"
        sources = [
            p for pkg in self.engine_packages for p in (repo / "simulators" / pkg).rglob("*.py")
        ]
        # the twin's side shapes a result too: how edits and the city become engine inputs,
        # and this simulator's own runner
        sources += [scenarios / "inputs.py", scenarios / "edits.py"]
        sources += (scenarios / "edit_types").rglob("*.py")
        sources += [scenarios / "capabilities" / f"{self.name}.py"]
        digest = hashlib.sha256()
        for path in sorted(sources):
            digest.update(path.read_bytes())
        return f"0.1.0+{digest.hexdigest()[:12]}"


def same_names(*names: str) -> dict[str, tuple[str, float, None]]:
    """``Simulator.params`` for run parameters named and scaled as the engine's fields."""
    return {name: (name, 1.0, None) for name in names}


_REGISTRY: dict[str, Simulator] = {}


def register(spec: Simulator) -> Simulator:
    """Add a simulator to the registry (once per name); returns it."""
    if spec.name in _REGISTRY:
        raise ValueError(f"simulator {spec.name!r} is registered twice")
    unknown = set(spec.results) - set(RESULT_KINDS)
    if unknown:
        raise ValueError(f"{spec.name}: unknown result kinds {sorted(unknown)}")
    _REGISTRY[spec.name] = spec
    return spec


def names() -> tuple[str, ...]:
    """Registered simulator names, in registration order."""
    return tuple(_REGISTRY)


def all_simulators() -> list[Simulator]:
    return list(_REGISTRY.values())


def get(name: str) -> Simulator:
    """The spec of ``name``; raises ParamsRejected (400 on ``simulator``) for an unknown one."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ParamsRejected("", f"simulator must be one of {', '.join(_REGISTRY)}") from None


def input_checksum(run_like: dict) -> str:
    """SHA-256 of everything that determines a result (see :func:`services.start_run`)."""
    return hashlib.sha256(json.dumps(run_like, sort_keys=True, default=str).encode()).hexdigest()


#: the capability modules, in the order of the API and the web map: adding a simulator is one
#: module here that calls :func:`register`
MODULES = (
    "traffic",
    "solar",
    "evacuation",
    "calibration",
    "transit",
    "water",
    "power_flow",
    "power_criticality",
    "shelter_siting",
    "pv_roofs",
    "road_upgrades",
)
for _module in MODULES:
    importlib.import_module(f"{__name__}.{_module}")
