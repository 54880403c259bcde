"""Generators of sweep variants: one class per kind, registered by name.

A generator turns its JSON spec (``{"kind": ..., its own fields}``, checked against its JSON
Schema, published at ``GET /api/sweeps/generators/``) into variants: each a label in words,
edits in the edit-type registry's own JSON (validated by :mod:`citytwin.scenarios.edits`
like any scenario's, by :mod:`.services`), parameter overrides, and what it changes on the
map (a feature kind, ids and a geometry in EPSG:4326). An edit is named by its class in the
edit-type registry (``CloseRoad.type``), never by a literal. Nothing outside this registry
branches on a generator's name.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import jsonschema
import networkx as nx
import numpy as np
from django.contrib.gis.db.models import Union
from django.contrib.gis.geos import GEOSGeometry

from citytwin.scenarios.edit_types.evacuation import AddShelter
from citytwin.scenarios.edit_types.power import LineOutage
from citytwin.scenarios.edit_types.roads import ChangeRoad, CloseRoad
from citytwin.scenarios.edit_types.water import WaterPipeBreak
from layers.geo import BBoxError, parse_bbox
from layers.models import Building, RoadEdge

#: the most variants one sweep may hold
MAX_VARIANTS = 5000


class SweepRejected(Exception):
    """Bad sweep input: 400 (or ``status``) ``{"error", "field"}``."""

    def __init__(self, field: str, message: str, status: int = 400):
        super().__init__(f"{field}: {message}")
        self.field, self.message, self.status = field, message, status

    def api_error(self) -> tuple[dict, int]:
        return {"error": f"{self.field}: {self.message}", "field": self.field}, self.status


@dataclass
class VariantSpec:
    """One variant as a generator makes it (edits not validated yet)."""

    label: str
    edits: list[dict] = field(default_factory=list)
    params: dict = field(default_factory=dict)
    feature_kind: str = ""
    feature_ids: list[int] = field(default_factory=list)
    geom: GEOSGeometry | None = None


@dataclass
class Context:
    """What a generator may read: the city, the base scenario's edits, the simulator spec
    and its clean parameters, the base run (None before it ran) and the sweep's owner."""

    city: Any
    base_edits: list[dict]
    simulator: Any
    params: dict
    base_run: Any = None
    user: Any = None


class Generator:
    """A kind of variants. Subclasses set ``name``, ``label``, ``fields``, ``required`` and
    implement :meth:`generate`.

    Attributes
    ----------
    needs_base_run : the variants depend on the base run (e.g. its busiest links): they are
        made on the worker once the base run is done, not when the sweep is created.
    best_first : the ranking puts the best variant first (shelter sites, parameters); False
        puts the most harmful first (closures, outages).
    """

    name: ClassVar[str]
    label: ClassVar[str]
    description: ClassVar[str] = ""
    fields: ClassVar[dict[str, dict]] = {}
    required: ClassVar[tuple[str, ...]] = ()
    needs_base_run: ClassVar[bool] = False
    best_first: ClassVar[bool] = False

    @classmethod
    def schema(cls) -> dict:
        return {
            "type": "object",
            "title": cls.label,
            "description": cls.description,
            "properties": {"kind": {"const": cls.name}, **cls.fields},
            "required": ["kind", *cls.required],
            "additionalProperties": False,
        }

    @classmethod
    def clean(cls, spec: dict, where: str = "generator") -> dict:
        """The spec with defaults filled in; raises :class:`SweepRejected` naming the field."""
        errors = sorted(
            jsonschema.Draft202012Validator(cls.schema()).iter_errors(spec),
            key=lambda e: list(e.path),
        )
        if errors:
            error = errors[0]
            path = ".".join(str(p) for p in error.path)
            if error.validator == "required":
                path = error.message.split("'")[1]
            elif error.validator == "additionalProperties":
                extra = sorted(set(spec) - set(cls.schema()["properties"]))
                return _reject(f"{where}.{extra[0]}", f"is not a field of {cls.name}")
            _reject(f"{where}.{path}" if path else where, error.message)
        out = {k: v.get("default") for k, v in cls.fields.items() if "default" in v}
        return {**out, **spec}

    @classmethod
    def expected_count(cls, spec: dict) -> int | None:
        """How many variants a generator that needs the base run will make (None: unknown)."""
        return None

    @classmethod
    def generate(cls, ctx: Context, spec: dict, where: str = "generator") -> list[VariantSpec]:
        raise NotImplementedError


