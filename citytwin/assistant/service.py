"""The assistant: text -> what the twin understood (validated edits, a run request, an
answer, or a question back), and the confirmation that applies it.

Nothing is stored by :func:`understand`; :func:`confirm` applies the edits of a signed,
short-lived token through the scenario services (the same validation as every other edit).
"""

from __future__ import annotations

import datetime as dt
import re

from django.core import signing

from citytwin.scenarios import capabilities
from citytwin.scenarios.edits import EditRejected, edit_type, validate_edits

from . import quantities as q
from . import runparams
from .intents import (
    CONSEQUENCE_SIMULATOR,
    Clarify,
    Clause,
    NoAmount,
    NotUnderstood,
    Output,
    match,
)
from .normalise import MAX_TEXT_BYTES, fold, injection, tokens, unsupported
from .places import Mention, find_mentions, index_for
from .questions import detect

#: a confirm token is valid this long (s)
TOKEN_MAX_AGE_S = 15 * 60
TOKEN_SALT = "citytwin.assistant.confirm"


class AssistantRejected(Exception):
    """Bad input to the assistant: a 4xx naming the field."""

    def __init__(self, field: str, message: str, status: int = 400):
        super().__init__(f"{field}: {message}")
        self.field, self.message, self.status = field, message, status

    def api_error(self) -> tuple[dict, int]:
        return {"error": f"{self.field}: {self.message}", "field": self.field}, self.status


def check_text(text) -> str:
    """The text, or AssistantRejected: not a string, empty, too long, or an attempt to make
    the assistant do something else (nothing is parsed then)."""
    if not isinstance(text, str):
        raise AssistantRejected("text", "must be a string")
    if not text.strip():
        raise AssistantRejected("text", "is empty: say what to change or ask a question")
    size = len(text.encode("utf-8"))
    if size > MAX_TEXT_BYTES:
        raise AssistantRejected(
            "text", f"is {size:,} bytes; the assistant reads at most {MAX_TEXT_BYTES:,}", 413
        )
    found = injection(text)
    if found:
        raise AssistantRejected(
            "text",
            f"{found!r} asks for something else than scenario edits, runs or questions about "
            "the twin; nothing was changed",
        )
    return text


# -- clauses -----------------------------------------------------------------------------

_VERBS = (
    r"close|shut|block|add|build|construct|erect|put|open|remove|demolish|tear|raise|heighten|"
    r"reduce|increase|cut|double|halve|lower|set|make|evacuate|run|simulate|then|how|what|"
    r"which|when|where|compare|give|take|burst|break|introduce|scrap|cancel|show"
)
_SPLIT = re.compile(
    rf"\s*(?:[;?!]|\.(?=\s|$)|,?\s+and\s+(?=(?:then\s+)?(?:{_VERBS})\b)|,\s+(?=(?:{_VERBS})\b)|\s+then\s+)\s*"
)


#: command words a typo of is read as the word ("clsoe", "evacaute", "demolsh")
TYPO_TARGETS = (
    "close", "closed", "evacuate", "demolish", "remove", "reduce", "increase", "decrease",
    "build", "construct", "simulate", "calibrate", "shelter", "shelters", "capacity", "hazard",
    "building", "traffic", "evacuation", "pedestrianise",
)  # fmt: skip
TYPO_SCORE = 80.0


def fix_typos(folded: str, index) -> str:
    """``folded`` with misspelt command words put right (rapidfuzz ratio >= 80 to one of
    :data:`TYPO_TARGETS`); words the assistant knows, numbers and place names are kept."""
    from rapidfuzz import fuzz, process

    from .intents import _VOCABULARY
    from .places import COMMON

    def fix(m: re.Match) -> str:
        word = m.group(0)
        if len(word) < 5 or word in _VOCABULARY or word in COMMON or index.lookup([word]):
            return word
        hit = process.extractOne(word, TYPO_TARGETS, scorer=fuzz.ratio, score_cutoff=TYPO_SCORE)
        return hit[0] if hit else word

    return re.sub(r"[a-z]+", fix, folded)


