"""Intents: one registered :class:`Intent` per kind of request, each turning a clause of the
text into scenario edits (exactly the JSON ``POST /api/scenarios/`` takes), a run request or a
question. A registry, not a chain: an intent declares its trigger (a regex on the folded
clause) and builds its output from the clause's places and quantities."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from layers.gazetteer import Place

from . import quantities as q
from . import spatial
from .places import Index, Mention

STOREY_M = 3.5  #: height of a storey when a height is given in floors (m)


class Clarify(Exception):
    """The text names something that fits several places: ask which."""

    def __init__(self, question: str, candidates: list[dict]):
        super().__init__(question)
        self.question, self.candidates = question, candidates


class NotUnderstood(Exception):
    """Something the text needs is missing or unknown: say what (nothing changes)."""


class NoAmount(NotUnderstood):
    """An edit's amount is missing ("by how much?"): a clause that names a simulator is then
    a run request ("calibrate the demand to the counters"), not a failed edit."""


@dataclass
class Clause:
    """One clause of the request: folded text, its words and the places named in it."""

    city: object
    raw: str  #: the whole request as typed (for candidate texts)
    text: str
    words: list[str]
    mentions: list[Mention]
    index: Index
    year: int
    #: the mentions are the clause before's ("..., evacuate 250 m around it"), not its own
    carried: bool = False
    #: edits of the clauses before in the same request, and of the scenario asked about
    before: list = field(default_factory=list)
    base_edits: list = field(default_factory=list)

    def has(self, pattern: str) -> re.Match | None:
        return re.search(pattern, self.text)

    def places(
        self, kinds: tuple[str, ...] | None = None, after: str | None = None
    ) -> list[Mention]:
        """Mentions (of places of ``kinds``), optionally only those after the word ``after``."""
        start = 0
        if after is not None:
            m = re.search(rf"\b{after}\b", self.text)
            if not m:
                return []
            start = len(self.text[: m.end()].split())
        out = []
        for mention in self.mentions:
            if mention.start < start:
                continue
            fitting = [p for p in mention.places if kinds is None or p.kind in kinds]
            if fitting:
                out.append(
                    Mention(mention.start, mention.end, mention.words, fitting, mention.exact)
                )
        return out

    def place(self, kinds: tuple[str, ...] | None, what: str, after: str | None = None) -> Place:
        """The one place of ``kinds`` the clause names; a question when it fits several,
        NotUnderstood when it names none."""
        found = self.places(kinds, after)
        if not found:
            return self.unknown(kinds, what)
        return self.one(found[0], what)

    def one(self, mention: Mention, what: str) -> Place:
        distinct = mention.distinct()
        names = {(p.kind, p.canonical or p.name) for p in distinct}
        if len(distinct) > 1 and (not mention.exact or len(names) < len(distinct)):
            # a name said in part, or the whole name of several things ("Vuohi"): ask
            before = self.words[mention.start - 1] if mention.start > 0 else ""
            return _preferred(mention.words, distinct, before) or self.ask(
                mention.words, distinct, what
            )
        return distinct[0]

    def ask(self, words: str, places: list[Place], what: str):
        candidates = []
        shared = {p.canonical or p.name for p in places}
        for p in places[:6]:
            name = p.canonical or p.name
            text = re.sub(re.escape(words), name, self.raw, count=1, flags=re.IGNORECASE)
            if text == self.raw:
                text = _replace_folded(self.raw, words, name)
            label = f"{name} ({p.kind})"
            if len(shared) < len(places):  # one name, several things: say where each is
                lon, lat = spatial.centre(p)
                label = f"{name} ({p.kind} at {lat:.4f} N, {lon:.4f} E)"
            candidates.append({"label": label, "text": text, "place": p.as_json()})
        raise Clarify(f"Which {what} do you mean by {words!r}?", candidates)

    def unknown(self, kinds, what: str, before: int | None = None) -> Place:
        """No place of ``kinds`` named (in the words before word ``before``, when given):
        candidates for a partial name, or say so."""
        skip = set(q.WORD_NUMBERS) | _VOCABULARY
        # words read as a place of another kind may still be part of a name of these kinds
        # ("Makasiinikatu" read as the area Makasiinit, said for Pohjoinen Makasiinikatu)
        taken = {i for m in self.places(kinds) for i in range(m.start, m.end)}
        if before is not None:
            taken |= set(range(before, len(self.words)))
        for i, word in enumerate(self.words):
            if i in taken or word in skip or not word.isalpha() or len(word) < 5:
                continue
            near = [p for p in self.index.containing(word) if kinds is None or p.kind in kinds]
            distinct = Mention(i, i + 1, word, near).distinct() if near else []
            if len(distinct) == 1:
                return distinct[0]
            if distinct:
                before = self.words[i - 1] if i > 0 else ""
                return _preferred(word, distinct, before) or self.ask(word, distinct, what)
        unknown = [w for i, w in enumerate(self.words)
                   if i not in taken and w.isalpha() and w not in skip and len(w) > 3]  # fmt: skip
        if not unknown:
            # nothing in the text could be a name ("close it", "add a 50 m tower"): ask which,
            # offering the city's largest places of the kinds as examples
            places = [p for p in self.index.gazetteer.places
                      if (kinds is None or p.kind in kinds) and not p.canonical]  # fmt: skip
            places.sort(key=lambda p: (-len(p.ids), p.name))
            if places:
                candidates = [{"label": f"{p.name} ({p.kind})",
                               "text": f"{self.raw.rstrip(' ?.!')} ({p.name})",
                               "place": p.as_json()} for p in places[:6]]  # fmt: skip
                raise Clarify(f"Which {what} of {self.city.name} do you mean?", candidates)
        named = f" (I do not know {', '.join(repr(w) for w in unknown[:3])})" if unknown else ""
        raise NotUnderstood(f"I found no {what} of {self.city.name} in the text{named}")


#: "the station" said alone is the railway station, not a fire station or a square named after it
_RAILWAY_STATION = r"rautatieasema|railway station|train station|central station|jarnvagsstation|estacio de tren|bahnhof"


def _preferred(words: str, places: list[Place], before: str = "") -> Place | None:
    """The one place a bare common noun means without asking ("the station": the railway
    station when the city has exactly one; not "the fire station"), else None."""
    from .normalise import fold

    said = [before, *words.split()]
    if said[-1] != "station" or (
        len(said) > 1
        and said[-2]
        not in ("", "the", "a", "at", "of", "near", "railway", "train", "central", "main")
    ):
        return None
    railway = [p for p in places if re.search(_RAILWAY_STATION, fold(p.canonical or p.name))]
    names = {fold(p.canonical or p.name) for p in railway}
    return railway[0] if len(names) == 1 else None


def _replace_folded(raw: str, words: str, name: str) -> str:
    from .normalise import fold

    folded = fold(raw)
    at = folded.find(words)
    if at < 0 or len(folded) != len(raw):
        return f"{raw} ({name})"
    return raw[:at] + name + raw[at + len(words) :]


@dataclass
class Output:
    """What an intent makes of a clause. ``run``: the run it implies (``"decisive"`` in it:
    whatever else the text names); ``default_run``: its simulator when the text asks for
    consequences without naming one ("what if ..."); ``notes``: what was assumed, in words."""

    edits: list[dict] = field(default_factory=list)
    run: dict | None = None
    question: dict | None = None
    understood: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    asks_run: bool = False
    default_run: str | None = None
    #: the clause restates the edit of the clause before (which assumed a default): replace it
    replace_last: bool = False


@dataclass(frozen=True)
class Intent:
    """A kind of request: ``trigger`` (regex on the folded clause), ``build(clause) -> Output``."""

    name: str
    trigger: str
    build: Callable[[Clause], Output]
    words: str = ""


INTENTS: list[Intent] = []


def intent(name: str, trigger: str, words: str = ""):
    def wrap(fn):
        INTENTS.append(Intent(name, trigger, fn, words))
        return fn

    return wrap


_VOCABULARY = set(
    """close closed closing closure shut block blocked blocking pedestrianise pedestrianize
    reduce increase decrease cut add build construct erect raise heighten demolish remove tear
    knock lanes lane speed limit capacity tower building storeys storey floors shelter shelters
    evacuate evacuation hazard zone everyone everybody people metres meters minutes trips demand
    traffic along between corner within north south east west around near order leave
    departures mobilisation simulate run model show what which where when many much count
    residents jobs workers buildings roads streets congested busiest bottlenecks lose losing
    hours sun shadow shadows compare difference baseline fill full water power electricity pipe
    break burst valve pump tank transformer substation outage tram bus metro line headway every
    percent double halve half taller higher tall high story stories office offices hotel homes
    housing apartments residential commercial industrial school hospital new open place put
    create with without from into onto next then also please could would should make give
    peak morning evening night march april june today tomorrow fire gas leak spill smoke
    bomb threat explosion chemical flooding flood substation pipe main mains breaks burst
    fails calibrate calibrated counters roofs rooftop panels solar best first serve open
    sites capacity vehicles""".split()
)

ROAD = ("street",)
ANY = ("street", "area", "facility", "building", "address")
POINT_KINDS = ("building", "facility", "area", "street", "address")


# -- roads -------------------------------------------------------------------------------


def _stretch(c: Clause) -> re.Match | None:
    """Where a clause says a part of a street: "between X and Y", or "from X to Y" when a
    place follows "from" (not "from 8 to 10")."""
    m = c.has(r"\bbetween\b")
    if m is None:
        m = c.has(r"\bfrom\b(?=.*\bto\b)")
        if m is not None and not c.places(ANY, after="from"):
            return None
    return m


def _street_edges(c: Clause) -> tuple[Place, list[int], str]:
    """The edges a road clause means: a whole street, or the part "between X and Y"
    ("from X to Y")."""
    m = _stretch(c)
    streets = c.places(ROAD)
    if m and streets:
        split = len(c.text[: m.start()].split())
        before = [s for s in streets if s.start < split]
        after = c.places(ANY, after=m.group(0))
        # the street is the one named before "between": never one of the streets it crosses
        street = c.one(before[0], "street") if before else c.unknown(ROAD, "street", split)
        ends = [c.one(m, "place") for m in after[:2]]
        if len(ends) < 2:
            # a name said in part ("Kamppi" for Kampin kappeli), a question, or words
            ends.append(c.unknown(ANY, "place the street runs between"))
        if len(ends) < 2:
            raise NotUnderstood("say between which two places (streets it crosses)")
        a, b = ends
        ids = spatial.between(c.city, street, a, b)
        if not ids:
            raise NotUnderstood(
                f"{street.name} does not run between {a.name} and {b.name} in the twin"
            )
        return (
            street,
            ids,
            f"{street.canonical or street.name} between {a.canonical or a.name} and {b.canonical or b.name}",
        )
    street = c.place(ROAD, "street")
    return street, sorted(street.ids), street.canonical or street.name


@intent(
    "transit_lane",
    r"\b(bus|tram|transit|public transport) (only )?(lanes?|streets?|roads?)\b|\bbuses only\b|"
    r"\btransit mall\b|\b(bussikatu\w*|bussikaist\w*|busskorfalt\w*|bussfil\w*|"
    r"raitiovaunukaist\w*|joukkoliikennekaist\w*|carril (bus|bus taxi))\b",
)
def _transit_lane(c: Clause) -> Output:
    street, ids, words = _street_edges(c)
    return Output(
        [{"type": "transit_lane", "edge_ids": ids}], understood=[f"bus or tram lane on {words}"]
    )


@intent(
    "close_road",
    r"\b(close|closed|closes|closing|closure|shut|shuts|block|blocked|blocks|blocking|"
    r"car free|pedestriani[sz]\w*|no cars|no traffic|road ?works|cordon|sulje\w*|suljetaan|"
    r"sulke\w*|suljet\w*|stang\w*|avstang\w*|tanca\w*|tall(ar|eu|ada)|cerra\w*|tancament)\b",
)
def _close_road(c: Clause) -> Output:
    if c.has(r"\bvalves?\b"):
        return _valve(c)
    if q.radius_m(c.text) is not None and not c.places(ROAD):
        return _hazard(c)  # "cordon off 150 m around Kiasma": a zone, not a street
    listed = _listed_streets(c)
    if len(listed) > 1:  # "close Bulevardi and Erottajankatu": each street, whole
        names = [p.canonical or p.name for p in listed]
        return Output([{"type": "close_road", "street": n} for n in names],
                      understood=[f"close {n}" for n in names])  # fmt: skip
    street, ids, words = _street_edges(c)
    whole = not _stretch(c)
    edit = {"type": "close_road", "street": street.canonical or street.name} if whole else {
        "type": "close_road", "edge_ids": ids}  # fmt: skip
    return Output([edit], understood=[f"close {words}"])


#: words that may join the names of a list of streets ("A, B and C", "A as well as B")
_LIST_JOINERS = {"and", "plus", "also", "as", "well", "both", "the", "or", "then"}


def _listed_streets(c: Clause) -> list[Place]:
    """The streets a clause lists ("A and B", "A, B & C"): two or more streets with only
    joining words between them, and no "between"/"from ... to"/"corner" (a stretch or a
    point is meant then). One street, or none, gives an empty list."""
    if _stretch(c) or c.has(r"\b(corner|intersection|junction|near|around|within)\b"):
        return []
    streets = [m for m in c.mentions if any(p.kind == "street" for p in m.places)]
    if len(streets) < 2:
        return []
    for a, b in zip(streets, streets[1:]):
        if not set(c.words[a.end : b.start]) <= _LIST_JOINERS:
            return []
    out: list[Place] = []
    for m in streets:
        fitting = Mention(
            m.start, m.end, m.words, [p for p in m.places if p.kind == "street"], m.exact
        )
        out.append(c.one(fitting, "street"))
    return out


def _groups(c: Clause, ids: list[int], field_name: str) -> dict[float, list[int]]:
    from layers.models import RoadEdge

    out: dict[float, list[int]] = {}
    for pk, value in RoadEdge.objects.filter(city=c.city, pk__in=ids).values_list("id", field_name):
        out.setdefault(float(value), []).append(pk)
    return out


@intent(
    "change_road",
    r"\b(lanes?|speed|km/h|km / h|kph|kmh|capacity|limit|narrow\w*|widen\w*|road diet|veh/h|vph|"
    r"nopeusrajoitu\w*|hastighetsgrans\w*|"
    r"vehicles per hour|kaistaa?|kaistalle|kaistaksi)\b",
)
def _change_road(c: Clause) -> Output:
    street, ids, words = _street_edges(c)
    changes: dict = {}
    speed = q.speed_kph(c.text)
    if speed is None and c.has(r"\b(speed|limit|nopeusrajoitu\w*|hastighetsgrans\w*)\b"):
        m = re.search(
            rf"\b(?:to|at|of|limit|nopeusrajoitus|hastighetsgrans)\s+({q.NUMBER})\b(?!\s?(?:%|m\b|lanes?|storeys?|floors?))",
            c.text,
        )
        if m:
            speed = q.Found(q.number(m.group(1)), m.span())
    if speed is not None:
        changes["speed_kph"] = speed.value
    lanes = q.count_of(r"lanes?|kaistaa?", c.text)
    out: list[dict] = []
    understood = []
    relative_lane = c.has(
        r"\b(remove|take away|drop|lose|one less|one fewer|fewer lanes?|less lanes?|narrow\w*|"
        r"road diet)\b|\btake\b.{0,20}\baway\b"
    )
    added_lane = c.has(r"\b(add|extra|another|one more|widen\w*)\b") and not c.has(
        r"\bto\s+(\w+)\s+lanes?\b"
    )
    absolute = q.capacity_veh_h(c.text)
    factor = q.percent_change(c.text) if c.has(r"\bcapacity\b") and absolute is None else None
    if lanes is not None and not (relative_lane or added_lane):
        changes["lanes"] = int(lanes.value)
    if absolute is not None and c.has(r"\b(per|each|a) lane\b"):
        # "800 veh/h per lane": each edge's lanes times that
        for value, group in sorted(_groups(c, ids, "lanes").items()):
            lanes_now = changes.get("lanes", max(1, int(value)))
            out.append({"type": "change_road", "edge_ids": sorted(group),
                        "capacity_veh_h": absolute.value * lanes_now, **changes})  # fmt: skip
        understood.append(f"capacity of {words}: {absolute.value:g} veh/h per lane")
    elif absolute is not None:
        out.append(
            {"type": "change_road", "edge_ids": ids, "capacity_veh_h": absolute.value, **changes}
        )
        understood.append(f"capacity of {words}: {absolute.value:g} veh/h")
    elif factor is not None:
        for value, group in sorted(_groups(c, ids, "capacity_veh_h").items()):
            out.append({"type": "change_road", "edge_ids": sorted(group),
                        "capacity_veh_h": round(value * factor.value, 1), **changes})  # fmt: skip
        understood.append(f"capacity of {words} x {factor.value:g}")
    elif (relative_lane or added_lane) and (lanes is not None or c.has(r"\blanes?\b")):
        step = int(lanes.value) if lanes is not None else 1
        step = -step if relative_lane else step
        for value, group in sorted(_groups(c, ids, "lanes").items()):
            new = max(1, int(value) + step)
            out.append({"type": "change_road", "edge_ids": sorted(group), "lanes": new, **changes})
        understood.append(f"{'one lane fewer' if step == -1 else f'{step:+d} lanes'} on {words}")
    elif changes:
        out.append({"type": "change_road", "edge_ids": ids, **changes})
    else:
        raise NoAmount(
            "say the new number of lanes, the speed limit (km/h) or the change of capacity (%)"
        )
    if changes:
        understood.append(f"{words}: " + ", ".join(
            f"{v:g} km/h" if k == "speed_kph" else f"{v} lanes" for k, v in changes.items()))  # fmt: skip
    return Output(out, understood=understood)


@intent("add_road", r"\b(new|add|build|construct)\b.{0,30}\b(road|street|link|connection)\b")
def _add_road(c: Clause) -> Output:
    ends = c.places(POINT_KINDS, after="from")
    if len(ends) < 2:
        ends = c.places(POINT_KINDS, after="between")
    if len(ends) < 2:
        raise NotUnderstood("say where the new road runs: from a place to another")
    a, b = c.one(ends[0], "place"), c.one(ends[1], "place")
    line = {"type": "LineString", "coordinates": [list(_point(c, a)), list(_point(c, b))]}
    edit: dict = {"type": "add_road", "line": line}
    lanes = q.count_of(r"lanes?", c.text)
    if lanes is not None:
        edit["lanes"] = int(lanes.value)
    speed = q.speed_kph(c.text)
    if speed is not None:
        edit["speed_kph"] = speed.value
    if c.has(r"\bone ?way\b"):
        edit["oneway"] = True
    return Output(
        [edit], understood=[f"a new road from {a.canonical or a.name} to {b.canonical or b.name}"]
    )


def _point(c: Clause, place: Place) -> tuple[float, float]:
    return spatial.centre(place)


# -- buildings ---------------------------------------------------------------------------

USES = [
    (r"\b(office|offices|shop|shops|retail|hotel|commercial|mall)\b", "commercial"),
    (r"\b(factory|industrial|warehouse|plant)\b", "industrial"),
    (r"\b(school|hospital|library|public|museum|town hall|fire station)\b", "public"),
    (r"\b(homes?|housing|apartments?|flats|residential|dwellings)\b", "residential"),
]


def _height_m(c: Clause) -> float | None:
    lengths = [f for f in q.lengths_m(c.text) if not re.search(
        r"\b(within|radius|of|around|from)\s*$", c.text[: f.span[0]])]  # fmt: skip
    if lengths:
        return lengths[0].value
    floors = q.storeys(c.text)
    return floors.value * STOREY_M if floors else None


def _site(c: Clause) -> tuple[tuple[float, float], str]:
    """Where a new thing goes: "at the corner of X and Y", "next to X", "at X"."""
    m = c.has(r"\bcorner of\b|\bintersection of\b|\bjunction of\b")
    if m is None:
        # "at A and B", "at A / B corner": two streets said together are where they meet
        pair = [s for s in c.places(ROAD, after="at")]
        if len(pair) >= 2 and set(c.words[pair[0].end : pair[1].start]) <= {"and", "&"}:
            m = c.has(r"\bat\b")
    if m:
        streets = c.places(ROAD, after=m.group(0).split()[0])
        if len(streets) >= 2:
            a, b = c.one(streets[0], "street"), c.one(streets[1], "street")
            point = spatial.corner(c.city, a, b)
            if point is None:
                raise NotUnderstood(f"{a.name} and {b.name} do not meet in the twin")
            return point, f"the corner of {a.canonical or a.name} and {b.canonical or b.name}"
    place = c.place(POINT_KINDS, "place")
    return spatial.centre(place), place.canonical or place.name


@intent(
    "add_building",
    rf"\b(an?|one)\s+{q.NUMBER}\s?(m|metres?|meters?|storeys?|stories|floors?)[\s-]+(tall\s+|high\s+)?"
    r"(tower|building|block|skyscraper|high ?rise|office|hotel|apartment block)\b|"
    r"\b(add|build|builds|built|construct|erect|put|place|new|plan|planned)\b.{0,40}"
    r"\b(building|tower|block|skyscraper|high ?rise|office|hotel|apartments?|housing|storeys?|floors?|"
    r"kerrostalo|school|hospital|library|museum|hall|station|centre|center)\b",
)
def _add_building(c: Clause) -> Output:
    if c.has(r"\b(add|adding)\s+\S+\s+(more\s+)?(storeys?|floors?|levels?)\s+(to|on|onto)\b"):
        return _heighten(c)  # "add 3 floors to Stockmann": an existing building grows
    height = _height_m(c)
    if height is None:
        raise NoAmount("say how tall the new building is (e.g. 60 m or 12 storeys)")
    (lon, lat), where = _site(c)
    side = spatial.DEFAULT_FOOTPRINT_M
    m = re.search(
        rf"\b({q.NUMBER})\s?(?:m|metres?|meters?)?\s?(?:by|x)\s?({q.NUMBER})\s?(?:m|metres?|meters?)\b",
        c.text,
    )
    if m:
        side = (q.number(m.group(1)) * q.number(m.group(2))) ** 0.5
    edit = {"type": "add_building", "footprint": spatial.square(c.city, lon, lat, side),
            "height_m": round(height, 1)}  # fmt: skip
    for pattern, use in USES:
        if c.has(pattern):
            edit["use"] = use
            break
    return Output([edit], understood=[f"a {height:g} m building at {where}"])


@intent(
    "remove_building",
    r"\b(demolish\w*|remove|removed|tear\w* down|knock\w* down|raze\w*|pull\w* down|without|gone|purkaa|puretaan)\b",
)
def _remove_building(c: Clause) -> Output:
    named = c.places(("building",))
    if len(named) > 1 and all(
        set(c.words[a.end : b.start]) <= _LIST_JOINERS for a, b in zip(named, named[1:])
    ):  # "tear down A and B": each building
        out = Output()
        for mention in named:
            place = c.one(mention, "building")
            out.edits.append({"type": "remove_building",
                              "building_ids": spatial.buildings_of(c.city, place)})  # fmt: skip
            out.understood.append(f"remove {place.canonical or place.name}")
        return out
    place = c.place(("building",), "building")
    ids = spatial.buildings_of(c.city, place)
    return Output([{"type": "remove_building", "building_ids": ids}],
                  understood=[f"remove {place.canonical or place.name}"])  # fmt: skip


@intent(
    "heighten_building",
    r"\b(raise|raised|heighten\w*|taller|higher|extend\w*|storeys?|floors?|tall|high|height)\b",
)
def _heighten(c: Clause) -> Output:
    from layers.models import Building

    place = c.place(("building",), "building")
    ids = spatial.buildings_of(c.city, place)
    current = max(Building.objects.filter(pk__in=ids).values_list("height_m", flat=True))
    m = re.search(
        rf"\bby\s+({q.NUMBER})\s?(m|metres?|meters?|storeys?|floors?)\b", c.text
    ) or re.search(
        rf"\b({q.NUMBER})\s?(m|metres?|meters?|storeys?|floors?)\s+(?:taller|higher|more)\b", c.text
    )
    m2 = re.search(rf"\badd\w*\s+({q.NUMBER})\s+(?:more\s+)?(storeys?|floors?|levels?)\b", c.text)
    if m or m2:
        mm = m or m2
        step = q.number(mm.group(1)) * (1.0 if mm.group(2).startswith("m") else STOREY_M)
        height = current + step
    else:
        height = _height_m(c)
        if height is None:
            raise NotUnderstood("say the new height (m or storeys) or by how much")
    height = round(height, 1)
    return Output([{"type": "heighten_building", "building_ids": ids, "height_m": height}],
                  understood=[f"make {place.canonical or place.name} {height:g} m tall"])  # fmt: skip


# -- evacuation --------------------------------------------------------------------------


SHELTER_NOUN = (
    r"(?:shelters?|evacuation cent(?:er|re)s?|reception cent(?:er|re)s?|assembly points?|"
    r"vaestonsuoj\w*|refugis?)"
)
#: how a shelter siting is asked: which shelters to open, where to put them, the best sites
SITING = (
    rf"\b(which|what)\b.{{0,30}}\b{SHELTER_NOUN}\b.{{0,40}}\b(open\w*|use|used|serve\w*|should|"
    rf"best|activat\w*|choose|pick|select|would|to)\b"
    rf"|\bwhere\b.{{0,30}}\b(should|to|would|could|can|do|shall)\b.{{0,40}}\b{SHELTER_NOUN}\b"
    rf"|\b(best|optimal|ideal|most suitable|right)\b.{{0,30}}\b(places?|sites?|locations?|spots?)\b"
    rf".{{0,20}}\b{SHELTER_NOUN}\b"
    rf"|\b{SHELTER_NOUN}\b.{{0,30}}\b(siting|location problem|placement|optimi[sz]\w*)\b"
    rf"|\b(site|locate|optimi[sz]e|choose|pick|select)\b.{{0,25}}\b{SHELTER_NOUN}\b"
    rf"|\b(open|activate|use)\s+(?:the\s+)?(?:best\s+)?(\d+|two|three|four|five|six|seven|eight|"
    rf"nine|ten)\s+(?:\w+\s+)?{SHELTER_NOUN}\b"
    rf"|\bshelter siting\b"
)
#: candidate buildings offered when new sites are asked for: public buildings this near (m)
SITING_SEARCH_M = 2000.0
SITING_MAX_BUILDINGS = 40
SITING_DEFAULT_P = 3


@intent("shelter_siting", SITING)
def _siting(c: Clause) -> Output:
    import json

    from django.contrib.gis.geos import GEOSGeometry

    if q.capacity_of(c.text) is not None:
        return _shelter(c)  # "open 2 shelters for 500 people at X": shelters to add
    out = Output(asks_run=True)
    count = re.search(
        rf"\b(?:top\s+)?(\d+|{'|'.join(w for w, v in q.WORD_NUMBERS.items() if v >= 1 and v == int(v) and w not in ('double', 'twice', 'triple'))})"
        rf"\s+(?:\w+\s+){{0,2}}?(?:{SHELTER_NOUN}|sites|locations)\b", c.text,
    )  # fmt: skip
    if count:
        p = int(q.number(count.group(1)))
    elif c.has(rf"\b(a|one|single)\s+(?:\w+\s+)?{SHELTER_NOUN}\b") and not c.has(
        r"\b(shelters|centres|centers|points)\b"
    ):
        p = 1
    else:
        p = SITING_DEFAULT_P
        out.notes.append(f"Opening {p} sites (no number was said; say e.g. 'which 2 shelters').")
    zone = None
    earlier = [e for e in [*c.base_edits, *c.before] if e.get("type") == "hazard_zone"]
    if c.places(POINT_KINDS) and not (c.carried and earlier):
        cause = _cause(c)  # "for a gas leak at Kiasma": that hazard's zone
        polygon, where, assumed = _zone_assumed(c, point_event=bool(cause and cause[1]))
        zone = polygon
        name = f"{cause[0]} {where}" if cause else f"People to shelter: {where}"
        out.edits.append({"type": "hazard_zone", "polygon": polygon, "name": name})
        out.understood.append(f"the people {where} to shelter")
        if assumed is not None:
            out.notes.append(
                f"The people within {assumed:g} m of the place are to be sheltered (no area was "
                "said; say e.g. 'within 300 m of ...' for another)."
            )
    else:
        zones = earlier
        if not zones:
            raise NotUnderstood(
                "say whose people to shelter: a place or a zone (e.g. 'which 3 shelters serve "
                "Kamppi best'); a shelter siting run needs a hazard zone"
            )
        zone = zones[-1]["polygon"]
    params: dict = {"p": p}
    if q.walking_share(c.text) is not None:
        params["mode"] = "walk"
    from layers.models import Building, Facility

    shelters = Facility.objects.filter(city=c.city, kind="shelter", capacity__gt=0).count() + sum(
        1 for e in [*c.base_edits, *c.before] if e.get("type") == "add_shelter"
    )
    new_sites = c.has(r"\b(put|build|place|new|set up|open up|establish|where)\b")
    if new_sites or shelters < p:
        from citytwin.scenarios import inputs

        area = GEOSGeometry(json.dumps(zone), srid=4326)
        ring = inputs.local_geometry(c.city, zone).buffer(SITING_SEARCH_M)
        near = GEOSGeometry(json.dumps(spatial.to_lonlat(c.city, ring)), srid=4326)
        ids = list(
            Building.objects.filter(city=c.city, use="public", footprint__intersects=near)
            .exclude(footprint__intersects=area)
            .order_by("-floor_area_m2", "id")
            .values_list("id", flat=True)[:SITING_MAX_BUILDINGS]
        )
        if ids:
            params["candidates"] = "both" if shelters else "buildings"
            params["candidate_buildings"] = ids
            out.notes.append(
                f"Candidate sites: {'the scenario' + chr(39) + 's shelters and ' if shelters else ''}"
                f"the {len(ids)} largest public buildings (schools, halls, churches...) within "
                f"{SITING_SEARCH_M / 1000:g} km outside the zone."
            )
    out.run = {"simulator": "shelter_siting", "params": params, "decisive": True}
    out.understood.append(f"open the best {p} shelter site{'s' if p != 1 else ''}")
    return out


@intent(
    "add_shelter", r"\bshelters?\b|\bevacuation cent(er|re)\b|\bassembly point\b|\bvaestonsuoja\b"
)
def _shelter(c: Clause) -> Output:
    parts = re.split(r"\s+and\s+(?=(?:at|in|near|on)\b)", c.text)
    if len(parts) > 1 and all(q.capacity_of(p) is not None for p in parts):
        # "shelters at A for 300 and at B for 150": a shelter each, with its own capacity
        out = Output()
        for part in parts:
            one = _shelter(_sub_clause(c, part))
            out.edits.extend(one.edits)
            out.understood.extend(one.understood)
        return out
    capacity = q.capacity_of(c.text)
    if capacity is None:
        raise NotUnderstood("say how many people the shelter holds (e.g. for 500 people)")
    (lon, lat), where = _site(c)
    edit = {"type": "add_shelter", "point": {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]},
            "capacity": int(capacity.value), "name": f"Shelter at {where}"}  # fmt: skip
    return Output([edit], understood=[f"a shelter for {int(capacity.value):,} people at {where}"])


def _sub_clause(c: Clause, text: str) -> Clause:
    """The clause of a part of ``c``'s text, with its own words and places."""
    from .normalise import tokens
    from .places import find_mentions

    words = tokens(text)
    return Clause(c.city, c.raw, text, words, find_mentions(c.index, words), c.index, c.year,
                  before=c.before, base_edits=c.base_edits)  # fmt: skip


