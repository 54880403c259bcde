"""Numbers, units, times and dates in plain words ("two lanes", "by 20%", "60 m", "500 metres",
"at 14:00", "on 21 March", "evening peak"). Pure functions of folded text (see
:func:`.normalise.fold`); every result carries its unit in its name."""

from __future__ import annotations

import re
from dataclasses import dataclass

WORD_NUMBERS = {
    "zero": 0, "one": 1, "a single": 1, "single": 1, "two": 2, "three": 3, "four": 4,
    "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11,
    "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100,
    "a hundred": 100, "one hundred": 100, "a thousand": 1000, "thousand": 1000,
    "half": 0.5, "double": 2, "twice": 2, "triple": 3,
}  # fmt: skip
_NUM_WORDS = "|".join(sorted((re.escape(w) for w in WORD_NUMBERS), key=len, reverse=True))
NUMBER = rf"(?:\d+(?:[.,]\d+)?|{_NUM_WORDS})"
MONTHS = {
    m: i + 1
    for i, names in enumerate(
        [("january", "jan", "tammikuu"), ("february", "feb", "helmikuu"),
         ("march", "mar", "maaliskuu"), ("april", "apr", "huhtikuu"), ("may", "toukokuu"),
         ("june", "jun", "kesakuu"), ("july", "jul", "heinakuu"), ("august", "aug", "elokuu"),
         ("september", "sep", "sept", "syyskuu"), ("october", "oct", "lokakuu"),
         ("november", "nov", "marraskuu"), ("december", "dec", "joulukuu")]
    )
    for m in names
}  # fmt: skip
_MONTH = "|".join(sorted(MONTHS, key=len, reverse=True))
#: named periods of the day: (start, end) local hours
PERIODS = {
    "morning peak": (7.0, 9.0), "morning rush": (7.0, 9.0), "rush hour": (16.0, 18.0),
    "evening peak": (16.0, 18.0), "evening rush": (16.0, 18.0), "afternoon peak": (15.0, 17.0),
    "pm peak": (16.0, 18.0), "am peak": (7.0, 9.0), "midday": (12.0, 13.0), "noon": (12.0, 13.0),
    "night": (2.0, 4.0), "morning": (8.0, 9.0), "evening": (17.0, 18.0),
}  # fmt: skip
_PERIOD = "|".join(sorted((re.escape(p) for p in PERIODS), key=len, reverse=True))
LENGTH_UNITS = {"m": 1.0, "meter": 1.0, "meters": 1.0, "metre": 1.0, "metres": 1.0,
                "metri": 1.0, "metria": 1.0, "km": 1000.0, "kilometer": 1000.0,
                "kilometers": 1000.0, "kilometre": 1000.0, "kilometres": 1000.0}  # fmt: skip
_LENGTH = "|".join(sorted(LENGTH_UNITS, key=len, reverse=True))


def number(word: str) -> float:
    """A number written in digits ("1,5" = 1.5) or in words ("two")."""
    word = word.strip()
    if word in WORD_NUMBERS:
        return float(WORD_NUMBERS[word])
    return float(word.replace(",", "."))


@dataclass(frozen=True)
class Found:
    """A quantity found in the text: its value and where it was (character span)."""

    value: float
    span: tuple[int, int]


def _all(pattern: str, text: str) -> list[re.Match]:
    return list(re.finditer(pattern, text))


def lengths_m(text: str) -> list[Found]:
    """Lengths with a unit: "500 m", "1.5 km", "sixty metres", "60m" (metres)."""
    out = []
    for m in _all(rf"\b({NUMBER})\s?({_LENGTH})\b", text):
        out.append(Found(number(m.group(1)) * LENGTH_UNITS[m.group(2)], m.span()))
    return out


