"""The topic matcher: keyword rules over the project's text analysis.

All topics' terms compile once into one lookup table keyed by a term's first
word (folded, exact-case, stemmed or a prefix's first letters), so a document is
read once, word by word, whatever the number of terms. Words are those of
:func:`search.analysis.tokenize`: elisions and possessives are already the bare
word (``l'IA`` -> ``IA``) and phrases match across line breaks and spaces.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Literal

from search.analysis import fold, stem, tokenize, words

Role = Literal["any", "all", "none", "context"]
PREFIX_KEY = 3  # a prefix term is looked up by its first three folded letters


@dataclass(frozen=True)
class _Entry:
    topic: int
    role: Role
    group: int  # index of the `all` group, else 0
    label: str  # the term as the rule wrote it (counts are reported under it)
    words: tuple[str, ...]  # surface words, as written
    folded: tuple[str, ...]  # the same, case and accents folded
    case_sensitive: bool
    prefix: bool  # the last word is a prefix
    stem: bool
    needs_context: bool


@dataclass
class TopicMatch:
    """How one topic's rule applied to one document."""

    topic: str
    matched: bool
    score: float = 0.0
    terms: dict[str, int] = field(default_factory=dict)  # `any`/`all` terms and their counts
    vetoes: dict[str, int] = field(default_factory=dict)  # `none` terms that were present
    context: dict[str, int] = field(default_factory=dict)  # context terms present
    reason: str = ""  # why it did not match, for people writing rules