DIRECTIONS = ("north", "south", "east", "west")


def _zone(c: Clause, point_event: bool = False) -> tuple[dict, str]:
    """The zone a hazard or demand clause means: a circle, a side of a place, or a place."""
    polygon, where, _ = _zone_assumed(c, point_event)
    return polygon, where


def _zone_assumed(c: Clause, point_event: bool = False) -> tuple[dict, str, float | None]:
    """:func:`_zone` and the radius it assumed (m; None when the text gave the extent).

    ``point_event``: the hazard happens at a point (a fire, a gas leak at a street or in a
    district): a circle of the default radius around it, not the place's whole extent."""
    found = q.radius_m(c.text)
    radius = found.value if found else None
    if radius is not None and not 0 < radius <= spatial.MAX_RADIUS_M:
        # a circle of 1e23 km projects to NaN and GEOS raises (a 500)
        raise NotUnderstood(
            f"say a distance above 0 m and up to {spatial.MAX_RADIUS_M / 1000:g} km (got {radius:g} m)"
        )
    side = c.has(r"\b(north|south|east|west)\s+of\b")
    place = c.place(POINT_KINDS, "place")
    name = place.canonical or place.name
    lon, lat = spatial.centre(place)
    if side:
        # "400 m south of X": the length just before the side is the zone's depth
        before = [f for f in q.lengths_m(c.text) if 0 <= side.start() - f.span[1] <= 12]
        radius = before[-1].value if before else radius
        depth = radius or spatial.DEFAULT_RADIUS_M
        return (spatial.side_of(c.city, lon, lat, side.group(1), depth),
                f"{depth:g} m {side.group(1)} of {name}", None if radius else depth)  # fmt: skip
    if radius is not None:
        return spatial.circle(c.city, lon, lat, radius), f"within {radius:g} m of {name}", None
    if place.kind in ("area", "street") and not point_event:
        return spatial.bbox_polygon(place), name, None
    default = spatial.DEFAULT_RADIUS_M
    return spatial.circle(c.city, lon, lat, default), f"within {default:g} m of {name}", default