def clauses_of(text: str) -> list[str]:
    """The text in clauses: sentences, and "..., and add ..." joins of commands."""
    folded = fold(text)
    folded = re.sub(r"\b(close to|next to|close by|by the side of|beside)\b", "near", folded)
    folded = re.sub(r"\b(\d+)\s*k(?=\s|$)", r"\g<1>000", folded)
    # "between" in Finnish, Swedish and Catalan ("sulje X välillä A - B", "mellan A och B")
    folded = re.sub(r"\b(valilla|mellan|entre)\b", "between", folded)
    folded = re.sub(r"\b(between \S+(?: \S+)?) (och|i|ja)\b", r"\1 and", folded)
    marked = re.sub(r"\?", "? ", folded)
    parts = [p.strip() for p in _SPLIT.split(marked) if p and p.strip()]
    # a clause keeps its question mark for the question detector
    out = []
    for p in parts:
        out.append(p)
    if "?" in folded and out:
        out[-1] = out[-1] + " ?"
    return out


# -- runs --------------------------------------------------------------------------------

RUN_WORDS = (
    r"\b(run|rerun|simulate|simulation|model|compute|calculate|assign|how does|how do|how will|"
    r"how would|what happens|what would|effect|impact|see how|check|where are|show me|"
    r"change|calibrate|analy[sz]\w*|assess\w*|test|optimi[sz]\w*|rank\w*|prioriti[sz]\w*|show|"
    r"looks? like|miten|mita jos|vaikut\w*|hur (paverkas|blir|andras)|vad hander|com afecta)\b"
)
#: simulator -> words that name it (the first match wins; a simulator the twin does not have
#: registered is skipped). "calibrated demand" is traffic's parameter, not a calibration run.
SIMULATOR_WORDS = {
    "power_criticality": r"\b(n ?1|criticality|contingenc\w*)\b",
    "power_flow": r"\b(power flow|load flow|power grid|electricity grid|grid|power cut|blackout|"
    r"who loses (power|electricity))\b",
    "calibration": r"\b(calibrat(e|es|ing|ion)|match the counts?|fit\w* to the counts?)\b|"
    r"\b(to|against|with) the (traffic )?(counts|counters|counting stations|sensors|"
    r"loop detectors)\b(?!.*\bcalibrated\b)",
    "water": r"\b(water supply|water network|hydraulic\w*|water pressure|water run|"
    r"who loses water|without water|water service|water (simulation|model|analysis|system|"
    r"distribution)|epanet)\b",
    "transit": r"\b(transit|public transport|mode choice|mode shares?|ridership|accessibility)\b",
    "road_upgrades": r"\b(which|what) (roads?|streets?|links?|bridges?)\b.{0,40}\b(strengthen\w*|"
    r"upgrad\w*|widen\w*|improv\w*|invest\w*|reinforc\w*|fix|priorit\w*)|\b(road|street|link) "
    r"upgrades?\b|\bupgrad\w* (which|what) roads?\b",
    "pv_roofs": r"\b(roofs?|rooftops?)\b.{0,50}\b(best|first|top|rank\w*|priorit\w*|most suitable|"
    r"suit\w*|should)\b|\b(best|which|top|rank\w*|priorit\w*|first)\b.{0,40}\b(roofs?|rooftops?)\b|"
    r"\bwhere\b.{0,30}\bsolar panels?\b",
    "evacuation": r"\b(evacuat\w*|bottlenecks?|clearance)\b",
    "solar": r"\b(sun|solar|shadows?|shade|daylight|sunlight|pv)\b",
    "traffic": r"\b(traffic|congestion|congested|peak|rush|travel times?|delays?|cars|jams?|"
    r"liikenne|liikenteen|liikenteeseen|ruuhk\w*|trafiken)\b",
}
#: words that ask for the consequences of an edit: its own simulator's run when none is named
CONSEQUENCES = (
    r"\b(what if|what happens|what would|how (does|do|will|would|bad)|impacts?|"
    r"effects?|consequences?|simulate|who (loses|is affected|would lose)|affected)\b"
)
#: questions about a run's results, and the simulator whose run answers them
QUESTION_SIMULATOR = {"sun_loss": "solar", "congested": "traffic", "evacuated_90": "evacuation",
                      "shelters": "evacuation"}  # fmt: skip
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _simulator_named(text: str) -> str | None:
    """The registered simulator the words of ``text`` name (None when none)."""
    registered = set(capabilities.names())
    for name, pattern in SIMULATOR_WORDS.items():
        if name in registered and re.search(pattern, text):
            return name
    return None


