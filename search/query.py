"""The query language shared by every store, and its analysis into search terms.

Syntax: ``words`` (all must match), ``"exact phrases"``, ``OR`` (binds looser than
the implicit AND), ``-excluded`` terms or phrases, ``prefix*``, ``( grouping )``,
``title:`` and ``body:`` before a word, a phrase or a group (``title:"a b"``,
``-body:(a OR b)``) to search one field only, ``a NEAR/n b`` (or ``"a b"~n``): the two
words or phrases at most ``n`` words apart, in either order, in one field.
``AND`` may be written and means the same as a space. A query that cannot be
understood raises :class:`QuerySyntaxError` with a one-line message; nothing a user
types reaches a store as raw syntax.

:func:`parse` gives a syntax tree of words; :func:`analyze_query` turns it into a
tree of analysed terms (:class:`Terms` and :class:`Phrase` alternatives) that each
store translates into its own query form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from search.analysis import fold, stem, tokenize

MAX_QUERY_LENGTH = 1000
MAX_TERMS = 32  # an interactive query
MAX_SAVED_TERMS = 500  # a saved search: monitoring queries list many names
MAX_SAVED_LENGTH = 10000  # room for MAX_SAVED_TERMS names of a dozen characters
MAX_NEAR = 100  # the widest NEAR/n
MAX_DEPTH = 32  # parentheses nested deeper are refused before any recursion can run deep


TEXT_FIELDS = ("body", "title")  # the fields a word may be restricted to


class QuerySyntaxError(ValueError):
    """A query that cannot be understood; ``str()`` is a one-line message for the user."""


# --- syntax tree -------------------------------------------------------------


@dataclass(frozen=True)
class Word:
    text: str
    prefix: bool = False
    field: str | None = None  # one of TEXT_FIELDS, None for both


@dataclass(frozen=True)
class PhraseWords:
    words: tuple[str, ...]
    field: str | None = None


@dataclass(frozen=True)
class Not:
    child: Node


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Near:
    """Two words or phrases at most ``distance`` words apart, in either order."""

    children: tuple[Node, ...]
    distance: int


Node = Word | PhraseWords | Not | And | Or | Near

_TOKEN = re.compile(r'\s+|"[^"]*"?|\(|\)|[^\s"()]+')
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_FIELD = re.compile(r"([A-Za-z][A-Za-z0-9_]*):(.*)", re.DOTALL)
_NEAR = re.compile(r"(O?NEAR)/(.*)")


def parse(query: str, max_terms: int = MAX_TERMS, max_length: int = MAX_QUERY_LENGTH) -> Node:
    """Parse a user query into a syntax tree, or raise :class:`QuerySyntaxError`.

    The tree is at most :data:`MAX_DEPTH` groups deep, so every walker of it (the
    analysis here, each store's translation) stays far below Python's recursion limit.
    """
    if len(query) > max_length:
        raise QuerySyntaxError(f"query is too long ({len(query)} characters, at most {max_length})")
    lexemes = [t for t in _TOKEN.findall(_CONTROL.sub(" ", query)) if not t.isspace()]
    parser = _Parser(lexemes)
    node = parser.parse_or()
    if parser.pos < len(lexemes):
        raise QuerySyntaxError("unmatched ')' in query")
    if node is None:
        raise QuerySyntaxError("query has no words to search for")
    if (count := sum(1 for _ in _leaves(node))) > max_terms:
        raise QuerySyntaxError(f"query has too many terms ({count}, at most {max_terms})")
    _check_positive(node)
    return node


class _Parser:
    def __init__(self, lexemes: list[str]) -> None:
        self.lexemes = lexemes
        self.pos = 0
        self.depth = 0  # open parentheses around the current position
        self.field: str | None = None  # the field operator in force, if any

    def peek(self) -> str | None:
        return self.lexemes[self.pos] if self.pos < len(self.lexemes) else None

    def parse_or(self) -> Node | None:
        branches: list[Node] = []
        while True:
            branch = self.parse_and()
            if self.peek() == "OR":
                self.pos += 1
                if branch is None:
                    raise QuerySyntaxError("OR needs a term on its left")
                branches.append(branch)
                continue
            if branch is None:
                if branches:
                    raise QuerySyntaxError("OR needs a term on its right")
                return None
            branches.append(branch)
            return branches[0] if len(branches) == 1 else Or(tuple(branches))

    def parse_and(self) -> Node | None:
        parts: list[Node] = []
        while (lexeme := self.peek()) is not None and lexeme not in ("OR", ")"):
            self.pos += 1
            if lexeme == "AND":
                if not parts:
                    raise QuerySyntaxError("AND needs a term on its left")
                if self.peek() in (None, "OR", ")", "AND"):
                    raise QuerySyntaxError("AND needs a term on its right")
                continue
            node = self.parse_unary(lexeme)
            while (near := _NEAR.fullmatch(self.peek() or "")) is not None:
                self.pos += 1
                node = self.parse_near(node, near[0], near[1], near[2])
            if node is not None:
                parts.append(node)
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def parse_near(self, left: Node | None, operator: str, kind: str, number: str) -> Node:
        """``left NEAR/n right``: ``left`` parsed already, ``right`` the next word or phrase."""
        if kind == "ONEAR":
            raise QuerySyntaxError(f"{operator} (in order) is not available; use NEAR/n")
        distance = _distance(number, operator)
        right = None
        if (lexeme := self.peek()) not in (None, ")", "OR", "AND"):
            self.pos += 1
            right = self.parse_unary(lexeme)  # type: ignore[arg-type]
        return near((left, right), distance, operator)

    def parse_unary(self, lexeme: str) -> Node | None:
        negated = lexeme.startswith("-") and len(lexeme) > 1
        if lexeme == "-" and self.peek() not in (None, ")", "OR"):
            negated, lexeme = True, self.lexemes[self.pos]
            self.pos += 1
        elif negated:
            lexeme = lexeme[1:]
        node = self.parse_atom(lexeme)
        if node is None:
            return None
        return Not(node) if negated else node

    def parse_atom(self, lexeme: str) -> Node | None:
        if lexeme == "(":
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise QuerySyntaxError(
                    f"query nests parentheses too deeply (at most {MAX_DEPTH} levels)"
                )
            inner = self.parse_or()
            if self.peek() != ")":
                raise QuerySyntaxError("unmatched '(' in query")
            self.pos += 1
            self.depth -= 1
            return inner
        if _NEAR.fullmatch(lexeme):
            raise QuerySyntaxError(f"{lexeme} needs a word or phrase on each side")
        if lexeme.startswith('"'):
            if len(lexeme) == 1 or not lexeme.endswith('"'):
                raise QuerySyntaxError(
                    "unmatched '\"' in query: close the phrase with a second quote"
                )
            words = tuple(t.word for t in tokenize(lexeme[1:-1]))
            if (slop := self.peek() or "").startswith("~"):
                self.pos += 1
                if len(words) != 2:
                    raise QuerySyntaxError(f"{lexeme}{slop} needs two words; use NEAR/n")
                pair = (Word(words[0], field=self.field), Word(words[1], field=self.field))
                return near(pair, _distance(slop[1:], lexeme + slop), lexeme + slop)
            if not words:
                return None
            return Word(words[0], field=self.field) if len(words) == 1 else self.phrase(words)
        # A headline's "Superintelligenz: Meta" is words; "nosuchfield:x" is an error.
        if (match := _FIELD.fullmatch(lexeme)) and (match[2] or match[1].lower() in TEXT_FIELDS):
            return self.parse_field(match[1], match[2])
        prefix = lexeme.endswith("*")
        body = lexeme.rstrip("*")
        if prefix and not tokenize(body):
            raise QuerySyntaxError("'*' must follow a word, as in model*")
        words = tuple(t.word for t in tokenize(body))
        if not words:
            return None  # punctuation only: nothing to search for
        if len(words) == 1:
            return Word(words[0], prefix, self.field)
        # super-intelligence, AI/ML: the parts as a phrase; a trailing * applies to the last.
        if not prefix:
            return self.phrase(words)
        return And((self.phrase(words[:-1]), Word(words[-1], True, self.field)))

    def phrase(self, words: tuple[str, ...]) -> Node:
        return (
            Word(words[0], field=self.field) if len(words) == 1 else PhraseWords(words, self.field)
        )

    def parse_field(self, name: str, value: str) -> Node | None:
        """``title:word``, ``title:"a phrase"`` (two lexemes), ``title:(a OR b)``."""
        field = name.lower()
        if field not in TEXT_FIELDS:
            raise QuerySyntaxError(
                f"unknown field '{name}:' (fields: {', '.join(f + ':' for f in TEXT_FIELDS)}); "
                "quote the text to search for it as words"
            )
        if self.field is not None:
            raise QuerySyntaxError(f"'{name}:' cannot be used inside '{self.field}:'")
        if not value:
            value = self.peek() or ""
            if value in ("", ")", "OR", "AND"):
                raise QuerySyntaxError(f"'{name}:' needs a word, a phrase or a group after it")
            self.pos += 1
        self.field = field
        try:
            return self.parse_atom(value)
        finally:
            self.field = None


def _distance(number: str, operator: str) -> int:
    if not number.isascii() or not number.isdigit() or int(number) > MAX_NEAR:
        raise QuerySyntaxError(
            f"malformed {operator!r}: write a number of words up to {MAX_NEAR} after it"
        )
    return int(number)


def near(operands: tuple[Node | None, Node | None], distance: int, operator: str) -> Near:
    """The Near of two words or phrases of one field, or a QuerySyntaxError naming ``operator``."""
    for operand in operands:
        if not isinstance(operand, Word | PhraseWords):
            raise QuerySyntaxError(f"{operator} joins two words or phrases (no groups, no '-')")
    if len({o.field for o in operands}) > 1:  # type: ignore[union-attr]
        raise QuerySyntaxError(f"{operator} joins words of one field")
    return Near(operands, distance)  # type: ignore[arg-type]


def _leaves(node: Node):
    if isinstance(node, Word | PhraseWords):
        yield node
    elif isinstance(node, Not):
        yield from _leaves(node.child)
    else:  # And, Or, Near
        for child in node.children:
            yield from _leaves(child)


def _check_positive(node: Node) -> None:
    """Every branch must have something to find: ``-a`` alone cannot be searched."""
    if isinstance(node, Not):
        raise QuerySyntaxError("a query needs at least one term that is not excluded")
    if isinstance(node, And):
        if all(isinstance(c, Not) for c in node.children):
            raise QuerySyntaxError("a query needs at least one term that is not excluded")
        for child in node.children:
            if not isinstance(child, Not):
                _check_positive(child)
            else:
                _check_positive_inner(child.child)
    elif isinstance(node, Or):
        for child in node.children:
            _check_positive(child)


def _check_positive_inner(node: Node) -> None:
    if isinstance(node, Not):
        raise QuerySyntaxError("a double exclusion cannot be searched")
    if isinstance(node, And | Or):
        _check_positive(node)


# --- analysed tree -----------------------------------------------------------


@dataclass(frozen=True)
class Terms:
    """One query word: matches a document holding any of ``alternatives``."""

    alternatives: tuple[str, ...]
    prefix: bool = False
    field: str | None = None  # one of TEXT_FIELDS, None for both


@dataclass(frozen=True)
class Phrase:
    """An exact phrase: matches a document holding any of the analysed sequences."""

    alternatives: tuple[tuple[str, ...], ...]
    field: str | None = None


@dataclass(frozen=True)
class AnalyzedQuery:
    """A parsed and analysed query, ready for a store to translate."""

    text: str
    tree: Node  # with Word/PhraseWords replaced by Terms/Phrase
    languages: tuple[str, ...]
    highlight: frozenset[str] = field(default_factory=frozenset)  # terms to mark
    highlight_prefixes: frozenset[str] = field(default_factory=frozenset)
    highlight_phrases: frozenset[tuple[str, ...]] = field(default_factory=frozenset)


def analyze_query(
    query: str, languages: list[str] | tuple[str, ...], max_terms: int = MAX_TERMS
) -> AnalyzedQuery:
    """Parse ``query`` and analyse its words for articles in ``languages``.

    ``max_terms`` above :data:`MAX_TERMS` (saved searches) also allows queries up to
    :data:`MAX_SAVED_LENGTH` characters.
    """
    languages = tuple(languages) or ("",)
    highlight: set[str] = set()
    prefixes: set[str] = set()
    phrases: set[tuple[str, ...]] = set()

    def convert(node: Node, positive: bool) -> Node:
        if isinstance(node, Word):
            folded = fold(node.text)
            alternatives = tuple(dict.fromkeys(stem(folded, lang) for lang in languages))
            if node.prefix:
                # A prefix is matched against stems: also try the prefix's own stems,
                # which may be shorter than the prefix (intelligence* -> intellig*).
                alternatives = tuple(dict.fromkeys((folded, *alternatives)))
                if positive:
                    prefixes.update(alternatives)
            elif positive:
                highlight.update(alternatives)
            return Terms(alternatives, node.prefix, node.field)  # type: ignore[return-value]
        if isinstance(node, PhraseWords):
            folded_words = [fold(w) for w in node.words]
            sequences = tuple(
                dict.fromkeys(tuple(stem(w, lang) for w in folded_words) for lang in languages)
            )
            if positive:
                phrases.update(sequences)
            return Phrase(sequences, node.field)  # type: ignore[return-value]
        if isinstance(node, Not):
            return Not(convert(node.child, False))
        if isinstance(node, Near):
            return Near(tuple(convert(c, positive) for c in node.children), node.distance)
        if isinstance(node, And):
            return And(tuple(convert(c, positive) for c in node.children))
        return Or(tuple(convert(c, positive) for c in node.children))

    max_length = MAX_QUERY_LENGTH if max_terms <= MAX_TERMS else MAX_SAVED_LENGTH
    tree = convert(parse(query, max_terms, max_length), True)
    return AnalyzedQuery(
        query, tree, languages, frozenset(highlight), frozenset(prefixes), frozenset(phrases)
    )