#: what makes people leave: (regex, words for the zone's name, happens at a point)
HAZARD_CAUSES = (
    (
        r"gas (leak\w*|escape|cloud|smell)|smell of gas|(leak\w*|escap\w*) (of )?gas|kaasuvuoto|fuita de gas",
        "Gas leak",
        True,
    ),
    (
        r"chemical\w*|spill\w*|toxic|ammonia|chlorine|hazmat|dangerous goods|vaarallis\w*",
        "Chemical release",
        True,
    ),
    (
        r"explosions?|explosives?|blast|bombs?|bomb threat|suspicious (package|object|item|bag)|unexploded|ordnance|rajahdys|explosio",
        "Explosion threat",
        True,
    ),
    (r"radiation|radioactive|nuclear", "Radiation", True),
    (
        r"fires?(?! (station|stations|brigade|department|hydrants?|exits?|engines?|trucks?|services?|fighters?|safety|doors?|alarms? test))|blaze|burning|on fire|smoke|tulipalo|palo|incendi|foc",
        "Fire",
        True,
    ),
    (r"collaps\w*|derail\w*|building failure", "Collapse", True),
    (r"flood\w*|inundat\w*|storm surge|high water|tulva\w*|inundacio", "Flood", False),
    (r"landslides?|rock ?fall|avalanche|allau", "Landslide", False),
)
HAZARDS = r"\b(" + "|".join(pattern for pattern, _, _ in HAZARD_CAUSES) + r"|hazard)\b"
#: the verb that asks to evacuate: the evacuation run is meant, not only the zone
EVACUATE = (
    r"\b(evacuat\w*|evakuo\w*|evacua\w*|clear (out|everyone)|get everyone out|move everyone out)\b"
)


