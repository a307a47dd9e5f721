"""Talent moves in a text: who went from which organisation to which.

Pure Python, no Scrapy, no model. The text is cut into sentences and each
sentence into tokens by one linear pattern; spans of known organisations
(longest alias first, resolved to the canonical name) and of people (two or
three capitalised words that are no organisation) are marked, then each move
verb of :mod:`search.moves_lexicon` reads its slots: a hire verb's destination
is the organisation before it and the person after it; a join or leave verb's
person is the one before it and its organisations follow, sorted by the
preposition before each ("leaves OpenAI for Meta"). The origin may also sit in
the person's apposition ("Jack Rae, a principal scientist at DeepMind, ...").
A sentence with a rumour, talks, refusal, denial, negation, sport, job-ad or
acquisition word tells no move.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from search.moves_lexicon import AT, FROM, HIRE, JOIN, KILL, LEAVE, NOT_NAME, ORGS, TO

# Linear: every repetition of the group starts with a hyphen.
_TOKEN = re.compile(r"\w+(?:-\w+)*|[^\w\s]")
_SENTENCE_END = {".", "!", "?"}
_BY = {"by", "par", "von", "da", "dal", "dalla", "por"}
# "after five years at Apple": an organisation of the past is an origin.
_YEARS = {"years", "ans", "jahren", "años", "anni", "months", "mois", "monaten", "meses", "mesi"}
_TO_AFTER = TO - {"de"}
_MAX_NAME = 3
# A news sentence is far shorter; the cap keeps the per-trigger reading linear in the text.
_MAX_TOKENS = 200


@dataclass(frozen=True)
class Move:
    """One person's move between two organisations, as one text tells it."""

    person: str
    origin: str | None
    destination: str | None
    role: str | None
    date: str | None
    evidence: str
    confidence: float

    def as_json(self) -> dict:
        """The move as the CLI and the API print it (``from``/``to`` keys)."""
        data = asdict(self)
        data["from"] = data.pop("origin")
        data["to"] = data.pop("destination")
        return data


@dataclass
class _Span:
    start: int
    end: int
    name: str
    kind: str  # "org" or "person"


_ORG_TOKENS = sorted(
    ((tuple(_TOKEN.findall(alias)), canonical) for alias, canonical in ORGS.items()),
    key=lambda pair: -len(pair[0]),
)
_ORG_FIRST = {tokens[0] for tokens, _ in _ORG_TOKENS}


def sentences(text: str) -> list[list[tuple[str, int, int]]]:
    """The text's sentences, each a list of ``(token, start, end)`` in ``text``."""
    result: list[list[tuple[str, int, int]]] = []
    current: list[tuple[str, int, int]] = []
    for match in _TOKEN.finditer(text):
        if current and "\n" in text[current[-1][2] : match.start()]:
            result.append(current)
            current = []
        current.append((match.group(), match.start(), match.end()))
        if match.group() in _SENTENCE_END:
            result.append(current)
            current = []
    if current:
        result.append(current)
    return result


def _is_cap(token: str) -> bool:
    return token[:1].isupper() and token[:1].isalpha()


def _spans(tokens: list[str]) -> list[_Span]:
    spans: list[_Span] = []
    i = 0
    while i < len(tokens):
        org = _org_at(tokens, i)
        if org:
            spans.append(org)
            i = org.end
            continue
        if _is_cap(tokens[i]) and tokens[i].lower() not in NOT_NAME and not _trigger(tokens[i]):
            j = i
            while j < len(tokens) and j - i < _MAX_NAME + 1 and _is_cap(tokens[j]):
                if _org_at(tokens, j) or _trigger(tokens[j]):
                    break
                j += 1
            if j - i >= 2 and j - i <= _MAX_NAME:
                kind = "org" if i > 0 and tokens[i - 1].lower() in AT | TO | FROM else "person"
                if kind == "org" and _looks_like_person_slot(tokens, i):
                    kind = "person"
                spans.append(_Span(i, j, " ".join(tokens[i:j]), kind))
            elif j - i == 1 and i > 0 and tokens[i - 1].lower() in AT | _TO_AFTER | FROM:
                spans.append(_Span(i, j, tokens[i], "org"))
            i = max(j, i + 1)
            continue
        i += 1
    return spans


def _looks_like_person_slot(tokens: list[str], i: int) -> bool:
    # "recrute Jack Rae": right after a hire verb comes a person, not an organisation.
    return i > 0 and tokens[i - 1].lower() in HIRE


def _org_at(tokens: list[str], i: int) -> _Span | None:
    if tokens[i] not in _ORG_FIRST:
        return None
    for alias, canonical in _ORG_TOKENS:
        if tuple(tokens[i : i + len(alias)]) == alias:
            return _Span(i, i + len(alias), canonical, "org")
    return None


def _trigger(token: str) -> str | None:
    low = token.lower()
    if low in HIRE:
        return "hire"
    if low in JOIN:
        return "join"
    if low in LEAVE:
        return "leave"
    return None


