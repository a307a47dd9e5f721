"""The query language: parse trees, one-line errors for hostile input, analysed trees."""

from __future__ import annotations

import json

import pytest

from search.query import (
    MAX_DEPTH,
    MAX_QUERY_LENGTH,
    MAX_SAVED_LENGTH,
    MAX_SAVED_TERMS,
    MAX_TERMS,
    And,
    Near,
    Not,
    Or,
    Phrase,
    PhraseWords,
    QuerySyntaxError,
    Terms,
    Word,
    analyze_query,
    parse,
)


def W(text: str, prefix: bool = False) -> Word:
    return Word(text, prefix)


def P(*words: str) -> PhraseWords:
    return PhraseWords(words)


@pytest.mark.parametrize(
    ("query", "tree"),
    [
        ("OpenAI", W("OpenAI")),
        ("  OpenAI  ", W("OpenAI")),
        ("OpenAI Anthropic", And((W("OpenAI"), W("Anthropic")))),
        ('"frontier model"', P("frontier", "model")),
        ('"OpenAI"', W("OpenAI")),  # a one-word phrase is a word
        ("a OR b", Or((W("a"), W("b")))),
        ("a OR b OR c", Or((W("a"), W("b"), W("c")))),
        # OR binds looser than the implicit AND.
        ("a b OR c", Or((And((W("a"), W("b"))), W("c")))),
        ("a AND b", And((W("a"), W("b")))),
        ("a AND b OR c", Or((And((W("a"), W("b"))), W("c")))),
        # Lower-case "or"/"and" are ordinary words.
        ("or and", And((W("or"), W("and")))),
        ("a -b", And((W("a"), Not(W("b"))))),
        ("a - b", And((W("a"), Not(W("b"))))),
        ("a -b -c", And((W("a"), Not(W("b")), Not(W("c"))))),
        ("-b a", And((Not(W("b")), W("a")))),
        ('a -"b c"', And((W("a"), Not(P("b", "c"))))),
        ("x AND -y", And((W("x"), Not(W("y"))))),
        ("a -(b OR c)", And((W("a"), Not(Or((W("b"), W("c"))))))),
        ("model*", W("model", prefix=True)),
        ("model**", W("model", prefix=True)),
        ("(a OR b) c", And((Or((W("a"), W("b"))), W("c")))),
        ("((a))", W("a")),
        ("a (b OR c) -d", And((W("a"), Or((W("b"), W("c"))), Not(W("d"))))),
        # Hyphenated and slashed words become phrases of their parts.
        ("super-intelligence", P("super", "intelligence")),
        ("AI/ML", P("AI", "ML")),
        ("GPT-5", P("GPT", "5")),
        # Elisions and possessives reduce to the bare word, as in documents.
        ("l'IA", W("IA")),
        ("d’OpenAI", W("OpenAI")),
        ("OpenAI's", W("OpenAI")),
        ("aujourd'hui", W("aujourd'hui")),
        # Stray punctuation is not searched for.
        ("a ,,, b", And((W("a"), W("b")))),
        ('a "" b', And((W("a"), W("b")))),
    ],
)
def test_parse_trees(query: str, tree: object) -> None:
    assert parse(query) == tree


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ('"frontier model', "unmatched '\"' in query: close the phrase with a second quote"),
        ('a "b c', "unmatched '\"' in query: close the phrase with a second quote"),
        ('a"', "unmatched '\"' in query: close the phrase with a second quote"),
        ("NEAR(", "unmatched '(' in query"),
        ("(a", "unmatched '(' in query"),
        ("a OR (b", "unmatched '(' in query"),
        ("a)", "unmatched ')' in query"),
        (")", "unmatched ')' in query"),
        ("*", "'*' must follow a word, as in model*"),
        ("*****", "'*' must follow a word, as in model*"),
        ("a *", "'*' must follow a word, as in model*"),
        ("AND OR", "AND needs a term on its left"),
        ("AND a", "AND needs a term on its left"),
        ("a AND", "AND needs a term on its right"),
        ("a AND OR b", "AND needs a term on its right"),
        ("OR", "OR needs a term on its left"),
        ("OR a", "OR needs a term on its left"),
        ("a OR OR b", "OR needs a term on its left"),
        ("a OR", "OR needs a term on its right"),
        ("a OR )", "OR needs a term on its right"),
        ("-a", "a query needs at least one term that is not excluded"),
        ("- a", "a query needs at least one term that is not excluded"),
        ("-a -b", "a query needs at least one term that is not excluded"),
        ("-a OR b", "a query needs at least one term that is not excluded"),
        ("a -(-b)", "a double exclusion cannot be searched"),
        ("", "query has no words to search for"),
        ("   ", "query has no words to search for"),
        ('""', "query has no words to search for"),
        ("()", "query has no words to search for"),
        ("-", "query has no words to search for"),
        (".,;:!?" * 100, "query has no words to search for"),
        ("\x00", "query has no words to search for"),
        ("!" * 10240, "query is too long (10240 characters, at most 1000)"),
        ("x" * (MAX_QUERY_LENGTH + 1), "query is too long (1001 characters, at most 1000)"),
        (" ".join(f"w{i}" for i in range(40)), "query has too many terms (40, at most 32)"),
        (
            " OR ".join(f"w{i}" for i in range(MAX_TERMS + 1)),
            "query has too many terms (33, at most 32)",
        ),
        ("(" * 260 + "a" + ")" * 260, "query nests parentheses too deeply (at most 32 levels)"),
        ("(" * 499 + "a", "query nests parentheses too deeply (at most 32 levels)"),
        ("-(" * 300 + "a", "query nests parentheses too deeply (at most 32 levels)"),
        (
            "(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1),
            f"query nests parentheses too deeply (at most {MAX_DEPTH} levels)",
        ),
    ],
)
def test_errors_are_one_line_messages(query: str, message: str) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        parse(query)
    assert str(caught.value) == message
    assert "\n" not in str(caught.value)


