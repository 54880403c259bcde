"""No simulator or edit-type branching outside the registries.

Adding a capability must be one package: a comparison with a simulator's or an edit type's
name anywhere else in the backend means its knowledge leaks out of the registry.
"""

from __future__ import annotations

import re
from pathlib import Path

from citytwin.scenarios import capabilities, edits

ROOT = Path(__file__).resolve().parents[2]
BACKEND = ("citytwin", "layers", "ogc")
#: the registries themselves (where each name is declared once)
ALLOWED = (
    "citytwin/scenarios/capabilities/",
    "citytwin/scenarios/edit_types/",
    "citytwin/scenarios/edits.py",
    # the assistant's vocabularies: the words that name each edit type and simulator (a registry
    # of phrasings, one intent per edit type; docs/assistant.md)
    "citytwin/assistant/",
    "/migrations/",
)
_LIT = r"""\s*["']"""
_IN = r"""\s+in\s*[(\[{]\s*["']"""
#: a simulator tested against a literal, even a name not registered yet
ON_SIMULATOR = re.compile(rf"""\bsimulator(?:{_IN}|\s*[!=]={_LIT})""")
#: an edit's type tested against a literal (in the twin's app; OSM tags have a "type" too)
ON_EDIT_TYPE = re.compile(
    rf"""(?:\[["']type["']\]|\.get\(["']type["']\))(?:{_IN}|\s*[!=]={_LIT})"""
)


def registered_literal(names) -> re.Pattern:
    """A registered name as a whole string literal: compared, listed in a tuple, or passed to
    a helper that filters on it (``edits_of(edits, "close_road")``) all leak the knowledge."""
    return re.compile(rf"""["'](?:{"|".join(map(re.escape, names))})["']""")


def _backend_sources() -> list[tuple[str, str]]:
    out = []
    for package in BACKEND:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if not any(allowed in f"/{rel}" for allowed in ALLOWED):
                out.append((rel, path.read_text()))
    return out


def _offences(pattern: re.Pattern, sources) -> list[str]:
    return [
        f"{rel}:{text.count(chr(10), 0, m.start()) + 1}: {m.group(0)}"
        for rel, text in sources
        for m in pattern.finditer(text)
    ]


#: simulator names that are also words of the twin's data (OSM natural=water, the utility
#: network "water", the area kind "water"): a bare literal of them is data, not a branch; a
#: comparison with ``simulator`` is still caught by ON_SIMULATOR
DATA_WORDS = {"water"}


def _names() -> list[str]:
    sims = [name for name in capabilities.names() if name not in DATA_WORDS]
    return [*sims, *(kind.type for kind in edits.all_edit_types())]


def test_no_branching_on_simulator_or_edit_type_names_outside_the_registries():
    sources = _backend_sources()
    assert len(sources) > 50  # the scan sees the backend
    assert not any(rel.startswith("citytwin/scenarios/capabilities/") for rel, _ in sources)
    twin = [(rel, text) for rel, text in sources if rel.startswith("citytwin/")]
    offences = (
        _offences(registered_literal(_names()), sources)
        + _offences(ON_SIMULATOR, sources)
        + _offences(ON_EDIT_TYPE, twin)
    )
    assert offences == [], "\n".join(offences)


def test_the_scan_catches_a_new_branch():
    sample = [
        (
            "x.py",
            'if simulator == "noise":\n'
            "    pass\n"
            'if e["type"] in ("pipe_break", "valve"):\n'
            "    pass\n"
            'if kind == "close_road":\n'
            "    pass\n"
            "ok = run.simulator != base.simulator\n"
            'for edit in edits_of(edits, "hazard_zone"):\n'
            "    pass\n",
        )
    ]
    assert len(_offences(ON_SIMULATOR, sample)) == 1
    assert len(_offences(ON_EDIT_TYPE, sample)) == 1
    assert len(_offences(registered_literal(_names()), sample)) == 2