#: words that make a length a zone's radius when they come just before or after it
_ZONE_WORDS = r"(?:radius|zone|area|circle|perimeter|cordon)"
#: how a radius is said, most explicit first (``L`` is a length with its unit)
_RADIUS_PATTERNS = (
    r"\b(?:within|in a radius of|radius of|in)\s+L",  # within 500 m
    r"L\s+(?:radius|around|of|from)\b",  # 500 m around X, a 500 m radius
    rf"L\s+(?:\w+\s+){{0,2}}{_ZONE_WORDS}\b",  # a 1 km hazard zone, a 300 m exclusion area
    rf"\b{_ZONE_WORDS}\s+(?:of\s+)?L",  # a hazard zone of 150 metres
    # evacuate 300 m, clear everyone up to 200 m, cordon off 100 m
    r"\b(?:evacuat\w*|clear|cordon(?: off)?|seal(?: off)?|close off)\s+(?:(?:everyone|everybody|"
    r"people|all|the area|an area|a|everything)\s+)?(?:(?:up to|for|out to)\s+)?L",
    r"\bup to\s+L",  # everyone up to 400 m away
    r"L\s+(?:sateella|sateelle|ymparilla|ymparille|ymparilta)\b",  # Finnish: 1 km säteellä
    r"L\s+(?:\w+\s+)?(?:ymparill\w*|ymparille)\b",  # 250 m Pääesikunnan ympärille
)


def radius_m(text: str) -> Found | None:
    """The radius of a zone: "within 500 m", "a 1 km hazard zone", "zone of 150 metres" (m)."""
    length = rf"({NUMBER})\s?({_LENGTH})\b"
    for pattern in _RADIUS_PATTERNS:
        m = re.search(pattern.replace("L", length), text)
        if m:
            return Found(number(m.group(1)) * LENGTH_UNITS[m.group(2)], m.span())
    return None


def storeys(text: str) -> Found | None:
    """ "20 storeys", "a 12-storey tower" (floors)."""
    m = re.search(rf"\b({NUMBER})[\s]?(?:storeys?|stories|story|floors?|levels?|kerrosta)\b", text)
    return Found(number(m.group(1)), m.span()) if m else None


#: words that make a relative change a decrease
_DOWN = (
    r"\b(cut|cuts|reduce|reduced|reduces|lower|lowered|decrease|decreased|decreases|fewer|less|"
    r"drop|drops|dropped|down|shrink|shrinks|minus|falls?|fell|vahemman)\b"
)


def percent_change(text: str) -> Found | None:
    """A relative change as a factor: "by 20%" up -> 1.2, "cut by 30 percent" -> 0.7,
    "halve" -> 0.5, "double" -> 2, "x1.5" / "1.5 times" -> 1.5; None when there is none."""
    m = re.search(rf"\b(?:by\s+)?({NUMBER})\s?(?:%|percent|per cent|prosenttia)", text)
    if m:
        share = number(m.group(1)) / 100.0
        before = text[max(0, m.start() - 60) : m.start()]
        after = text[m.end() : m.end() + 20]
        down = re.search(_DOWN, before + " " + after)
        return Found(round(1.0 - share if down else 1.0 + share, 6), m.span())
    m = re.search(r"\bby\s+(a|one|two)\s+(quarter|third|fifth|tenth)s?\b|\bby\s+(half)\b", text)
    if m:  # "cut by a quarter" -> 0.75, "grow by half" -> 1.5
        parts = {"quarter": 4, "third": 3, "fifth": 5, "tenth": 10}
        share = 0.5 if m.group(3) else (2 if m.group(1) == "two" else 1) / parts[m.group(2)]
        before = text[max(0, m.start() - 60) : m.start()]
        down = re.search(_DOWN, before + " " + text[m.end() : m.end() + 20])
        return Found(round(1.0 - share if down else 1.0 + share, 6), m.span())
    m = re.search(  # "scale all trips by 0.8", "multiply traffic by 1.5": the factor itself
        rf"\b(?:scal\w*|multipl\w*)\b.{{0,40}}?\bby\s+({NUMBER})\b(?!\s?(?:%|percent|per cent))",
        text,
    )
    if m:
        return Found(number(m.group(1)), m.span())
    m = re.search(rf"\b(?:x\s?|times\s)({NUMBER})\b|\b({NUMBER})\s?(?:x|times)\b", text)
    if m:
        return Found(number(m.group(1) or m.group(2)), m.span())
    for word, factor in (("halve", 0.5), ("half", 0.5), ("double", 2.0), ("triple", 3.0)):
        m = re.search(rf"\b{word}[sd]?\b", text)
        if m:
            return Found(factor, m.span())
    return None


