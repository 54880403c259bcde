"""Run parameters from words, for every simulator, read off its parameter spec.

A simulator's spec (``GET /api/simulators/``: JSON Schema properties with ``title`` and
``x-unit``) says what each numeric parameter means and in which unit; a number said with a
unit ("over 72 hours", "15 min steps", "lines over 80 % counted as overloaded") is given to the
parameter whose unit fits and whose name or title shares a word with the words around the
number. No per-simulator code: a new simulator's parameters are read as soon as it declares
them. Pure functions of folded text (see :func:`.normalise.fold`).
"""

from __future__ import annotations

import re

from . import quantities as q

#: unit words -> (family, factor to the family's base unit: s for time, 1 for the others)
UNIT_WORDS = {
    "s": ("time", 1.0), "sec": ("time", 1.0), "secs": ("time", 1.0), "second": ("time", 1.0),
    "seconds": ("time", 1.0), "sekuntia": ("time", 1.0),
    "min": ("time", 60.0), "mins": ("time", 60.0), "minute": ("time", 60.0),
    "minutes": ("time", 60.0), "minuuttia": ("time", 60.0),
    "h": ("time", 3600.0), "hr": ("time", 3600.0), "hrs": ("time", 3600.0),
    "hour": ("time", 3600.0), "hours": ("time", 3600.0), "tuntia": ("time", 3600.0),
    "d": ("time", 86400.0), "day": ("time", 86400.0), "days": ("time", 86400.0),
    "vrk": ("time", 86400.0),
    "%": ("share", 1.0), "percent": ("share", 1.0), "per cent": ("share", 1.0),
    "prosenttia": ("share", 1.0),
    "m": ("length", 1.0), "metres": ("length", 1.0), "meters": ("length", 1.0),
    "metre": ("length", 1.0), "meter": ("length", 1.0), "km": ("length", 1000.0),
    "m/s": ("speed", 1.0), "eur": ("money", 1.0), "euros": ("money", 1.0),
    "kwp": ("kwp", 1.0),
}  # fmt: skip
#: a spec's ``x-unit`` -> (family, factor to the family's base unit)
SPEC_UNITS = {
    "s": ("time", 1.0), "min": ("time", 60.0), "h": ("time", 3600.0), "d": ("time", 86400.0),
    "%": ("share", 1.0), "m": ("length", 1.0), "m/s": ("speed", 1.0), "EUR": ("money", 1.0),
    "kWp": ("kwp", 1.0),
}  # fmt: skip
_UNIT = "|".join(sorted((re.escape(u) for u in UNIT_WORDS), key=len, reverse=True))
#: a number, its unit, and nothing word-like glued after the unit ("15 min", "72 hours",
#: "80 %", "15-minute"); "1 200" and "1,5" are read whole
_QUANTITY = re.compile(rf"(?<![\w.:])({q.NUMBER})[\s-]?({_UNIT})(?![\w/])")
#: words that say nothing about which parameter is meant
_STOP = {"the", "of", "a", "an", "to", "at", "in", "on", "with", "and", "for", "per", "by",
         "time", "share", "number", "is", "are", "be", "as", "run", "simulation"}  # fmt: skip
#: words that say a parameter's role without its name: the word -> words of names and titles
SYNONYMS = {
    "over": ("duration", "period", "horizon"), "lasting": ("duration", "period", "horizon"),
    "long": ("duration", "period", "horizon"), "during": ("duration", "period", "horizon"),
    "steps": ("step",), "timestep": ("step",), "interval": ("step",), "resolution": ("step",),
    "overloaded": ("overload",), "overloads": ("overload",), "loaded": ("overload",),
    "cells": ("cell",), "grid": ("cell",), "walk": ("walk", "walking", "access"),
    "walking": ("walk", "walking", "access"), "fare": ("fare",), "ticket": ("fare",),
    "boarding": ("boarding",), "history": ("history", "days"), "counts": ("history", "days"),
    "horizon": ("horizon",), "limit": ("limit",), "mobilisation": ("mobilisation",),
    "mobilization": ("mobilisation",),
}  # fmt: skip
#: how far around a number its words are read (characters)
WINDOW = 40