def _reject(field_: str, message: str):
    raise SweepRejected(field_, message)


_REGISTRY: dict[str, type[Generator]] = {}


def register(cls: type[Generator]) -> type[Generator]:
    if cls.name in _REGISTRY:
        raise ValueError(f"generator {cls.name!r} is registered twice")
    _REGISTRY[cls.name] = cls
    return cls


def get(spec: Any, where: str = "generator") -> type[Generator]:
    """The generator class of a spec; raises SweepRejected naming ``generator.kind``."""
    if not isinstance(spec, dict):
        _reject(where, 'must be an object {"kind": <generator name>, ...}')
    kind = spec.get("kind")
    if not isinstance(kind, str) or kind not in _REGISTRY:  # a list or object is not hashable
        _reject(f"{where}.kind", f"must be one of {', '.join(_REGISTRY)}, got {kind!r}")
    return _REGISTRY[kind]


def all_generators() -> list[type[Generator]]:
    return list(_REGISTRY.values())


def describe_all() -> list[dict]:
    return [
        {
            "kind": g.name,
            "label": g.label,
            "description": g.description,
            "schema": g.schema(),
            "needs_base_run": g.needs_base_run,
            "ranks": "best first" if g.best_first else "most harmful first",
        }
        for g in _REGISTRY.values()
    ]


# -- road links ------------------------------------------------------------------------------

FACTOR = {
    "type": "number",
    "title": "Capacity left",
    "description": "share of the link's capacity kept: 0 = closed, 0.5 = half capacity",
    "minimum": 0,
    "maximum": 0.99,
    "default": 0,
    "x-unit": "1",
}


def _edge_words(edge: RoadEdge) -> str:
    name = edge.name or edge.highway.replace("_", " ")
    return f"{name} (edge {edge.pk})"


def _link_variant(edges: list[RoadEdge], factor: float, extra: str = "") -> VariantSpec:
    """Close ``edges`` (factor 0) or cut their capacity to ``factor`` of it."""
    ids = [e.pk for e in edges]
    words = " and ".join(_edge_words(e) for e in edges[:2])
    if factor == 0:
        edits = [{"type": CloseRoad.type, "edge_ids": ids}]
        label = f"Close {words}{extra}"
    else:
        edits = [
            {
                "type": ChangeRoad.type,
                "edge_ids": [e.pk],
                "capacity_veh_h": e.capacity_veh_h * factor,
            }
            for e in edges
        ]
        label = f"{factor:.0%} of the capacity on {words}{extra}"
    geom = (
        edges[0].geom
        if len(edges) == 1
        else RoadEdge.objects.filter(pk__in=ids).aggregate(g=Union("geom"))["g"]
    )
    return VariantSpec(label, edits, feature_kind="road_edge", feature_ids=ids, geom=geom)


@register
class CloseBusiestLinks(Generator):
    name = "close_busiest_links"
    label = "Close (or cut) each of the busiest links"
    description = "The n road links with the highest volume in the base run, one variant each"
    fields = {
        "n": {"type": "integer", "title": "Links", "minimum": 1, "maximum": MAX_VARIANTS},
        "factor": FACTOR,
    }
    required = ("n",)
    needs_base_run = True

    @classmethod
    def expected_count(cls, spec):
        return spec["n"]

    @classmethod
    def generate(cls, ctx, spec, where="generator"):
        from citytwin.scenarios.models import EdgeResult

        rows = (
            EdgeResult.objects.filter(run=ctx.base_run, edge__isnull=False, closed=False)
            .exclude(volume_veh_h__isnull=True)
            .select_related("edge")
            .order_by("-volume_veh_h", "edge_id")[: spec["n"]]
        )
        rows = list(rows)
        if not rows:
            _reject(f"{where}.kind", "the base run has no link volumes (a traffic run has)")
        return [
            _link_variant([r.edge], spec["factor"], f", {r.volume_veh_h:,.0f} veh/h in the base")
            for r in rows
        ]