def _deepest_query() -> str:
    """Groups nested MAX_DEPTH deep, alternating AND, OR and exclusion at every level."""
    query = "core"
    for level in range(MAX_DEPTH // 2):  # two levels deep (one and three) a step
        query = f"(w{level} OR (x{level} -({query})))" if level % 2 else f"(w{level} {query})"
    return query


def _depth(query: str) -> int:
    depth = deepest = 0
    for char in query:
        depth += {"(": 1, ")": -1}.get(char, 0)
        deepest = max(deepest, depth)
    return deepest


def test_the_deepest_query_allowed_is_parsed_analysed_and_translated_by_both_stores() -> None:
    from pipelines.stores.elasticsearch.query import to_query
    from pipelines.stores.sqlite.query import fts_expression

    query = _deepest_query()
    assert _depth(query) == MAX_DEPTH
    analyzed = analyze_query(query, ["en", "de"], max_terms=MAX_SAVED_TERMS)
    assert '"core"' in fts_expression(analyzed.tree)
    assert "core" in json.dumps(to_query(analyzed.tree))
    with pytest.raises(QuerySyntaxError) as caught:
        parse(f"({query})", MAX_SAVED_TERMS)
    assert str(caught.value) == f"query nests parentheses too deeply (at most {MAX_DEPTH} levels)"


def test_saved_searches_may_hold_500_terms_and_no_more() -> None:
    names = [f"name{i}" for i in range(MAX_SAVED_TERMS)]
    query = " OR ".join(names)
    assert len(query) <= MAX_SAVED_LENGTH
    tree = parse(query, MAX_SAVED_TERMS, MAX_SAVED_LENGTH)
    assert tree == Or(tuple(Word(n) for n in names))
    assert len(analyze_query(query, ["en"], max_terms=MAX_SAVED_TERMS).tree.children) == 500
    with pytest.raises(QuerySyntaxError) as caught:
        parse(query + " OR one_more", MAX_SAVED_TERMS, MAX_SAVED_LENGTH)
    assert str(caught.value) == "query has too many terms (501, at most 500)"
    with pytest.raises(QuerySyntaxError) as caught:
        analyze_query(query, ["en"])  # an interactive query keeps the small cap
    assert str(caught.value) == f"query is too long ({len(query)} characters, at most 1000)"


@pytest.mark.parametrize(
    ("query", "tree"),
    [
        ("title:Meta", Word("Meta", field="title")),
        ("Body:chip*", Word("chip", True, "body")),
        ('title:"Meta AI" OpenAI', And((PhraseWords(("Meta", "AI"), "title"), Word("OpenAI")))),
        (
            "-title:(a OR b) c",
            And((Not(Or((Word("a", field="title"), Word("b", field="title")))), Word("c"))),
        ),
        ("title:super-intel*", And((Word("super", field="title"), Word("intel", True, "title")))),
        ('"10:30"', PhraseWords(("10", "30"))),
        ("Superintelligenz: Meta", And((Word("Superintelligenz"), Word("Meta")))),
        ("title: Meta", Word("Meta", field="title")),
    ],
)
def test_field_operators_mark_each_word(query: str, tree: object) -> None:
    assert parse(query) == tree


def test_fields_reach_the_analysed_tree() -> None:
    analyzed = analyze_query('title:models -body:"data centres"', ["en"])
    assert analyzed.tree == And(
        (Terms(("model",), field="title"), Not(Phrase((("data", "centr"),), field="body")))
    )


def test_near_is_tighter_than_and_and_or() -> None:
    near = Near((Word("a"), PhraseWords(("b", "c"))), 3)
    assert parse('x a NEAR/3 "b c" OR y') == Or((And((Word("x"), near)), Word("y")))
    assert parse('"a b"~7') == Near((Word("a"), Word("b")), 7)
    assert analyze_query("models NEAR/2 chip*", ["en"]).tree == Near(
        (Terms(("model",)), Terms(("chip",), prefix=True)), 2
    )


def test_query_error_is_a_value_error() -> None:
    assert issubclass(QuerySyntaxError, ValueError)


@pytest.mark.parametrize(
    ("query", "tree"),
    [
        # Control characters and NUL separate words and never reach a store.
        ("a\x00b", And((W("a"), W("b")))),
        ("a b\x00c\x07d", And((W("a"), W("b"), W("c"), W("d")))),
        ("a\tb\nc", And((W("a"), W("b"), W("c")))),
        ("\x00\x01\x1b[31m\x7f", W("31m")),
        ("a\x1b[2Jb", And((W("a"), W("2Jb")))),
        # A stray '-' or '*' next to a word is ignored.
        ("a -", W("a")),
        ("*a", W("a")),
        ("a-", W("a")),
        ("NEAR(a b)", And((W("NEAR"), And((W("a"), W("b")))))),
    ],
)
def test_hostile_inputs_parse_to_plain_trees(query: str, tree: object) -> None:
    assert parse(query) == tree


def test_at_most_max_terms_is_accepted() -> None:
    words = [f"w{i}" for i in range(MAX_TERMS)]
    assert parse(" ".join(words)) == And(tuple(W(w) for w in words))


def test_a_phrase_counts_as_one_term() -> None:
    phrase = '"' + " ".join(f"w{i}" for i in range(40)) + '"'
    assert parse(phrase) == PhraseWords(tuple(f"w{i}" for i in range(40)))


# --- analysed trees ----------------------------------------------------------------------

EN_FR = ["en", "fr"]


NO_PHRASES: set[tuple[str, ...]] = set()


@pytest.mark.parametrize(
    ("query", "tree", "highlight", "prefixes", "phrases"),
    [
        ("modèles", Terms(("model",)), {"model"}, set(), NO_PHRASES),
        ("Chips", Terms(("chip",)), {"chip"}, set(), NO_PHRASES),
        ("races", Terms(("race", "rac")), {"race", "rac"}, set(), NO_PHRASES),
        ("l’IA", Terms(("ia",)), {"ia"}, set(), NO_PHRASES),
        (
            "OpenAI OR DeepMind",
            Or((Terms(("openai", "open")), Terms(("deepmind",)))),
            {"openai", "open", "deepmind"},
            set(),
            NO_PHRASES,
        ),
        # A phrase is highlighted as a phrase, one sequence per language.
        (
            '"frontier models"',
            Phrase((("frontier", "model"), ("fronti", "model"))),
            set(),
            set(),
            {("frontier", "model"), ("fronti", "model")},
        ),
        (
            "super-intelligence",
            Phrase((("super", "intellig"), ("sup", "intelligent"))),
            set(),
            set(),
            {("super", "intellig"), ("sup", "intelligent")},
        ),
        # A prefix is also tried as folded, since a stem may be shorter than the prefix.
        (
            "intelligence*",
            Terms(("intelligence", "intellig", "intelligent"), prefix=True),
            set(),
            {"intelligence", "intellig", "intelligent"},
            NO_PHRASES,
        ),
        (
            "générale*",
            Terms(("generale", "general"), prefix=True),
            set(),
            {"generale", "general"},
            NO_PHRASES,
        ),
        # Excluded words and phrases are searched but never highlighted.
        (
            'models -puces -"data centre"',
            And(
                (
                    Terms(("model",)),
                    Not(Terms(("puce", "puc"))),
                    Not(Phrase((("data", "centr"), ("dat", "centr")))),
                )
            ),
            {"model"},
            set(),
            NO_PHRASES,
        ),
    ],
)
def test_analyze_query_en_fr(
    query: str,
    tree: object,
    highlight: set[str],
    prefixes: set[str],
    phrases: set[tuple[str, ...]],
) -> None:
    analysed = analyze_query(query, EN_FR)
    assert analysed.text == query
    assert analysed.languages == ("en", "fr")
    assert analysed.tree == tree
    assert analysed.highlight == frozenset(highlight)
    assert analysed.highlight_prefixes == frozenset(prefixes)
    assert analysed.highlight_phrases == frozenset(phrases)


def test_analyze_query_without_languages_folds_only() -> None:
    analysed = analyze_query("Modèles", [])
    assert analysed.languages == ("",)
    assert analysed.tree == Terms(("modeles",))


def test_analyze_query_raises_the_parse_error() -> None:
    with pytest.raises(QuerySyntaxError, match=r"^OR needs a term on its right$"):
        analyze_query("a OR", EN_FR)
