"""Text normalisation for the assistant: tokens, Finnish stems, refusals of abuse.

Everything here is a pure function of strings (no Django).
"""

from __future__ import annotations

import re
import unicodedata

#: longer texts are refused before any parsing (bytes of UTF-8)
MAX_TEXT_BYTES = 4000

#: Finnish case endings, longest first: "Kampissa", "Mannerheimintiellä", "Simonkadulle",
#: "Kamppiin", "Rautatieasemalta", genitive "Mannerheimintien", partitive "katua"
_SUFFIXES = sorted(
    """ssa ssä sta stä lla llä lta ltä lle iin seen hin hen han hon aan ään uun een oon yyn
    na nä ksi tta ttä n a ä""".split(),
    key=len,
    reverse=True,
)
_DOUBLE = re.compile(r"([a-z])\1")
_TOKEN = re.compile(r"\d+(?:[.,:]\d+)?%?|[a-z]+(?:'[a-z]+)?|%")

#: attempts to make the assistant do something else than scenario edits and questions
_INJECTION = [
    re.compile(p)
    for p in (
        r"\bignore\b.{0,40}\b(instructions?|prompts?|rules?)\b",
        r"\b(disregard|forget)\b.{0,40}\b(instructions?|prompts?|rules?|above)\b",
        r"\bsystem prompt\b",
        r"\byou are now\b",
        r"\b(drop|truncate|alter)\s+(table|database|schema)\b",
        r"\bdelete\s+from\b",
        r"\binsert\s+into\b",
        r"\bupdate\s+\w+\s+set\b",
        r"\bselect\b.{0,80}\bfrom\b\s+\w*(auth|layers|scenarios|jobs|pg_)\w*",
        r"\bunion\s+select\b",
        r";\s*--",
        r"\b(password|credentials?|api[ _]?key|secret key|token)s?\b",
        r"\b(make me|grant me|give me)\b.{0,30}\b(admin|staff|superuser)\b",
        r"\b(rm\s+-rf|sudo|os\.system|subprocess|__import__)\b",
    )
]


#: actions that are not the assistant's: sending things away, deleting data (answered with
#: "nothing changed", not refused as abuse)
_UNSUPPORTED = [
    re.compile(p)
    for p in (
        r"[\w.+-]+@[\w-]+\.[\w.]+",  # an e-mail address
        r"\b(e ?mail|mail|send|forward|sms|tweet|upload|publish|print|fax)\b.{0,40}"
        r"\b(results?|reports?|numbers|figures|maps?|scenarios?|runs?|data|it|them|this|that)\b",
        r"\b(delete|erase|wipe|purge)\b.{0,30}\b(scenarios?|runs?|data|database|users?|"
        r"accounts?|everything|all|history|results?)\b",
    )
]


def unsupported(text: str) -> str | None:
    """The phrase asking for an action the assistant does not take (e-mail, delete data)."""
    folded = fold(text)
    for pattern in _UNSUPPORTED:
        found = pattern.search(folded)
        if found:
            return found.group(0)
    return None


def fold(text: str) -> str:
    """Lower case, no diacritics, dashes as spaces, single spaces (the gazetteer's keys)."""
    # Catalan street abbreviations ("Av. Meritxell", "Avda Carlemany", "C/ Major")
    text = re.sub(r"\bAv(?:da)?\.?\s+(?=[A-ZÀ-Ý])", "Avinguda ", text or "")
    # lower case only with its dot ("av. carlemany"): a bare "av" is Swedish for "of"
    text = re.sub(r"\b(?:av|avda)\.\s*(?=[a-zà-ÿ])", "Avinguda ", text)
    text = re.sub(r"\b[Cc]/\s*", "Carrer ", text)
    text = re.sub(r"\b[Cc]tra\.?\s+", "Carretera ", text)
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    plain = plain.casefold().replace("-", " ").replace("\u2019", "'").replace("`", "'")
    # Catalan: the middle dot of "l·l" (also typed "l.l"), the elided article of "l'Església",
    # "d'Andorra" as words of their own
    plain = re.sub(r"l[\u00b7\u2027.]l", "ll", plain)
    plain = re.sub(r"\b([ldsnm])'(?=[a-z])", r"\1 ", plain)
    plain = re.sub(r"(?<=[a-z])'s\b", "", plain)  # English possessive: "Stockmann's roof"
    return " ".join(plain.split())


def tokens(text: str) -> list[str]:
    """Words and numbers of folded text ("14:00", "20%", "1,5" stay whole)."""
    return _TOKEN.findall(fold(text))


def stem(word: str) -> str:
    """A crude Finnish stem that an inflected form and its base form share.

    One case ending off, doubled consonants single (gradation: Kamppi/Kampissa), ``d`` as
    ``t`` (katu/kadulla), the final vowel off (Hakaniemi/Hakaniemessä). Applied to both the
    gazetteer's names and the text, so it only needs to be consistent, not linguistic.
    """
    w = word
    for suffix in _SUFFIXES:
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            w = w[: -len(suffix)]
            break
    w = _DOUBLE.sub(r"\1", w).replace("d", "t")
    if len(w) > 3 and w[-1] in "aeiouy":
        w = w[:-1]
    return w


def stem_key(words: list[str]) -> str:
    """The key of a multi-word name: every word but the last kept, the last stemmed
    ("Mannerheimintiellä" and "Mannerheimintie"; "Kampin kauppakeskuksessa" too)."""
    if not words:
        return ""
    return " ".join([*(_DOUBLE.sub(r"\1", w) for w in words[:-1]), stem(words[-1])])


def injection(text: str) -> str | None:
    """The phrase that looks like an attempt to make the assistant do something else, or None."""
    folded = fold(text)
    for pattern in _INJECTION:
        found = pattern.search(folded)
        if found:
            return found.group(0)
    return None