def run_params(simulator: str, text: str, year: int) -> dict:
    """Run parameters said in the text ("evening peak", "on 21 March", "for 48 hours")."""
    params: dict = {}
    period = q.period_h(text)
    clock = q.clock_h(text)
    spec = capabilities.get(simulator).parameters_schema()
    properties = spec.get("properties") or {}
    if "time_of_day_h" in properties:
        if clock is not None:
            params["time_of_day_h"] = round(clock.value, 2)
        elif period is not None:
            params["time_of_day_h"] = float(int((period[0] + period[1]) / 2))
    if simulator == "traffic" and re.search(
        r"\bcalibrated\b|\b(with|using|from) (the )?calibration\b", text
    ):
        params["demand"] = "calibrated"
    if "start_h" in properties and "end_h" in properties:
        if period is not None:
            params["start_h"], params["end_h"] = period[0], period[1]
    if "day" in properties:
        day = re.search(rf"\b({'|'.join(WEEKDAYS)})s?\b", text)
        if day:
            params["day"] = day.group(1)
        elif re.search(r"\b(weekends?)\b", text):
            params["day"] = "saturday"
    if simulator == "solar":
        date = q.date_iso(text, year)
        if date is not None:
            params["date"] = date.iso
        if re.search(r"\b(pv|photovoltaic|solar panels?|rooftop)\b", text):
            params["pv"] = True
    if simulator == "pv_roofs":
        top = re.search(rf"\b(?:top|best|first)\s+({q.NUMBER})\b", text) or re.search(
            rf"\b({q.NUMBER})\s+(?:best\s+|most suitable\s+)?(?:roofs?|rooftops?|buildings)\b", text
        )
        if top:
            params["top_n"] = int(q.number(top.group(1)))
    if simulator == "water":
        m = re.search(rf"\bfor\s+({q.NUMBER})\s?(hours?|h|days?)\b", text) or re.search(
            rf"\b({q.NUMBER})[\s-]?(hours?|h|days?)\s+(?:\w+\s+)?(?:water|simulation|run|model)",
            text,
        )
        if m:
            params["duration_h"] = q.number(m.group(1)) * (24 if m.group(2).startswith("d") else 1)
    if simulator == "evacuation":
        share = q.walking_share(text)
        if share is not None:
            params["share_walking"] = share
    # every other number said with its unit, given to the parameter its words name
    params.update(runparams.params_from_spec(spec, text, taken=set(params)))
    return params


def detect_run(text: str, edits_run: dict | None, asked: bool) -> dict | None:
    """The run the text asks for: the simulator its words name (an evacuation clause names
    its own); None when no run is asked. A run an intent decided on (a shelter siting, the
    flow after an outage) is kept as it is."""
    if edits_run is not None and edits_run.get("decisive"):
        return edits_run
    if not asked and edits_run is None:
        return None
    if not asked and not re.search(RUN_WORDS, text) and not (edits_run and edits_run["params"]):
        return None  # an edit's run parameter ("at 14:00") asks for its run
    named = _simulator_named(text)
    if named is not None:
        return {"simulator": named, "params": {}}
    return edits_run


# -- the whole request -------------------------------------------------------------------


def _describe(city, edits: list[dict], normalised: list[dict]) -> list[str]:
    return [edit_type(e["type"]).describe(city, e) for e in normalised]