@register
class CloseLinksInArea(Generator):
    name = "close_links_in_area"
    label = "Close (or cut) each link in an area"
    description = "Every road link inside a box (lon/lat), one variant each"
    fields = {
        "bbox": {
            "type": "array",
            "title": "Area",
            "description": "minlon, minlat, maxlon, maxlat (EPSG:4326)",
            "items": {"type": "number"},
            "minItems": 4,
            "maxItems": 4,
        },
        "factor": FACTOR,
    }
    required = ("bbox",)

    @classmethod
    def generate(cls, ctx, spec, where="generator"):
        from django.contrib.gis.geos import Polygon

        try:
            box = parse_bbox(",".join(str(v) for v in spec["bbox"]))
        except BBoxError as exc:  # the one bbox parser's words
            _reject(f"{where}.bbox", str(exc))
        polygon = Polygon.from_bbox(box)
        polygon.srid = 4326
        edges = list(
            RoadEdge.objects.filter(city=ctx.city, geom__within=polygon).order_by("id")[
                : MAX_VARIANTS + 1
            ]
        )
        if not edges:
            _reject(f"{where}.bbox", f"no road link of {ctx.city.name} lies inside the box")
        if len(edges) > MAX_VARIANTS:
            _reject(f"{where}.bbox", f"more than {MAX_VARIANTS} links inside: draw a smaller box")
        return [_link_variant([e], spec["factor"]) for e in edges]


@register
class CloseBridges(Generator):
    name = "close_bridges"
    label = "Close each bridge of the network"
    description = (
        "Each road whose closure cuts the street network in two (a bridge of the street "
        "graph, both directions), when the smaller side holds at least min_cut_off_nodes "
        "junctions (dead-end streets are left out)"
    )
    fields = {
        "min_cut_off_nodes": {
            "type": "integer",
            "title": "Smallest part cut off",
            "minimum": 1,
            "maximum": 100_000,
            "default": 3,
            "x-unit": "junctions",
        },
        "factor": FACTOR,
    }

    @classmethod
    def generate(cls, ctx, spec, where="generator"):
        rows = RoadEdge.objects.filter(city=ctx.city).values_list("id", "u_id", "v_id")
        G = nx.Graph()
        by_pair: dict[tuple[int, int], list[int]] = {}
        for pk, u, v in rows:
            if u != v:
                G.add_edge(u, v)
                by_pair.setdefault((min(u, v), max(u, v)), []).append(pk)
        found = []
        for u, v in nx.bridges(G):
            H = G.copy()
            H.remove_edge(u, v)
            side = min(
                len(nx.node_connected_component(H, u)), len(nx.node_connected_component(H, v))
            )
            if side >= spec["min_cut_off_nodes"]:
                found.append((side, sorted(by_pair[(min(u, v), max(u, v))])))
        if not found:
            _reject(f"{where}.kind", f"no road of {ctx.city.name} cuts its network in two")
        found.sort(key=lambda x: (-x[0], x[1]))
        edges = RoadEdge.objects.in_bulk([i for _, ids in found for i in ids])
        return [
            _link_variant([edges[i] for i in ids], spec["factor"], f", cuts off {side} junctions")
            for side, ids in found[:MAX_VARIANTS]
        ]


# -- shelters, utilities ---------------------------------------------------------------------