def _stemmed(word: str) -> str:
    return word[:6]


def _param_words(name: str, spec: dict) -> set[str]:
    """The distinctive words of a parameter's name and title, cut to their first 6 letters."""
    words = re.findall(r"[a-z]+", f"{name.replace('_', ' ')} {spec.get('title', '')}".lower())
    unit_words = {"h", "min", "s", "m", "d", "pct", "pu", "mva", "eur", "kwp", "mps", "kph"}
    return {_stemmed(w) for w in words if w not in _STOP and w not in unit_words and len(w) > 2}


def _said_words(text: str, offset: int) -> list[tuple[str, int]]:
    """The words of ``text`` (and the parameter words their synonyms stand for), each with
    its position (``offset`` + character index)."""
    out = []
    for m in re.finditer(r"[a-z]+", text):
        word = m.group(0)
        if word in _STOP:
            continue
        out.append((_stemmed(word), offset + m.start()))
        out.extend((_stemmed(s), offset + m.start()) for s in SYNONYMS.get(word, ()))
    return out


def quantities_with_units(text: str) -> list[tuple[float, str, float, tuple[int, int]]]:
    """Every number said with a unit: (value in the family's base unit, family, the number as
    said, span). "1 200" is one number; a time of day ("at 14:00") is no quantity."""
    text = re.sub(r"(?<=\d) (?=\d{3}\b)", "", text)
    out = []
    for m in _QUANTITY.finditer(text):
        family, factor = UNIT_WORDS[m.group(2)]
        said = q.number(m.group(1))
        out.append((said * factor, family, said, m.span()))
    return out


def numeric_params(spec: dict) -> dict[str, dict]:
    """The spec's properties that take a number with a unit the words can say."""
    out = {}
    for name, prop in (spec.get("properties") or {}).items():
        kind = prop.get("type")
        kinds = set(kind) if isinstance(kind, list) else {kind}
        if kinds & {"number", "integer"} and prop.get("x-unit") in SPEC_UNITS:
            out[name] = prop
    return out


def params_from_spec(spec: dict, text: str, taken: set[str] = frozenset()) -> dict:
    """Parameters of a simulator's ``spec`` (JSON Schema: properties with ``title`` and
    ``x-unit``) said in ``text`` as a number with its unit and a word of the parameter's name
    or title near it ("hydraulic simulation over 72 hours" -> ``duration_h: 72``; "15 min
    steps" -> ``step_min: 15``; "lines over 80 % counted as overloaded" ->
    ``overload_percent: 80``). Each number goes to the parameter named nearest to it (a
    number as near to two gives none), each parameter takes one number, in the parameter's
    unit; values out of the spec's bounds are kept for the spec to refuse in words.
    ``taken``: parameters already read another way (left alone)."""
    params = {n: p for n, p in numeric_params(spec).items() if n not in taken}
    # (distance from the number to the nearest word naming the parameter, quantity, name)
    pairs = []
    found = quantities_with_units(text)
    for index, (_value, family, _said, (start, end)) in enumerate(found):
        lo = max(0, start - WINDOW)
        said = _said_words(text[lo:start], lo) + _said_words(text[end : end + WINDOW], end)
        for name, prop in params.items():
            if SPEC_UNITS[prop["x-unit"]][0] != family:
                continue
            words = _param_words(name, prop)
            near = [min(abs(at - start), abs(at - end)) for word, at in said if word in words]
            if near:
                pairs.append((min(near), index, name))
    pairs.sort()
    out: dict = {}
    used: set[int] = set()
    for distance, index, name in pairs:
        if index in used or name in out:
            continue
        rivals = [n for d, i, n in pairs if i == index and d == distance and n != name]
        if any(n not in out for n in rivals):
            used.add(index)  # as near to two parameters: neither is meant for sure
            continue
        value = found[index][0] / SPEC_UNITS[params[name]["x-unit"]][1]
        kind = params[name].get("type")
        integer = kind == "integer" or (isinstance(kind, list) and "integer" in kind)
        out[name] = int(round(value)) if integer else _clean(value)
        used.add(index)
    return out


def _clean(value: float) -> float | int:
    value = round(value, 6)
    return int(value) if value == int(value) else value