class TopicMatcher:
    """Matches documents against every configured topic in one pass."""

    def __init__(self, topics: list[Any]) -> None:
        self.topics = topics
        self._by_key: dict[tuple[str, str], list[_Entry]] = defaultdict(list)
        self._stemmed: list[_Entry] = []
        self._stem_keys: dict[str, dict[str, list[_Entry]]] = {}
        for index, topic in enumerate(topics):
            roles: list[tuple[Role, int, list[Any]]] = [("any", 0, topic.any)]
            roles += [("all", g, group) for g, group in enumerate(topic.all)]
            roles += [("none", 0, topic.none), ("context", 0, topic.context)]
            for role, group, specs in roles:
                for spec in specs:
                    for surface in (spec.term, *spec.variants):
                        self._add(index, role, group, spec, surface)

    def _add(self, topic: int, role: Role, group: int, spec: Any, surface: str) -> None:
        words = tuple(t.word for t in tokenize(surface))
        if not words:
            return
        entry = _Entry(
            topic,
            role,
            group,
            spec.label,
            words,
            tuple(fold(w) for w in words),
            spec.case_sensitive,
            spec.prefix,
            spec.stem,
            spec.needs_context,
        )
        if spec.stem:
            self._stemmed.append(entry)
        elif spec.prefix and len(words) == 1:
            self._by_key[("p", fold(words[0])[:PREFIX_KEY])].append(entry)
        elif spec.case_sensitive:
            self._by_key[("c", words[0])].append(entry)
        else:
            self._by_key[("f", fold(words[0]))].append(entry)

    def _stem_index(self, language: str | None) -> dict[str, list[_Entry]]:
        key = language or ""
        if key not in self._stem_keys:
            index: dict[str, list[_Entry]] = defaultdict(list)
            for entry in self._stemmed:
                index[stem(fold(entry.words[0]), language)].append(entry)
            self._stem_keys[key] = index
        return self._stem_keys[key]

    def _compile(self) -> None:
        """Split the lookup table by kind, longest terms first, for the word loop."""
        longest_first = {k: sorted(v, key=lambda e: -len(e.words)) for k, v in self._by_key.items()}
        self._folded_keys = {k[1]: v for k, v in longest_first.items() if k[0] == "f"}
        self._exact_keys = {k[1]: v for k, v in longest_first.items() if k[0] == "c"}
        self._prefix_keys = {k[1]: v for k, v in longest_first.items() if k[0] == "p"}
        self._prefix_sizes = sorted({len(k) for k in self._prefix_keys})

    def count(self, text: str, language: str | None = None) -> Counter[_Entry]:
        """How often each term occurs in ``text`` (longest term first at each word)."""
        if not hasattr(self, "_folded_keys"):
            self._compile()
        raw = words(text)
        folded = [fold(w) for w in raw]
        stems = [stem(w, language) for w in folded] if self._stemmed else []
        stem_index = self._stem_index(language) if self._stemmed else {}
        folded_keys, exact_keys = self._folded_keys, self._exact_keys
        prefix_keys, prefix_sizes = self._prefix_keys, self._prefix_sizes
        counts: Counter[_Entry] = Counter()
        covered: dict[tuple[int, Role, int], int] = {}  # per rule part: next free word
        for i, word in enumerate(folded):
            candidates = folded_keys.get(word, _NONE) + exact_keys.get(raw[i], _NONE)
            for size in prefix_sizes:
                candidates = candidates + prefix_keys.get(word[:size], _NONE)
            if stems:
                candidates = candidates + stem_index.get(stems[i], [])
            if not candidates:
                continue  # most words: nothing to check
            if len(candidates) > 1:
                candidates = sorted(candidates, key=lambda e: -len(e.words))
            for entry in candidates:
                part = (entry.topic, entry.role, entry.group)
                if covered.get(part, 0) > i:
                    continue  # inside a longer match of the same rule part
                if _matches_at(entry, i, raw, folded, stems, language):
                    counts[entry] += 1
                    covered[part] = i + len(entry.words)
        return counts

    def match(self, title: str, body: str, language: str | None = None) -> list[TopicMatch]:
        """Apply every topic to a document; a title mention counts double."""
        counts = self.count(title, language)
        for entry, n in counts.items():
            counts[entry] = 2 * n
        counts.update(self.count(body, language))
        return [self._decide(i, topic, counts) for i, topic in enumerate(self.topics)]

    def _decide(self, index: int, topic: Any, counts: Counter[_Entry]) -> TopicMatch:
        mine = {e: n for e, n in counts.items() if e.topic == index}
        by_role: dict[tuple[Role, int], dict[str, int]] = defaultdict(dict)
        for entry, n in mine.items():
            labels = by_role[(entry.role, entry.group)]
            labels[entry.label] = labels.get(entry.label, 0) + n  # a term and its variants add up
        result = TopicMatch(topic.name, False)
        result.context = dict(by_role.get(("context", 0), {}))
        result.vetoes = dict(by_role.get(("none", 0), {}))
        # A name that is also a common word counts only with enough context around it.
        has_context = sum(result.context.values()) >= getattr(topic, "context_min_mentions", 1)
        dependent = {e.label for e in mine if e.needs_context}

        def counted(role: Role, group: int) -> dict[str, int]:
            labels = by_role.get((role, group), {})
            return {k: v for k, v in labels.items() if has_context or k not in dependent}

        any_terms = counted("any", 0)
        any_total = sum(any_terms.values())
        groups = [counted("all", g) for g in range(len(topic.all))]
        # A term listed both in `any` and in a group is reported (and scored) once.
        for terms in (any_terms, *groups):
            for label, n in terms.items():
                result.terms[label] = max(result.terms.get(label, 0), n)
        result.score = float(sum(result.terms.values()))
        missing = [g for g, terms in enumerate(groups) if not terms]
        if result.vetoes:
            result.reason = "vetoed by " + ", ".join(sorted(result.vetoes))
        elif missing:
            result.reason = f"no term of 'all' group {missing[0] + 1}"
        elif topic.any and any_total < topic.min_mentions:
            result.reason = f"{any_total} mention(s) of 'any' terms, needs {topic.min_mentions}"
        else:
            result.matched = True
        return result


_NONE: list[_Entry] = []


def _matches_at(
    entry: _Entry, i: int, raw: list[str], folded: list[str], stems: list[str], language: str | None
) -> bool:
    if i + len(entry.words) > len(raw):
        return False
    last = len(entry.words) - 1
    for j, word in enumerate(entry.words):
        k = i + j
        if entry.prefix and j == last:
            target = raw[k] if entry.case_sensitive else folded[k]
            if not target.startswith(word if entry.case_sensitive else entry.folded[j]):
                return False
        elif entry.stem:
            if stems[k] != stem(fold(word), language):
                return False
        elif entry.case_sensitive:
            if raw[k] != word:
                return False
        elif folded[k] != entry.folded[j]:
            return False
    return True