def _names_place(c: Clause) -> bool:
    """Does the clause name a place, in part ("the cathedral") or in several (a question)?"""
    try:
        c.place(POINT_KINDS, "place")
    except NotUnderstood:
        return False
    except Clarify:
        return True
    return True


def _cause(c: Clause) -> tuple[str, bool] | None:
    for pattern, words, point in HAZARD_CAUSES:
        if re.search(rf"\b(?:{pattern})\b", c.text):
            return words, point
    return None


@intent(
    "hazard_zone",
    rf"{EVACUATE}|\b(hazard|danger zone|exclusion zone|evacuation zone|safety zone|"
    rf"vaaravyohyke\w*|vaara alue\w*|riskzon\w*|zona de perill)\b|{HAZARDS}",
)
def _hazard(c: Clause) -> Output:
    if not c.places(POINT_KINDS) and (
        c.has(r"\b(run|rerun|simulate|simulation|model|start|compute)\b") or not _names_place(c)
    ):
        # "run the evacuation": the scenario's own zones are meant, no new one
        raise NoAmount("say where to evacuate (a place, or a radius around one)")
    cause = _cause(c)
    if cause is None and c.carried and c.before and c.before[-1]["type"] == "hazard_zone":
        # "fire at Sanomatalo, evacuate a 250 m radius": the zone of the clause before,
        # now with its radius (the one before was a default): one zone, not two
        named = re.match(r"(.+?) within ", c.before[-1]["name"])
        cause = (named.group(1), True) if named else None
    polygon, where, assumed = _zone_assumed(c, point_event=bool(cause and cause[1]))
    label = where if where.startswith("within") or " of " in where else f"at {where}"
    edit: dict = {"type": "hazard_zone", "polygon": polygon,
                  "name": f"{cause[0]} {label}" if cause else where}  # fmt: skip
    order = re.search(rf"\b(?:after|in|within)\s+({q.NUMBER})\s?(?:minutes?|mins?|min)\b", c.text)
    if order and c.has(r"\b(order|warning|alarm|leave after|start)\w*\b"):
        edit["start_min"] = q.number(order.group(1))
    out = Output([edit], understood=[f"evacuate {where}"])
    if assumed is not None:
        out.notes.append(
            f"The zone is {assumed:g} m around the place (no distance was said; say e.g. "
            f"'within 300 m' for another)."
        )
    params: dict = {}
    clock = q.clock_h(c.text)
    if clock is not None:
        params["time_of_day_h"] = round(clock.value, 2)
    share = q.walking_share(c.text)
    if share is not None:
        params["share_walking"] = share
    out.run = {"simulator": "evacuation", "params": params}
    out.asks_run = bool(c.has(EVACUATE))
    out.default_run = "evacuation"
    if (
        c.carried
        and c.before
        and c.before[-1]["type"] == "hazard_zone"
        and c.before[-1]
        .get("name", "")
        .endswith(f"within {spatial.DEFAULT_RADIUS_M:g} m of {where.split(' of ', 1)[-1]}")
    ):
        out.replace_last = True
    return out


