"""Water network edits: pipe break, valve closure, pump or tank out of service, demand change.

Each edit names elements of one of the city's water networks by their twin ids
(``/api/water/networks/<slug>/`` lists them; the map picks them). Their effect on the model is
:meth:`apply_to_water` (WNTR model, SI units, seconds), used by the ``water`` simulator.
"""

from __future__ import annotations

from ..edits import MAX_IDS_PER_EDIT, Checker, EditType, boolean, number, register

#: a break bigger than the largest water main is a mistake (m)
MAX_LEAK_DIAMETER_M = 2.0
#: a scenario's events happen within a week (the longest water run)
MAX_START_H = 168.0
MAX_WATER_DEMAND_FACTOR = 10.0


def water_ids(title: str, what: str) -> dict:
    """A non-empty list of twin ids of water links or nodes (as :func:`..edits.ids`)."""
    return {
        "type": "array",
        "title": title,
        "items": {"type": "integer"},
        "minItems": 1,
        "maxItems": MAX_IDS_PER_EDIT,
        "x-model": what,
    }


def _models():
    from utilities.water.models import WaterLink, WaterNode

    return WaterLink, WaterNode


def _links(check: Checker, name: str, kinds: tuple[str, ...], words: str) -> list:
    WaterLink, _ = _models()
    wanted = check.edit.get(name) or []
    rows = list(WaterLink.objects.filter(city=check.city, pk__in=wanted))
    found = {r.pk: r for r in rows}
    missing = [i for i in wanted if i not in found]
    if missing:
        check.fail(
            name,
            f"no water link with id {', '.join(map(str, missing[:10]))} in {check.city.name!r}",
        )
    wrong = [r for r in rows if r.kind not in kinds]
    if wrong:
        check.fail(name, f"link {wrong[0].name!r} is a {wrong[0].kind}, not {words}")
    if len({r.network_id for r in rows}) > 1:
        check.fail(name, "the links belong to different water networks")
    return rows


def _names(model, pks) -> str:
    names = list(model.objects.filter(pk__in=pks).values_list("name", flat=True)[:5])
    more = len(pks) - len(names)
    return ", ".join(names) + (f" and {more} more" if more > 0 else "")


def _start(edit: dict) -> str:
    return f" from hour {edit['start_h']:g}" if edit.get("start_h") else ""


START_H = number("Starts after", "h", minimum=0, maximum=MAX_START_H, default=0.0)


class WaterEdit(EditType):
    """Base of the water edits: the run's context (names of elements) comes from ``ctx``."""

    @classmethod
    def apply_to_water(cls, wn, ctx, index: int, edit: dict) -> None:
        """Change the WNTR model in place; ``ctx`` is the run's :class:`WaterContext`."""


@register
class WaterPipeBreak(WaterEdit):
    type = "water_pipe_break"
    label = "Water main break"
    description = (
        "A pipe breaks: water leaks from an opening of the given diameter; with isolation, the "
        "shut-off valves around the pipe close after the given time and every building of the "
        "isolated segment loses water"
    )
    fields = {
        "pipe": water_ids("Broken pipe", "water link"),
        "leak_diameter_m": number(
            "Diameter of the opening", "m", exclusive_minimum=0, maximum=MAX_LEAK_DIAMETER_M
        ),
        "isolate": boolean("Close the isolation valves", True),
        "isolate_after_h": number(
            "Valves closed after", "h", minimum=0, maximum=MAX_START_H, default=1.0
        ),
    }
    required = ("pipe", "leak_diameter_m")

    @classmethod
    def check(cls, check, out):
        rows = _links(check, "pipe", ("pipe",), "a pipe")
        if len(rows) != 1:
            check.fail("pipe", "a break is on one pipe: give one id")
        pipe = rows[0]
        if out["leak_diameter_m"] > (pipe.diameter_m or 0):
            check.fail(
                "leak_diameter_m",
                f"the opening ({out['leak_diameter_m']:g} m) is wider than pipe {pipe.name!r} "
                f"({pipe.diameter_m:.3f} m)",
            )
        if out.get("isolate") and not pipe.network.valves.exists():
            check.fail(
                "isolate",
                f"the network {pipe.network.name!r} has no isolation valves (import it with "
                "valve_layer=strategic), so the break cannot be isolated; set isolate to false",
            )

    @classmethod
    def describe(cls, city, edit):
        WaterLink, _ = _models()
        words = f"Pipe {_names(WaterLink, edit['pipe'])} breaks (opening {edit['leak_diameter_m'] * 100:g} cm)"
        if edit.get("isolate"):
            words += f", isolated after {edit['isolate_after_h']:g} h"
        return words

    @classmethod
    def apply_to_water(cls, wn, ctx, index, edit):
        from simulators.water.outages import break_pipe

        pipe = ctx.link_names[edit["pipe"][0]]
        isolate = edit.get("isolate", True)
        valves = break_pipe(
            wn,
            pipe,
            edit["leak_diameter_m"],
            ctx.outage,
            valve_layer=ctx.valve_layer if isolate else None,
            isolate_after_s=edit["isolate_after_h"] * 3600 if isolate else None,
        )
        ctx.valves_closed.extend(valves)