@register
class ShelterSites(Generator):
    name = "shelter_sites"
    label = "Shelters at candidate sites"
    description = "A shelter at every set of k of the candidate buildings, one variant each"
    fields = {
        "candidates": {
            "type": "array",
            "title": "Candidate buildings",
            "items": {"type": "integer"},
            "minItems": 1,
            "maxItems": 500,
        },
        "k": {
            "type": "integer",
            "title": "Shelters per variant",
            "minimum": 1,
            "maximum": 10,
            "default": 1,
        },
        "capacity": {
            "type": "number",
            "title": "Capacity of each shelter",
            "minimum": 1,
            "maximum": 100_000,
            "default": 500,
            "x-unit": "persons",
        },
    }
    required = ("candidates",)
    best_first = True

    @classmethod
    def generate(cls, ctx, spec, where="generator"):
        ids = list(dict.fromkeys(spec["candidates"]))
        found = Building.objects.filter(city=ctx.city, pk__in=ids).in_bulk()
        missing = [i for i in ids if i not in found]
        if missing:
            _reject(f"{where}.candidates", f"no building {missing[0]} in {ctx.city.name}")
        k = spec["k"]
        if k > len(ids):
            _reject(f"{where}.k", f"is more than the {len(ids)} candidates")
        if math.comb(len(ids), k) > MAX_VARIANTS:
            _reject(f"{where}.k", f"{math.comb(len(ids), k):,} sets is over {MAX_VARIANTS}")
        out = []
        for combo in itertools.combinations(ids, k):
            edits, points = [], []
            for i in combo:
                centre = found[i].footprint.point_on_surface
                points.append(centre)
                edits.append(
                    {
                        "type": AddShelter.type,
                        "point": {"type": "Point", "coordinates": [centre.x, centre.y]},
                        "capacity": spec["capacity"],
                        "name": f"shelter at building {i}",
                    }
                )
            geom = points[0] if len(points) == 1 else points[0].union(points[1])
            for p in points[2:]:
                geom = geom.union(p)
            words = ", ".join(found[i].name or f"building {i}" for i in combo)
            out.append(
                VariantSpec(
                    f"Shelter{'s' if k > 1 else ''} at {words} ({spec['capacity']:,.0f} persons each)",
                    edits,
                    feature_kind="building",
                    feature_ids=list(combo),
                    geom=geom,
                )
            )
        return out


@register
class UtilityOutages(Generator):
    name = "utility_outages"
    label = "Each pipe or line out once"
    description = (
        "Water: each pipe of the city's newest network broken (and isolated); power: each line "
        "of the newest grid out of service. One variant each"
    )
    fields = {
        "network": {"type": "string", "enum": ["water", "power"], "title": "Network"},
        "max": {
            "type": "integer",
            "title": "At most",
            "minimum": 1,
            "maximum": MAX_VARIANTS,
            "default": 500,
        },
    }
    required = ("network",)

    @classmethod
    def generate(cls, ctx, spec, where="generator"):
        return _OUTAGES[spec["network"]](ctx, spec, where)


def _water_outages(ctx, spec, where) -> list[VariantSpec]:
    from django.db.models import Q

    from utilities.water.models import WaterLink, WaterNetwork

    mine = Q(owner=ctx.user) if ctx.user is not None else Q(pk__in=[])
    network = (  # private networks stay private: public ones and the starter's own
        WaterNetwork.objects.filter(Q(visibility="public") | mine, city=ctx.city)
        .order_by("-created_at")
        .first()
    )
    if network is None:
        _reject(f"{where}.network", f"{ctx.city.name} has no water network")
    pipes = WaterLink.objects.filter(network=network, kind="pipe").order_by("id")[: spec["max"]]
    return [
        VariantSpec(
            f"Break of pipe {p.name}",
            [{"type": WaterPipeBreak.type, "pipe": [p.pk]}],
            feature_kind="water_link",
            feature_ids=[p.pk],
            geom=p.geom,
        )
        for p in pipes
    ]


def _power_outages(ctx, spec, where) -> list[VariantSpec]:
    from citytwin.scenarios.capabilities import ParamsRejected
    from utilities.power.models import Line
    from utilities.power.runs import choose_grid

    try:  # the grid the runs use: the one named in the parameters, else the newest visible
        grid = choose_grid(ctx.city, int(ctx.params.get("grid_id", 0) or 0), ctx.user)
    except ParamsRejected as exc:
        _reject(f"{where}.network", exc.message)
    lines = Line.objects.filter(grid=grid).order_by("id")[: spec["max"]]
    return [
        VariantSpec(
            f"Outage of line {line.name or line.pk}",
            [{"type": LineOutage.type, "lines": [line.pk]}],
            feature_kind="power_line",
            feature_ids=[line.pk],
            geom=line.geom,
        )
        for line in lines
    ]


_OUTAGES = {"water": _water_outages, "power": _power_outages}


# -- parameters and combinations -------------------------------------------------------------