@intent(
    "departure_profile", r"\b(depart\w*|mobili[sz]\w*|weibull|rayleigh|leave within|people leave)\b"
)
def _departures(c: Clause) -> Output:
    dur = q.minutes(c.text)
    if dur is None:
        raise NotUnderstood("say how quickly people leave (e.g. within 20 minutes)")
    edit: dict = {"type": "departure_profile", "distribution": "weibull" if c.has(r"\bweibull\b") else "rayleigh",
                  "scale_min": dur.value}  # fmt: skip
    m = re.search(rf"\bshape\s+({q.NUMBER})\b", c.text)
    if m and edit["distribution"] == "weibull":
        edit["shape"] = q.number(m.group(1))
    return Output(
        [edit], understood=[f"departures ({edit['distribution']}) over {dur.value:g} min"]
    )


# -- demand ------------------------------------------------------------------------------


def _factor(c: Clause) -> float:
    f = q.percent_change(c.text)
    if f is None:
        raise NoAmount("say by how much (e.g. by 20% or double)")
    return f.value


def _demand_zone(c: Clause, edit: dict) -> str:
    if c.places(POINT_KINDS):
        polygon, where = _zone(c)
        edit["zone"] = polygon
        return f" {where}"
    return ""


@intent("water_demand_change", r"\bwater (demand|use|consumption|usage)\b")
def _water_demand(c: Clause) -> Output:
    f = _factor(c)
    return Output(
        [{"type": "water_demand_change", "factor": f}], understood=[f"water demand x {f:g}"]
    )