@register
class WaterValveClosure(WaterEdit):
    type = "water_valve_closure"
    label = "Close water valves or pipes"
    description = "Valves (or the pipes their shut-off valves sit on) closed from a given hour"
    fields = {
        "links": water_ids("Valves or pipes", "water link"),
        "start_h": START_H,
    }
    required = ("links",)

    @classmethod
    def check(cls, check, out):
        _links(check, "links", ("valve", "pipe"), "a valve or a pipe")

    @classmethod
    def describe(cls, city, edit):
        WaterLink, _ = _models()
        return f"Closed: {_names(WaterLink, edit['links'])}{_start(edit)}"

    @classmethod
    def apply_to_water(cls, wn, ctx, index, edit):
        from simulators.water.outages import close_links

        names = [ctx.link_names[i] for i in edit["links"]]
        close_links(wn, names, edit["start_h"] * 3600, ctx.outage)


@register
class WaterPumpOut(WaterEdit):
    type = "water_pump_out"
    label = "Pump out of service"
    fields = {
        "pumps": water_ids("Pumps", "water link"),
        "start_h": START_H,
    }
    required = ("pumps",)

    @classmethod
    def check(cls, check, out):
        _links(check, "pumps", ("pump",), "a pump")

    @classmethod
    def describe(cls, city, edit):
        WaterLink, _ = _models()
        return f"Pump {_names(WaterLink, edit['pumps'])} out of service{_start(edit)}"

    @classmethod
    def apply_to_water(cls, wn, ctx, index, edit):
        from simulators.water.outages import pump_out

        for i in edit["pumps"]:
            pump_out(wn, ctx.link_names[i], edit["start_h"] * 3600, ctx.outage)


@register
class WaterTankOut(WaterEdit):
    type = "water_tank_out"
    label = "Tank out of service"
    fields = {
        "tanks": water_ids("Tanks", "water node"),
        "start_h": START_H,
    }
    required = ("tanks",)

    @classmethod
    def check(cls, check, out):
        _, WaterNode = _models()
        rows = list(WaterNode.objects.filter(city=check.city, pk__in=out["tanks"]))
        missing = set(out["tanks"]) - {r.pk for r in rows}
        if missing:
            check.fail(
                "tanks", f"no water node with id {sorted(missing)[0]} in {check.city.name!r}"
            )
        wrong = [r for r in rows if r.kind != "tank"]
        if wrong:
            check.fail("tanks", f"node {wrong[0].name!r} is a {wrong[0].kind}, not a tank")

    @classmethod
    def describe(cls, city, edit):
        _, WaterNode = _models()
        return f"Tank {_names(WaterNode, edit['tanks'])} out of service{_start(edit)}"

    @classmethod
    def apply_to_water(cls, wn, ctx, index, edit):
        from simulators.water.outages import tank_out

        for i in edit["tanks"]:
            tank_out(wn, ctx.node_names[i], edit["start_h"] * 3600, ctx.outage)


@register
class WaterDemandChange(WaterEdit):
    type = "water_demand_change"
    label = "Change the water demand"
    description = "Scale the base demands of every junction, or of the junctions given"
    fields = {
        "factor": number("Factor", "1", minimum=0, maximum=MAX_WATER_DEMAND_FACTOR),
        "junctions": water_ids("Junctions (optional)", "water node"),
    }
    required = ("factor",)

    @classmethod
    def check(cls, check, out):
        if "junctions" in out:
            _, WaterNode = _models()
            found = WaterNode.objects.filter(
                city=check.city, pk__in=out["junctions"], kind="junction"
            ).count()
            if found != len(out["junctions"]):
                check.fail("junctions", f"not every id is a junction of {check.city.name!r}")

    @classmethod
    def describe(cls, city, edit):
        where = f" at {len(edit['junctions'])} junctions" if "junctions" in edit else ""
        return f"Water demand x {edit['factor']:g}{where}"

    @classmethod
    def apply_to_water(cls, wn, ctx, index, edit):
        from simulators.water.outages import scale_demand

        names = [ctx.node_names[i] for i in edit["junctions"]] if "junctions" in edit else None
        scale_demand(wn, edit["factor"], names)