def _killed(tokens: list[str]) -> bool:
    for n, token in enumerate(tokens):
        word = token.lower() if n == 0 else token
        if word in KILL:
            return True
    return False


def _year(tokens: list[str]) -> str | None:
    for token in tokens:
        if len(token) == 4 and token.isdigit() and "1990" <= token <= "2039":
            return token
    return None


def _role(tokens: list[str], person: _Span, limit: int) -> str | None:
    # "Jack Rae, a principal scientist at DeepMind": the words between the comma and "at".
    if person.end >= limit or tokens[person.end] != ",":
        return None
    words: list[str] = []
    for token in tokens[person.end + 1 : limit]:
        if token.lower() in AT or not token.isalpha() or len(words) == 5:
            break
        words.append(token)
    while words and words[0].lower() in NOT_NAME:
        words.pop(0)
    return " ".join(words) or None


def _first_org(spans: list[_Span], start: int, end: int) -> _Span | None:
    for span in spans:
        if span.kind == "org" and start <= span.start < end:
            return span
    return None


def _orgs_after(tokens: list[str], spans: list[_Span], t: int, kind: str) -> tuple:
    origin = destination = None
    for span in spans:
        if span.kind != "org" or span.start <= t:
            continue
        before = tokens[span.start - 1].lower()
        past = any(tok.lower() in _YEARS for tok in tokens[max(t, span.start - 4) : span.start])
        if past or (before in FROM and before not in _TO_AFTER):
            origin = origin or span.name
        elif before in _TO_AFTER or before in AT or (span.start == t + 1 and kind == "join"):
            destination = destination or span.name
        elif span.start == t + 1 and kind == "leave":
            origin = origin or span.name
    return origin, destination


def extract(title: str, body: str = "", language: str | None = None) -> list[Move]:
    """The moves ``title`` and ``body`` tell, one per person, origin and destination."""
    found: dict[tuple, Move] = {}
    last_destination: str | None = None
    text = f"{title}\n{body}"
    for sentence in sentences(text):
        sentence = sentence[:_MAX_TOKENS]
        tokens = [token for token, _, _ in sentence]
        triggers = [(n, _trigger(tok)) for n, tok in enumerate(tokens) if _trigger(tok)]
        if not triggers or _killed(tokens):
            continue
        spans = _spans(tokens)
        people = [s for s in spans if s.kind == "person"]
        evidence = text[sentence[0][1] : sentence[-1][2]]
        partial: dict[str, list] = {}
        for t, kind in triggers:
            for person, origin, destination, role in _read(tokens, spans, people, t, kind):
                if kind == "hire" and destination is None:
                    destination = last_destination
                slot = partial.setdefault(person.name, [None, None, None])
                slot[0] = slot[0] or origin
                slot[1] = slot[1] or destination
                slot[2] = slot[2] or role
        for name, (origin, destination, role) in partial.items():
            if destination and destination != origin:
                last_destination = destination
            if (origin is None and destination is None) or origin == destination:
                continue
            confidence = 0.9 if origin and destination else 0.6
            key = (name, origin, destination)
            found.setdefault(
                key,
                Move(name, origin, destination, role, _year(tokens), evidence, confidence),
            )
    return list(found.values())


def _read(tokens: list[str], spans: list[_Span], people: list[_Span], t: int, kind: str) -> list:
    if kind == "hire" and t + 1 < len(tokens) and tokens[t + 1].lower() in _TO_AFTER:
        kind = "join"  # "ficha por Anthropic": the person signs for the organisation
    if kind == "hire":
        if t + 2 < len(tokens) and tokens[t + 1].lower() in _BY:
            # passive: "X was hired by Meta", "assunto da Meta"
            by = _first_org(spans, t + 2, t + 3 + _MAX_NAME)
            before = [p for p in people if p.end <= t]
            if by and before:
                person = before[-1]
                origin = _first_org(spans, person.end, t)
                name = origin.name if origin else _orgs_after(tokens, spans, t, "hire")[0]
                return [(person, name, by.name, _role(tokens, person, t))]
        subject = [
            s
            for s in spans
            if s.kind == "org"
            and s.end <= t
            and (s.start == 0 or tokens[s.start - 1].lower() not in FROM | AT)
        ]
        destination = subject[-1].name if subject else None
        after = [p for p in people if p.start > t]
        if not after:
            # "Meta hat Felix Braun von Microsoft abgeworben": the verb comes last.
            after = [p for p in people if p.end <= t and (not subject or p.start > subject[-1].end)]
        result = []
        for n, person in enumerate(after):
            limit = after[n + 1].start if n + 1 < len(after) else len(tokens)
            limit = t if person.end <= t < limit else limit
            origin = _first_org(spans, person.end, limit)
            role = _role(tokens, person, limit)
            result.append((person, origin and origin.name, destination, role))
        return result
    before = [p for p in people if p.end <= t]
    if not before:
        return []
    person = before[-1]
    apposed = _first_org(spans, person.end, t)
    origin, destination = _orgs_after(tokens, spans, t, kind)
    if apposed and origin is None:
        origin = apposed.name
    return [(person, origin, destination, _role(tokens, person, t))]