@intent(
    "power_demand_change", r"\b(electricity|electric|power) (demand|use|consumption|usage|load)\b"
)
def _power_demand(c: Clause) -> Output:
    f = _factor(c)
    edit = {"type": "power_demand_change", "factor": f}
    where = _demand_zone(c, edit)
    return Output([edit], understood=[f"electricity demand x {f:g}{where}"])


@intent(
    "demand_change",
    r"\b(demand|trips|traffic volumes?|more traffic|less traffic|fewer cars|more cars|car "
    r"traffic|commuters|travel)\b|\b(increase\w*|decrease\w*|reduc\w*|cut\w*|grow\w*|rais\w*|"
    r"double\w*|halve\w*|boost\w*|drop\w*|multipl\w*|scal\w*)\b.{0,25}\btraffic\b|\btraffic\b.{0,25}\b(grows?|"
    r"increases?|rises?|up|down|falls?|drops?|doubles?|halves?)\b",
)
def _demand(c: Clause) -> Output:
    f = _factor(c)
    edit = {"type": "demand_change", "factor": f}
    where = _demand_zone(c, edit)
    return Output([edit], understood=[f"trips x {f:g}{where}"])


# -- utilities ---------------------------------------------------------------------------


#: words after "substation"/"pipe" that are no element's name ("substation at Kamppi fails")
_NOT_A_NAME = {"at", "on", "in", "near", "of", "the", "by", "fails", "failing", "fail",
               "breaks", "break", "bursts", "burst", "goes", "is", "trips", "outage", "out",
               "down", "under", "along", "beside", "next", "close", "serving", "that", "which",
               "was", "were", "would", "and", "leaks", "leak", "ruptures", "failure"}  # fmt: skip