#: hour words of spoken times ("half past four", "quarter to eight")
_HOUR_WORDS = {w: v for w, v in WORD_NUMBERS.items() if v == int(v) and 1 <= v <= 12
               and w not in ("double", "twice", "triple", "a single", "single")}  # fmt: skip
_HOUR = r"(\d{1,2}|" + "|".join(sorted(_HOUR_WORDS, key=len, reverse=True)) + r")"
#: words after an hour that put it in the afternoon or evening (12 h added below 12)
_LATE = r"(?:in the (?:afternoon|evening)|tonight|this (?:afternoon|evening)|pm|p\.m\.)"
_EARLY = r"(?:in the morning|this morning|am|a\.m\.)"


def _hour(word: str) -> int:
    return int(word) if word.isdigit() else int(_HOUR_WORDS[word])


def spoken_clock_h(text: str) -> Found | None:
    """A time of day said in words: "half past four in the afternoon" (16.5), "quarter to
    eight" (7.75), "four o'clock" / "4 o clock", "noon" (12), "midnight" (0) (local hours).
    An hour without "am/pm" or "in the afternoon/evening" is taken as said (1-12)."""
    m = re.search(
        rf"\b(half|quarter|(?:a )?quarter|\d{{1,2}}|twenty|ten|five)\s+(past|to|over)\s+{_HOUR}\b"
        rf"(?:\s+o'?\s?clock)?(\s+{_LATE}|\s+{_EARLY})?",
        text,
    )
    if m and (m.group(3).isdigit() is False or int(m.group(3)) <= 24):
        minutes = {"half": 30, "quarter": 15, "a quarter": 15, "twenty": 20, "ten": 10,
                   "five": 5}.get(m.group(1)) or int(m.group(1))  # fmt: skip
        hour = _hour(m.group(3))
        value = hour + minutes / 60.0 if m.group(2) != "to" else hour - minutes / 60.0
        if m.group(4) and re.search(_LATE, m.group(4)) and hour < 12:
            value += 12
        return Found(value % 24, m.span())
    m = re.search(rf"\b{_HOUR}\s+o'?\s?clock\b(\s+{_LATE}|\s+{_EARLY})?", text)
    if m:
        hour = _hour(m.group(1))
        late = m.group(2) and re.search(_LATE, m.group(2)) and hour < 12
        return Found(float(hour + 12 if late else hour), m.span())
    m = re.search(rf"\b(?:at\s+)?{_HOUR}\s+{_LATE}", text)
    if m and _hour(m.group(1)) <= 12:  # "at 4 in the afternoon", "at 10 tonight"
        hour = _hour(m.group(1))
        return Found(float(hour + 12 if hour < 12 else hour), m.span())
    m = re.search(r"\b(?:at\s+)?(noon|midday|midnight)\b", text)
    if m and not re.search(r"\bmidday\s+peak", text):
        return Found(0.0 if m.group(1) == "midnight" else 12.0, m.span())
    return None


def clock_h(text: str) -> Found | None:
    """A time of day in hours: "at 14:00", "at 2 pm", "14.30", "kello 8", "tonight at 22",
    "half past four in the afternoon" (local hours)."""
    spoken = spoken_clock_h(text)
    if spoken is not None:
        return spoken
    m = re.search(r"\b(?:at\s+|kello\s+|klo\s+)?(\d{1,2})[:.](\d{2})\b(?!\s?(?:m|km|%))", text)
    if m and int(m.group(1)) < 24 and int(m.group(2)) < 60:
        return Found(int(m.group(1)) + int(m.group(2)) / 60.0, m.span())
    m = re.search(r"\b(\d{1,2})\s?(am|pm|a\.m\.|p\.m\.)", text)
    if m and 1 <= int(m.group(1)) <= 12:
        hour = int(m.group(1)) % 12 + (12 if m.group(2).startswith("p") else 0)
        return Found(float(hour), m.span())
    m = re.search(r"\b(?:at|kello|klo)\s+(\d{1,2})\b(?!\s?(?:m\b|km|%|metre|meter|min|h\b))", text)
    if m and int(m.group(1)) < 24:
        return Found(float(m.group(1)), m.span())
    return None