def preview(city, normalised: list[dict]) -> dict:
    """What the edits touch, as GeoJSON (lon/lat) with a label in words each."""
    import json

    from django.contrib.gis.db.models import Collect

    from layers.models import Building, RoadEdge

    features = []
    for index, edit in enumerate(normalised):
        kind = edit_type(edit["type"])
        geometry = kind.geometry(edit)
        if geometry is None:
            ids = edit.get("edge_ids") or edit.get("resolved_edge_ids")
            model, field_name = (RoadEdge, "geom") if ids else (Building, "footprint")
            ids = ids or edit.get("building_ids")
            if ids:
                geom = model.objects.filter(city=city, pk__in=ids).aggregate(g=Collect(field_name))[
                    "g"
                ]
                geometry = json.loads(geom.geojson) if geom is not None else None
        features.append(
            {
                "type": "Feature",
                "geometry": geometry,
                "properties": {
                    "index": index,
                    "type": edit["type"],
                    "label": kind.describe(city, edit),
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


def _empty(understood: list[str], answer: str | None = None, clarify: dict | None = None) -> dict:
    return {"understood": understood, "edits": [], "preview": {"type": "FeatureCollection", "features": []},
            "run": None, "answer": answer, "clarify": clarify, "confirm_token": None}  # fmt: skip


def parse(city, text: str, user=None, scenario=None) -> dict:
    """What the text asks: ``{"edits", "run", "questions", "understood", "notes"}`` (edits not
    yet validated); raises Clarify or NotUnderstood."""
    index = index_for(city)
    year = dt.date.today().year
    edits: list[dict] = []
    understood: list[str] = []
    notes: list[str] = []
    questions: list[tuple[Clause, dict]] = []
    edits_run = None
    default_run: str | None = None
    last_notes: list[str] = []
    run_asked = False
    folded = fold(text)
    previous: list[Mention] = []
    base = list(scenario.edits) if scenario is not None else []
    for part in clauses_of(text):
        part = fix_typos(part, index)
        words = tokens(part)
        mentions = find_mentions(index, words)
        carried = False
        if not mentions and previous:
            # "fire at Sanomatalo, evacuate 250 m around it": the place of the clause before
            mentions = [Mention(0, 0, m.words, m.places, m.exact) for m in previous]
            carried = True
        previous = mentions or previous
        clause = Clause(city, text, part, words, mentions, index, year, carried=carried,
                        before=list(edits), base_edits=base)  # fmt: skip
        intent = match(clause)
        asks = "?" in part or re.match(
            r"(which|how many|when|where|what is|what are|are (any|there|all)|is (any|there)|"
            r"does|do any|has|have any)\b",
            part,
        )
        question = detect(clause, alone=intent is None) if (intent is None or asks) else None
        if question is not None:
            questions.append((clause, question))
            understood.append(f"question: {question['kind'].replace('_', ' ')}")
            continue
        if intent is None:
            if re.search(RUN_WORDS, part) or re.search(r"\b(run|simulate)\b", part):
                run_asked = True
            continue
        try:
            out: Output = intent.build(clause)
        except NoAmount:
            # "calibrate the demand to the counters": no edit is meant when the clause names a
            # simulator and gives no amount for the edit; a run is (an unknown place or
            # element is still said: "pipe P1 bursts" with no pipe P1 is no water run)
            if _simulator_named(part) is None:
                raise
            run_asked = True
            continue
        if out.replace_last and edits:
            edits.pop()  # the clause restates the zone of the clause before, now with its size
            notes = [n for n in notes if n not in last_notes]
        edits.extend(out.edits)
        understood.extend(out.understood)
        notes.extend(out.notes)
        last_notes = out.notes
        run_asked = run_asked or out.asks_run
        if out.run is not None and not (edits_run or {}).get("decisive"):
            edits_run = out.run
        default_run = default_run or out.default_run or CONSEQUENCE_SIMULATOR.get(intent.name)
    named = _simulator_named(folded)
    asked = [
        QUESTION_SIMULATOR[qq["kind"]] for _, qq in questions if qq["kind"] in QUESTION_SIMULATOR
    ]
    if edits and asked:
        # "a 60 m tower at ...; which buildings lose sun on 21 March?": the edits are new, so
        # the answer needs a run of them first
        run_asked = True
        if named is None and edits_run is None:
            edits_run = {"simulator": asked[0], "params": {}}
    if re.search(RUN_WORDS, folded) and named is not None:
        run_asked = True
    if not edits and not questions and named is not None:
        run_asked = True  # "traffic in the evening peak": a run is all it can mean
    run = detect_run(folded, edits_run, run_asked)
    if run is not None:
        params = run_params(run["simulator"], folded, year)
        if edits_run is not None and run["simulator"] == edits_run["simulator"]:
            params = {**edits_run["params"], **params}
        run = {"simulator": run["simulator"], "params": params}
    elif default_run in capabilities.names() and re.search(CONSEQUENCES, folded):
        # "what if substation X fails?": the outage's own simulator
        run = {"simulator": default_run, "params": run_params(default_run, folded, year)}
    elif run_asked and not edits and not questions:
        # "run a simulation": a run is asked and no simulator named: ask which
        raise Clarify("Which simulation do you mean?", [
            {"label": s.label, "text": f"run {s.label.lower()}"}
            for s in capabilities.all_simulators()])  # fmt: skip
    return {"edits": edits, "run": run, "questions": questions, "understood": understood,
            "notes": notes}  # fmt: skip


def _llm_proposal(city, text: str) -> dict | None:
    """The language model's proposal when one is configured (else None)."""
    try:
        from . import llm  # written by the assistant-ui branch; absent means not configured
    except ImportError:
        return None
    if not llm.configured():
        return None
    from citytwin.scenarios import edits as registry
    from layers import gazetteer

    context = {
        "city": {"id": city.pk, "name": city.name},
        "edit_schemas": {
            "edit_types": [
                {"type": k.type, "label": k.label, "schema": k.schema()}
                for k in registry.all_edit_types()
            ]
        },  # fmt: skip
        "simulators": {"simulators": [s.describe() for s in capabilities.all_simulators()]},
        "places": sorted({p.canonical or p.name for p in gazetteer.for_city(city).places})[:500],
    }
    try:
        return llm.propose(text, context)
    except llm.LLMUnavailable:
        return None


def understand(city, text, user=None, scenario=None) -> dict:
    """The assistant's answer to ``text`` (the body of ``POST /api/assistant/``)."""
    text = check_text(text)
    action = unsupported(text)
    if action is not None:
        return _empty([], f"Nothing changed: the assistant does not send e-mail or messages nor "
                      f"delete data ({action!r}); it proposes scenario edits and runs and answers "
                      "questions about the twin (a run's results are on its page and downloads).")  # fmt: skip
    try:
        parsed = parse(city, text, user, scenario)
    except Clarify as exc:
        return _empty([], None, {"question": exc.question, "candidates": exc.candidates})
    except NotUnderstood as exc:
        proposal = _llm_proposal(city, text)
        if proposal is None:
            return _empty([], f"Nothing changed: {exc}.")
        parsed = {"edits": proposal.get("edits") or [], "run": proposal.get("run"), "questions": [],
                  "understood": ["proposed by the language model"]}  # fmt: skip
    if not parsed["edits"] and parsed["run"] is None and not parsed["questions"]:
        proposal = _llm_proposal(city, text)
        if proposal is not None:
            parsed = {"edits": proposal.get("edits") or [], "run": proposal.get("run"), "questions": [],
                      "understood": ["proposed by the language model"]}  # fmt: skip
    answers = []
    for clause, question in parsed["questions"]:
        from .questions import answer

        sim = parsed["run"]["simulator"] if parsed["run"] else None
        try:
            answers.append(answer(clause, question, user, scenario, sim))
        except NotUnderstood as exc:
            answers.append(f"{exc}.")
    answers.extend(parsed.get("notes") or [])
    edits, run = parsed["edits"], parsed["run"]
    if not edits and run is None and not answers:
        return _empty([], "Nothing changed: I did not find an edit, a run or a question I can "
                      "answer in the text (e.g. 'close Mannerheimintie', 'add a 60 m tower at the "
                      "corner of Simonkatu and Mannerheimintie', 'how many residents within 500 m "
                      "of the railway station?').")  # fmt: skip
    try:
        normalised = validate_edits(city, edits) if edits else []
        if run is not None:
            base = list(scenario.edits) if scenario is not None else []
            if not isinstance(run, dict) or run.get("simulator") not in capabilities.names():
                raise capabilities.ParamsRejected("", f"no simulator {run!r}")
            run = {"simulator": run["simulator"],
                   "params": capabilities.get(run["simulator"]).clean_params(run.get("params") or {}, base + normalised)}  # fmt: skip
    except EditRejected as exc:
        return _empty(parsed["understood"], f"Nothing changed: the twin would refuse it ({exc}).")
    except capabilities.ParamsRejected as exc:
        return _empty(parsed["understood"], f"Nothing changed: the run would be refused ({exc}).")
    labels = _describe(city, edits, normalised)
    understood = labels + ([f"run {capabilities.get(run['simulator']).label}"] if run else []) + [
        u for u in parsed["understood"] if u.startswith("question")]  # fmt: skip
    token = None
    if edits or run is not None:
        token = signing.dumps(
            {"city": city.pk, "edits": edits, "run": run, "user": getattr(user, "pk", None)},
            salt=TOKEN_SALT, compress=True,
        )  # fmt: skip
    return {
        "understood": understood,
        "edits": edits,
        "preview": preview(city, normalised),
        "run": run,
        "answer": " ".join(answers) if answers else None,
        "clarify": None,
        "confirm_token": token,
    }


def confirm(token, user, scenario_id=None) -> dict:
    """Apply a confirmed proposal: the edits through the scenario services (a new scenario,
    or appended to ``scenario_id`` which the user may edit), then the run if one was asked."""
    from django.db import transaction

    from citytwin.scenarios import services
    from layers.models import City

    if not isinstance(token, str) or not token:
        raise AssistantRejected("confirm_token", "is required")
    try:
        data = signing.loads(token, salt=TOKEN_SALT, max_age=TOKEN_MAX_AGE_S)
    except signing.SignatureExpired:
        raise AssistantRejected("confirm_token", "has expired; ask again") from None
    except signing.BadSignature:
        raise AssistantRejected("confirm_token", "is not a token the assistant gave") from None
    if data.get("user") != user.pk:
        raise AssistantRejected("confirm_token", "was given to another user", 403)
    city = City.objects.filter(pk=data["city"]).first()
    if city is None:
        raise AssistantRejected("confirm_token", "its city no longer exists", 404)
    edits, run_request = data["edits"], data["run"]
    if scenario_id is not None:
        scenario = services.scenarios_visible_to(user).filter(pk=scenario_id).first()
        if scenario is None:
            raise AssistantRejected("scenario", f"no scenario {scenario_id}", 404)
        if scenario.city_id != city.pk:
            raise AssistantRejected("scenario", "belongs to another city")
        if edits and services.access_of(scenario, user) not in ("owner", "edit"):
            raise AssistantRejected("scenario", "you may not change this scenario", 403)
    else:
        scenario = None
    _claim(token)
    try:
        with transaction.atomic():  # a refused run leaves no new scenario behind
            return _apply(city, edits, run_request, scenario, user)
    except BaseException:
        _release(token)  # nothing was applied: the token may be confirmed again
        raise


def _token_key(token: str) -> str:
    import hashlib

    return "assistant-confirmed:" + hashlib.sha256(token.encode()).hexdigest()


def _claim(token: str) -> None:
    """Mark the token used, atomically (``cache.add``): a token applies once, so a replayed or
    double-clicked confirm cannot make a second scenario or append the edits twice."""
    from django.core.cache import cache

    if not cache.add(_token_key(token), 1, TOKEN_MAX_AGE_S + 60):
        raise AssistantRejected("confirm_token", "was confirmed already; ask again", 409)


def _release(token: str) -> None:
    from django.core.cache import cache

    cache.delete(_token_key(token))


def _apply(city, edits, run_request, scenario, user) -> dict:
    from citytwin.scenarios import services
    from citytwin.scenarios.models import Scenario

    if scenario is not None:
        if edits:
            scenario = services.set_edits(scenario, list(scenario.edits) + list(edits))
    elif edits:
        labels = [edit_type(e["type"]).describe(city, e) for e in validate_edits(city, edits)]
        scenario = Scenario.objects.create(
            city=city, name=("Assistant: " + "; ".join(labels))[:200], owner=user,
            description="made by the assistant", edits=validate_edits(city, edits),
        )  # fmt: skip
    else:
        scenario = services.baseline_of(city)
    run = None
    if run_request is not None:
        run, _ = services.start_run(scenario, run_request["simulator"], run_request["params"], user)
    words = f"{len(edits)} edit{'s' if len(edits) != 1 else ''} applied to scenario {scenario.pk} ({scenario.name!r})"
    if run is not None:
        words += f"; {run.simulator} run {run.pk} started"
    return {
        "scenario": scenario.pk,
        "run": str(run.pk) if run is not None else None,
        "answer": words + ".",
    }