#: an element farther than this from the place named is not "at" it (m)
ELEMENT_NEAR_M = 1000.0


def _element(
    c: Clause,
    model,
    kinds: tuple[str, ...] | None,
    noun: str,
    geom: str = "geom",
    called: str | None = None,
    **filters,
) -> list[int]:
    """The element of a utility network the clause means: by its name or id ("substation
    S3", "pipe P12", "the Kamppi substation"), else the one nearest to a place the clause
    names ("a main breaks on Fredrikinkatu", "the substation at Kamppi")."""
    from .normalise import fold

    rows = model.objects.filter(city=c.city, **filters)
    if kinds is not None:
        rows = rows.filter(kind__in=kinds)
    m = re.search(rf"\b(?:{called or noun})s?\s+(?:no\.?\s*|number\s+)?([\w-]+)", c.text)
    key = m.group(1) if m and m.group(1) not in _NOT_A_NAME else None
    if key is not None:
        found = list(rows.filter(name__iexact=key).values_list("id", flat=True))
        if not found and key.isdigit():
            found = list(rows.filter(pk=int(key)).values_list("id", flat=True))
        if found:
            return found
    # a name of several words, or before the noun ("the Kamppi substation")
    rows_named = rows.exclude(name="").exclude(name__isnull=True).values_list("id", "name")
    named = [(pk, name) for pk, name in rows_named
             if len(fold(name)) >= 3 and re.search(rf"\b{re.escape(fold(name))}\b", c.text)]  # fmt: skip
    if named:  # every row of that name (a substation's buses at each voltage)
        return [pk for pk, name in named if name == named[0][1]]
    places = c.places(POINT_KINDS)
    if places:
        return [_nearest(c, rows, c.one(places[0], "place"), noun, geom)]
    if key is not None:
        raise NotUnderstood(f"{c.city.name} has no {noun} called {key!r}")
    if not rows.exists():
        raise NotUnderstood(f"{c.city.name} has no {noun} in the twin (import its network first)")
    raise NotUnderstood(f"say which {noun} (its name, e.g. {noun} P1, or where: {noun} at a place)")


def _nearest(c: Clause, rows, place: Place, noun: str, geom: str) -> int:
    """The id of the row of ``rows`` nearest to ``place`` (a street: its middle); NotUnderstood
    when none lies within :data:`ELEMENT_NEAR_M`."""
    from django.contrib.gis.db.models.functions import GeometryDistance
    from django.contrib.gis.geos import Point

    lon, lat = spatial.middle(c.city, place)
    point = Point(lon, lat, srid=4326)
    best = rows.annotate(d=GeometryDistance(geom, point)).order_by("d", "id").values_list(
        "id", geom).first()  # fmt: skip
    name = place.canonical or place.name
    if best is None:
        raise NotUnderstood(f"{c.city.name} has no {noun} in the twin (import its network first)")
    shape = best[1]
    x, y = spatial.to_local_xy(c.city, lon, lat)
    if shape.geom_type == "Point":
        ex, ey = spatial.to_local_xy(c.city, shape.x, shape.y)
        dist = ((ex - x) ** 2 + (ey - y) ** 2) ** 0.5
    else:
        import shapely

        coords = [spatial.to_local_xy(c.city, *xy[:2]) for xy in shape.coords]
        dist = shapely.LineString(coords).distance(shapely.Point(x, y))
    if dist > ELEMENT_NEAR_M:
        raise NotUnderstood(
            f"the nearest {noun} to {name} is {dist / 1000:.1f} km away: say which {noun}"
        )
    return best[0]


@intent(
    "water_pipe_break",
    r"^(?!.*\bgas\b)(?:.*\b(burst\w*|break\w*|broken|rupture\w*|leak\w*|fail\w*)\b.{0,30}\b(pipe|mains?|watermain)\b"
    r"|.*\b(pipe|mains?|watermain)\b.{0,20}\b(burst\w*|break\w*|broken|rupture\w*|leak\w*|fail\w*)\b"
    r"|.*\b(putkirikko|vesijohtovuoto|main break|pipe break))",
)
def _pipe_break(c: Clause) -> Output:
    from utilities.water.models import WaterLink

    ids = _element(c, WaterLink, ("pipe",), "pipe", called="pipe|main|water main")
    size = q.lengths_m(c.text)
    m = re.search(rf"\b({q.NUMBER})\s?(cm|mm)\b", c.text)
    diameter = (
        size[0].value
        if size
        else (q.number(m.group(1)) / (100 if m.group(2) == "cm" else 1000) if m else 0.1)
    )
    edit = {"type": "water_pipe_break", "pipe": ids[:1], "leak_diameter_m": diameter}
    if c.has(r"\b(no isolation|not isolated|without isolat\w*)\b"):
        edit["isolate"] = False
    return Output([edit], understood=["a water main break"])


def _valve(c: Clause) -> Output:
    from utilities.water.models import WaterLink

    ids = _element(c, WaterLink, ("valve", "pipe"), "valve")
    return Output(
        [{"type": "water_valve_closure", "links": ids}], understood=["close water valves"]
    )