def period_h(text: str) -> tuple[float, float, tuple[int, int]] | None:
    """A named period ("evening peak", "morning rush") or "from 7 to 9": (start, end, span)."""
    m = re.search(rf"\b({_PERIOD})\b", text)
    if m:
        start, end = PERIODS[m.group(1)]
        return start, end, m.span()
    m = re.search(
        r"\b(?:from|between)\s+(\d{1,2})(?::00)?\s*(?:to|and|-|until)\s+(\d{1,2})(?::00)?\b(?!\s?(?:m\b|km|%))",
        text,
    )
    if m is None:  # "saturday 10-16", "klo 10-16" (dashes are spaces once folded)
        m = re.search(
            r"\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|weekdays?|weekends?|"
            r"klo|kello)s?\s+(\d{1,2})(?::00)?\s*(?:to|until|-|\s)\s*(\d{1,2})(?::00)?\b"
            r"(?!\s?(?:m\b|km|%|:\d))",
            text,
        )
    if m and int(m.group(1)) < int(m.group(2)) <= 30:
        return float(m.group(1)), float(m.group(2)), m.span()
    return None


def date_iso(text: str, year: int) -> Found | None:
    """A date: "21 March", "March 21st", "21.3.", "2026-03-21", "midsummer", "equinox"
    (``value`` is unused: the ISO date is in :attr:`iso`)."""
    m = re.search(r"\b(\d{4})-(\d{2})-(\d{2})\b", text)
    if m:
        return DateFound(0.0, m.span(), f"{m.group(1)}-{m.group(2)}-{m.group(3)}")
    m = re.search(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({_MONTH})\b", text)
    if m:
        return DateFound(0.0, m.span(), f"{year}-{MONTHS[m.group(2)]:02d}-{int(m.group(1)):02d}")
    m = re.search(rf"\b({_MONTH})\s+(\d{{1,2}})(?:st|nd|rd|th)?\b", text)
    if m:
        return DateFound(0.0, m.span(), f"{year}-{MONTHS[m.group(1)]:02d}-{int(m.group(2)):02d}")
    m = re.search(r"\b(\d{1,2})\.(\d{1,2})\.(?!\d)", text)
    if m and 1 <= int(m.group(2)) <= 12:
        return DateFound(0.0, m.span(), f"{year}-{int(m.group(2)):02d}-{int(m.group(1)):02d}")
    for words, md in (
        (r"midsummer|summer solstice|juhannus", "06-21"),
        (r"winter solstice|shortest day", "12-21"),
        (r"spring equinox|vernal equinox|equinox", "03-20"),
        (r"autumn equinox|autumnal equinox", "09-22"),
    ):
        m = re.search(rf"\b(?:{words})\b", text)
        if m:
            return DateFound(0.0, m.span(), f"{year}-{md}")
    return None


@dataclass(frozen=True)
class DateFound(Found):
    iso: str = ""


def minutes(text: str) -> Found | None:
    """A duration in minutes: "after 10 minutes", "in 15 min", "1 hour" (min)."""
    m = re.search(rf"\b({NUMBER})\s?(?:minutes?|mins?|min)\b", text)
    if m:
        return Found(number(m.group(1)), m.span())
    m = re.search(rf"\b({NUMBER}|an|one)\s?(?:hours?|h)\b", text)
    if m:
        value = 1.0 if m.group(1) in ("an", "one") else number(m.group(1))
        return Found(60.0 * value, m.span())
    return None


def speed_kph(text: str) -> Found | None:
    """A speed: "30 km/h", "to 40 kph", "40 kmh" (km/h)."""
    m = re.search(
        rf"\b({NUMBER})\s?(?:km\s?/\s?h|kph|kmh|km h|kilometres per hour|kilometers per hour)",
        text,
    )
    return Found(number(m.group(1)), m.span()) if m else None


def count_of(noun: str, text: str) -> Found | None:
    """ "two lanes", "3 lanes", "a lane" -> the count before ``noun`` (a regex)."""
    m = re.search(rf"\b({NUMBER}|an?)\s+(?:\w+\s+)?(?:{noun})\b", text)
    if not m:
        return None
    word = m.group(1)
    return Found(1.0 if word in ("a", "an") else number(word), m.span())


def capacity_of(text: str) -> Found | None:
    """ "for 500 people", "a 250-person shelter", "capacity 2000", "capacity 1 200",
    "room for 800", "2,000 places", "holding 700", "(a shelter at X) for 1500" (persons)."""
    t = re.sub(r"(\d)[, ](\d{3})\b", r"\1\2", text)  # "2,000", "1 200"
    m = re.search(
        rf"\b({NUMBER})[\s-]*(?:people|ppl|persons?|places?|evacuees|beds?|seats?|residents)\b", t
    )
    if not m:
        m = re.search(rf"\b(?:capacity|room|space)(?:\s+(?:of|for))?\s+({NUMBER})\b", t)
    if not m:  # "a shelter for 400", "... at X holding 700", "sleeping 300": its people
        m = re.search(
            r"\b(?:for|holding|holds|hold|housing|houses|taking|takes|accommodating|"
            r"sleeping|sleeps|fitting|fits|seating|seats)\s+(?:up to\s+|about\s+|some\s+)?"
            r"(\d+)\b(?![.,:]\d|\s?(?:%|percent|k?m\b|min|minutes?|hours?|h\b|met|days?|"
            r"weeks?|years?|km/h|veh|vehicles?|cars?|lanes?|storeys?|floors?|o'?\s?clock|am|pm))",
            t,
        )
    return Found(number(m.group(1)), m.span()) if m else None


_FOOT = r"(?:on foot|walk|walks|walking|by foot|afoot|pedestrians?)"


def walking_share(text: str) -> float | None:
    """The share of evacuees on foot: "on foot", "everyone walks" -> 1.0; "30% on foot",
    "half walk", "a third walking" -> 0.3, 0.5, 0.333 (a fraction of 1); None when unsaid."""
    m = re.search(
        rf"\b({NUMBER})\s?(?:%|percent|per cent)\s+(?:of\s+\w+\s+)?(?:\w+\s+)?{_FOOT}\b", text
    )
    if m:
        return min(1.0, number(m.group(1)) / 100.0)
    m = re.search(
        rf"\b(half|a third|one third|a quarter|one quarter)\s+(?:of\s+\w+\s+)?(?:\w+\s+)?{_FOOT}\b",
        text,
    )
    if m:
        return {"half": 0.5, "a third": 0.333, "one third": 0.333, "a quarter": 0.25,
                "one quarter": 0.25}[m.group(1)]  # fmt: skip
    if re.search(rf"\b{_FOOT}\b", text):
        return 1.0
    return None


def capacity_veh_h(text: str) -> Found | None:
    """An absolute road capacity: "800 veh/h", "1,200 vehicles per hour", "capacity to 900"
    (vehicles per hour; a bare number only after "capacity ... to/of/at")."""
    t = re.sub(r"(\d),(\d{3})\b", r"\1\2", text)
    m = re.search(
        rf"\b({NUMBER})\s?(?:veh\s?/\s?h(?:our)?|vehicles?\s?/\s?h(?:our)?|vph|pcu\s?/\s?h|"
        rf"(?:vehicles|cars|veh|pcu) (?:per|an|a) hour|(?:vehicles|cars) hourly)",
        t,
    )
    if m is None:
        m = re.search(
            rf"\bcapacity\b.{{0,40}}?\b(?:to|of|at|=)\s+({NUMBER})\b(?!\s?(?:%|percent|per cent|x\b|times))",
            t,
        )
        if m is not None and number(m.group(1)) < 50:  # "to 2 lanes", "to 3x": not veh/h
            m = None
    return Found(number(m.group(1)), m.span()) if m else None
