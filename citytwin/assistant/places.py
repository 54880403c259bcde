"""Place resolution: the twin's names (:mod:`layers.gazetteer`) found inside free text,
forgiving case, diacritics, Finnish inflection ("Mannerheimintiellä", "Kampissa") and small
typos; names that fit several places become a question with candidates."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from layers import gazetteer
from layers.gazetteer import Place

from .normalise import _DOUBLE, fold, stem, stem_key, tokens

#: the longest name looked for, in words
MAX_WORDS = 5
#: a typo is forgiven above this similarity (rapidfuzz ratio, 0-100) for words this long
FUZZY_SCORE = 85
FUZZY_MIN_CHARS = 6
#: English words that begin or end a place phrase but are no part of a name
NOISE = {"the", "street", "road", "avenue", "st", "rd"}
#: common words that may still be part of a name said in part ("central station")
PARTIAL_OK = {
    "central",
    "station",
    "railway",
    "main",
    "market",
    "library",
    "cathedral",
    "theatre",
    "museum",
    "church",
    "hall",
    "bank",
    "university",
    "park",
    "square",
}
#: kinds of place, in the order a mention is read (a street before a building of one name)
KIND_ORDER = {"street": 0, "area": 1, "facility": 2, "building": 3, "address": 4}
#: words the assistant knows as commands or quantities; never read as a place name
COMMON = set(
    """a an the and or of to in on at by for from with without near around between within
    north south east west of close closed closing shut block blocked open reopen change set make
    add build put remove demolish tear down raise heighten lower taller higher tower building
    buildings shelter shelters hazard zone evacuate evacuation lane lanes speed limit road roads
    street streets run simulate traffic solar sun shadow shadows water power what how many much
    which where when is are was were be if would will does do did it its this that these those
    all every each people residents jobs workers count number total peak morning evening
    station central corner side m km metres meters percent more less fewer demand trips cars
    bus tram metro line lines new give me show tell us i we you please can could should
    after before during minutes minute hours hour day today tomorrow fire fires gas leak spill
    flood flooding smoke bomb threat explosion chemical toxic substation substations
    transformer pipe pipes main mains breaks burst fails fail calibrate calibrated
    calibration counters counts roofs roof rooftop rooftops panels best first serve serves
    open sites site siting capacity vehicles hour saturday sunday weekend walk walks foot
    everyone everybody""".split()
)


@dataclass
class Mention:
    """Words ``start:end`` of the text that name ``places`` (best first); ``exact`` when no
    typo was forgiven."""

    start: int
    end: int
    words: str
    places: list[Place]
    exact: bool = True

    @property
    def place(self) -> Place:
        return self.places[0]

    def distinct(self) -> list[Place]:
        """The places meant, one per thing (aliases of one street are one; two areas or
        facilities of one name, such as Helsinki's two "Vuohi", are two)."""
        seen, out = set(), []
        for p in self.places:
            key = (p.kind, p.canonical or p.name)
            if p.kind in SEPARATE_KINDS and not p.canonical:
                key = (*key, p.bbox)
            if key not in seen:
                seen.add(key)
                out.append(p)
        return out


#: kinds whose places of one name are separate things (a street's parts are one street; the
#: buildings of one name are one complex, see spatial.buildings_of)
SEPARATE_KINDS = ("area", "facility")


class Index:
    """The stem keys of a city's gazetteer (built once per gazetteer)."""

    def __init__(self, names: gazetteer.Gazetteer):
        self.gazetteer = names
        self.by_stem: dict[str, list[Place]] = {}
        self.words: dict[str, set[str]] = {}  # single words of names -> their stem keys
        for place in names.places:
            words = [w for w in tokens(place.name) if w]  # as the text is read
            if not words:
                continue
            key = stem_key(words)
            self.by_stem.setdefault(key, []).append(place)
        for places in self.by_stem.values():
            # a thing's own name before another's alias of that spelling (gazetteer.ALIAS_RANK)
            places.sort(key=lambda p: (KIND_ORDER.get(p.kind, 9), p.alias_rank))
        self.keys = list(self.by_stem)

    def lookup(self, words: list[str]) -> list[Place]:
        return self.by_stem.get(stem_key(words), [])

    def fuzzy(self, words: list[str]) -> list[Place]:
        """Places whose key is a close spelling of ``words`` (a typo or two)."""
        from rapidfuzz import fuzz, process

        key = stem_key(words)
        if len(key) < FUZZY_MIN_CHARS:
            return []
        hits = process.extract(key, self.keys, scorer=fuzz.ratio, score_cutoff=FUZZY_SCORE, limit=5)
        if not hits:
            return []
        best = hits[0][1]
        out: list[Place] = []
        for k, score, _ in hits:
            if score >= best - 0.5:
                out.extend(self.by_stem[k])
        return out

    def containing(self, word: str) -> list[Place]:
        """Places one of whose words contains ``word`` ("esplanadi" in Pohjoisesplanadi and
        Eteläesplanadi): the candidates of a partial name."""
        w = fold(word)
        if len(w) < 5:
            return []
        s = stem(w)
        out = []
        for key, places in self.by_stem.items():
            if any(s in part for part in key.split()):
                out.extend(places)
        return out

    def all_words(self, words: list[str]) -> list[Place]:
        """Places whose name holds every word of ``words`` (by stem, in any order):
        "central station" in "Helsinki Central Railway Station"."""
        # a key keeps its words but the last as written (doubles single): match either form
        forms = [{stem(w), _DOUBLE.sub(r"\1", w)} for w in words]
        out = []
        for key, places in self.by_stem.items():
            parts = key.split()
            if all(any(part.startswith(f) for part in parts for f in fs) for fs in forms):
                out.extend(places)
        return out


_indexes: dict[int, tuple[int, Index]] = {}
_lock = threading.Lock()


def index_for(city) -> Index:
    """The place index of ``city`` (rebuilt with its gazetteer)."""
    names = gazetteer.for_city(city)
    with _lock:
        cached = _indexes.get(city.pk)
        if cached is not None and cached[0] == id(names):
            return cached[1]
    index = Index(names)
    with _lock:
        _indexes[city.pk] = (id(names), index)
    return index


def find_mentions(index: Index, words: list[str]) -> list[Mention]:
    """Every place named in ``words`` (folded tokens), longest names first, not overlapping."""
    taken = [False] * len(words)
    found: list[Mention] = []
    for exact in (True, False):
        for size in range(min(MAX_WORDS, len(words)), 0, -1):
            for start in range(0, len(words) - size + 1):
                end = start + size
                if any(taken[start:end]):
                    continue
                chunk = words[start:end]
                if chunk[0] in NOISE or chunk[-1] in NOISE or not chunk[-1].isalpha():
                    continue
                if size == 1 and (chunk[0] in COMMON or len(chunk[0]) < 4):
                    continue
                if not exact and all(w in COMMON for w in chunk):
                    continue
                places = index.lookup(chunk) if exact else index.fuzzy(chunk)
                if places:
                    found.append(Mention(start, end, " ".join(chunk), places, exact))
                    for i in range(start, end):
                        taken[i] = True
    # names said in part: "the central station", "railway station" (every word in one name)
    for size in range(min(3, len(words)), 1, -1):
        for start in range(0, len(words) - size + 1):
            end = start + size
            chunk = words[start:end]
            if any(taken[start:end]) or chunk[0] in NOISE or not all(w.isalpha() for w in chunk):
                continue
            if all(w in COMMON and w not in PARTIAL_OK for w in chunk) or max(map(len, chunk)) < 5:
                continue
            places = index.all_words(chunk)
            mention = Mention(start, end, " ".join(chunk), places, False)
            if places and len(mention.distinct()) <= 3:
                found.append(mention)
                for i in range(start, end):
                    taken[i] = True
    return sorted(found, key=lambda m: m.start)