@register
class ParameterGrid(Generator):
    name = "parameter_grid"
    label = "Grid over run parameters"
    description = "Every combination of the given values of the simulator's parameters"
    fields = {
        "axes": {
            "type": "object",
            "title": "Values per parameter",
            "additionalProperties": {"type": "array", "minItems": 1, "maxItems": 100},
            "minProperties": 1,
        }
    }
    required = ("axes",)
    best_first = True

    @classmethod
    def generate(cls, ctx, spec, where="generator"):
        from citytwin.scenarios.capabilities import ParamsRejected

        axes = spec["axes"]
        unknown = [a for a in axes if a not in ctx.simulator.params]
        if unknown:
            _reject(f"{where}.axes.{unknown[0]}", f"is not a parameter of {ctx.simulator.name}")
        names = list(axes)
        if math.prod(len(v) for v in axes.values()) > MAX_VARIANTS:
            _reject(f"{where}.axes", f"more than {MAX_VARIANTS} combinations")
        out = []
        for values in itertools.product(*(axes[n] for n in names)):
            overrides = dict(zip(names, values, strict=True))
            try:
                ctx.simulator.clean_params({**ctx.params, **overrides}, ctx.base_edits)
            except ParamsRejected as exc:
                _reject(f"{where}.axes.{exc.field}", f"{overrides[exc.field]!r}: {exc.message}")
            words = ", ".join(f"{n} = {v}" for n, v in overrides.items())
            out.append(VariantSpec(words[:1].upper() + words[1:], params=overrides))
        return out


@register
class RandomCombinations(Generator):
    name = "random_combinations"
    label = "Random combinations of another generator's variants"
    description = (
        "count variants, each size of the other generator's variants together (e.g. three "
        "links closed at once), drawn with a seed so the same spec gives the same variants"
    )
    fields = {
        "of": {"type": "object", "title": "Generator whose variants are combined"},
        "size": {"type": "integer", "title": "Variants combined", "minimum": 2, "maximum": 50},
        "count": {
            "type": "integer",
            "title": "Combinations",
            "minimum": 1,
            "maximum": MAX_VARIANTS,
        },
        "seed": {"type": "integer", "title": "Seed", "minimum": 0, "default": 0},
    }
    required = ("of", "size", "count")

    @classmethod
    def clean(cls, spec, where="generator"):
        out = super().clean(spec, where)
        inner = get(out["of"], f"{where}.of")
        if inner is cls:
            _reject(f"{where}.of.kind", "cannot combine combinations")
        out["of"] = inner.clean(out["of"], f"{where}.of")
        return out

    @classmethod
    def needs(cls, spec) -> bool:
        return get(spec["of"]).needs_base_run

    @classmethod
    def expected_count(cls, spec):
        return spec["count"]

    @classmethod
    def generate(cls, ctx, spec, where="generator"):
        pool = get(spec["of"]).generate(ctx, spec["of"], f"{where}.of")
        size, count = spec["size"], spec["count"]
        if size > len(pool):
            _reject(f"{where}.size", f"is more than the {len(pool)} variants to combine")
        possible = math.comb(len(pool), size)
        if count > possible:
            _reject(f"{where}.count", f"only {possible} different combinations exist")
        rng = np.random.default_rng(spec["seed"])
        chosen: list[tuple[int, ...]] = []
        seen: set[tuple[int, ...]] = set()
        while len(chosen) < count:
            combo = tuple(sorted(int(i) for i in rng.choice(len(pool), size, replace=False)))
            if combo not in seen:
                seen.add(combo)
                chosen.append(combo)
        out = []
        for combo in chosen:
            parts = [pool[i] for i in combo]
            geoms = [p.geom for p in parts if p.geom is not None]
            geom = geoms[0] if geoms else None
            for g in geoms[1:]:
                geom = geom.union(g)
            kinds = {p.feature_kind for p in parts}
            out.append(
                VariantSpec(
                    " + ".join(p.label for p in parts),
                    [e for p in parts for e in p.edits],
                    {k: v for p in parts for k, v in p.params.items()},
                    feature_kind=kinds.pop() if len(kinds) == 1 else "",
                    feature_ids=[i for p in parts for i in p.feature_ids],
                    geom=geom,
                )
            )
        return out


def needs_base_run(spec: dict) -> bool:
    """Whether the variants of a (clean) spec can only be made after the base run."""
    cls = get(spec)
    needs = getattr(cls, "needs", None)
    return needs(spec) if needs is not None else cls.needs_base_run