@intent("water_pump_out", r"(?<!heat )(?<!heat-)\bpumps?\b")  # a heat pump is no water pump
def _pump(c: Clause) -> Output:
    from utilities.water.models import WaterLink

    ids = _element(c, WaterLink, ("pump",), "pump")
    return Output([{"type": "water_pump_out", "pumps": ids}], understood=["a pump out of service"])


@intent("water_tank_out", r"\b(tank|reservoir)s?\b")
def _tank(c: Clause) -> Output:
    from utilities.water.models import WaterNode

    ids = _element(c, WaterNode, ("tank",), "tank")
    return Output([{"type": "water_tank_out", "tanks": ids}], understood=["a tank out of service"])


@intent("substation_outage", r"\b(substations?|sahkoasema\w*|subestacio\w*)\b")
def _substation(c: Clause) -> Output:
    from utilities.power.models import Bus

    ids = _element(c, Bus, None, "substation")
    return Output([{"type": "substation_outage", "buses": ids}], understood=["a substation outage"])


@intent("transformer_outage", r"\btransformers?\b")
def _transformer(c: Clause) -> Output:
    from utilities.power.models import Transformer

    ids = _element(c, Transformer, None, "transformer", geom="hv_bus__geom")
    return Output(
        [{"type": "transformer_outage", "transformers": ids}], understood=["a transformer outage"]
    )


@intent(
    "line_outage",
    r"\b(power|electric\w*|overhead|cable|kv)\b.{0,20}\blines?\b.{0,30}\b(out|outage|fails?|failure|down|trips?|cut)\b",
)
def _line(c: Clause) -> Output:
    from utilities.power.models import Line

    ids = _element(c, Line, None, "line")
    return Output([{"type": "line_outage", "lines": ids}], understood=["a power line outage"])


# -- transit -----------------------------------------------------------------------------

LINE_ID = r"\b(?:line|route|bus|tram)\s+(?:no\.?\s*|number\s+)?([a-z]?\d+[a-z]?)\b"


@intent(
    "change_transit_line",
    rf"{LINE_ID}.{{0,40}}\b(every|headway|frequency|km/h|faster|slower)\b|\b(every|headway)\b.{{0,40}}{LINE_ID}",
)
def _change_line(c: Clause) -> Output:
    line = re.search(LINE_ID, c.text).group(1).upper()
    edit: dict = {"type": "change_transit_line", "line_id": line}
    m = re.search(rf"\bevery\s+({q.NUMBER})\s?(?:minutes?|mins?|min)\b", c.text) or re.search(
        rf"\bheadway\D{{0,10}}({q.NUMBER})\b", c.text)  # fmt: skip
    if m:
        edit["headway_min"] = q.number(m.group(1))
    speed = q.speed_kph(c.text)
    if speed is not None:
        edit["speed_kph"] = speed.value
    return Output([edit], understood=[f"line {line}: new timetable"])


@intent(
    "remove_transit_line",
    rf"\b(remove|cancel\w*|scrap|discontinue\w*|axe|stop running|withdraw)\b.{{0,30}}{LINE_ID}",
)
def _remove_line(c: Clause) -> Output:
    line = re.search(LINE_ID, c.text).group(1).upper()
    return Output(
        [{"type": "remove_transit_line", "line_id": line}], understood=[f"remove line {line}"]
    )


@intent(
    "add_transit_line",
    r"\b(new|add|build|open|introduce)\b.{0,30}\b(tram|bus|metro|light rail|trolleybus|ferry)\b( line| route)?",
)
def _add_line(c: Clause) -> Output:
    mode = c.has(r"\b(tram|bus|metro|ferry)\b").group(1)
    streets = c.places(ROAD)
    if streets and c.has(r"\b(along|on|down)\b"):
        street = c.one(streets[0], "street")
        route = spatial.street_line(c.city, street.ids)
        where = f"along {street.canonical or street.name}"
    else:
        ends = c.places(POINT_KINDS, after="from") or c.places(POINT_KINDS, after="between")
        if len(ends) < 2:
            raise NotUnderstood(
                "say where the line runs: along a street, or from a place to another"
            )
        a, b = c.one(ends[0], "place"), c.one(ends[1], "place")
        route = {
            "type": "LineString",
            "coordinates": [list(spatial.centre(a)), list(spatial.centre(b))],
        }
        where = f"from {a.canonical or a.name} to {b.canonical or b.name}"
    from simulators.transit import MODES

    edit: dict = {"type": "add_transit_line", "route": route}
    if mode in MODES:
        edit["mode"] = mode
    m = re.search(rf"\bevery\s+({q.NUMBER})\s?(?:minutes?|mins?|min)\b", c.text) or re.search(
        rf"\b({q.NUMBER})\s?(?:minutes?|mins?|min)\s+(?:headway|frequency|intervals?)\b|"
        rf"\b(?:headway|frequency|interval)\s+(?:of\s+)?({q.NUMBER})\s?(?:minutes?|mins?|min)\b",
        c.text,
    )
    if m:
        edit["headway_min"] = q.number(next(g for g in m.groups() if g))
    speed = q.speed_kph(c.text)
    if speed is not None:
        edit["speed_kph"] = speed.value
    return Output([edit], understood=[f"a new {mode} line {where}"])


def match(clause: Clause) -> Intent | None:
    """The first intent whose trigger the clause holds (registry order: specific first),
    read first in the clause without its place names ("close the road by the fire station"
    is a closure: "fire" is part of a name there), then in the whole clause ("km/h")."""
    own = {i for m in clause.mentions for i in range(m.start, m.end)}
    bare = " ".join(w for i, w in enumerate(clause.words) if i not in own)
    for text in (bare, clause.text):
        for item in INTENTS:
            if re.search(item.trigger, text):
                return item
    return None


#: the order intents are tried in: the most specific words first ("remove line 7" is a
#: transit edit, not a building's; "close valve V1" a water edit)
ORDER = (
    "water_pipe_break", "water_pump_out", "water_tank_out", "substation_outage",
    "transformer_outage", "line_outage", "change_transit_line", "remove_transit_line",
    "transit_lane", "add_transit_line", "shelter_siting", "add_shelter", "departure_profile", "hazard_zone",
    "water_demand_change", "power_demand_change", "demand_change", "add_road", "add_building",
    "remove_building", "close_road", "change_road", "heighten_building",
)  # fmt: skip
INTENTS.sort(key=lambda i: ORDER.index(i.name))

#: the simulator whose run shows an outage's consequences ("what if substation X fails?"): an
#: outage alone says nothing until the network is solved. Other edits get a run only when
#: their simulator is named ("what if trips grow 15%" is the edit alone).
CONSEQUENCE_SIMULATOR = {
    "water_pipe_break": "water", "water_pump_out": "water", "water_tank_out": "water",
    "substation_outage": "power_flow", "transformer_outage": "power_flow",
    "line_outage": "power_flow",
}  # fmt: skip
