"""The query language's operators on both stores: the contract suite's corpus and fixtures.

Every test runs against SQLite and against a real Elasticsearch node, with the same
expected articles: one parse tree, translated by each store.
"""

from __future__ import annotations

import pytest
from test_store_contract import CORPUS, loaded, new_store, search, store  # noqa: F401 (fixtures)
from test_store_contract import names as _names

from pipelines.stores.base import Store
from search.query import QuerySyntaxError

META_TITLES = ["de-meta", "en-meta-lab", "es-talavera", "es-talavera-copy", "fr-meta-recrute"]
NVIDIA_TITLES = ["en-nvidia-blog", "en-nvidia-copy", "en-nvidia-record", "fr-nvidia", "it-chip"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # Both hold Meta and OpenAI; the copy has them more than one word apart.
        ("Meta OpenAI", ["en-meta-lab", "en-meta-lab-copy"]),
        ("Meta NEAR/5 OpenAI", ["en-meta-lab", "en-meta-lab-copy"]),
        ("Meta NEAR/1 OpenAI", ["en-meta-lab"]),
        ("OpenAI NEAR/1 Meta", ["en-meta-lab"]),  # either order
        ("Meta NEAR/0 OpenAI", []),
        ('"Meta OpenAI"~1', ["en-meta-lab"]),
        ('title:"Meta OpenAI"~1', ["en-meta-lab"]),
        ("title:Meta NEAR/1 title:OpenAI", ["en-meta-lab"]),
        ("body:Meta NEAR/1 body:OpenAI", []),
        # a prefix and a phrase, stemmed, as operands
        (
            "Nvidia NEAR/3 chip*",
            ["en-memphis", "en-nvidia-blog", "en-nvidia-copy", "en-nvidia-record", "it-chip"],
        ),
        ('chips NEAR/2 "data centres"', ["en-nvidia-blog", "en-nvidia-copy", "en-nvidia-record"]),
        ("superintellig* NEAR/3 Meta", ["de-meta", "fr-meta-recrute", "it-meta"]),
        ("Meta NEAR/1 OpenAI -Zuckerberg", ["en-meta-lab"]),
        ("Meta NEAR/1 OpenAI OR Mistral", ["en-meta-lab", "fr-mistral"]),
    ],
)
def test_proximity(loaded: Store, query: str, expected: list[str]) -> None:  # noqa: F811
    assert sorted(_names(search(loaded, query))) == sorted(expected)
    assert search(loaded, query).total == len(expected)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # The copy of the Meta story is titled after Zuckerberg: Meta only in its body.
        ("title:Meta", [*META_TITLES, "it-meta"]),
        ("TITLE:meta", [*META_TITLES, "it-meta"]),
        ("Meta -title:Meta", ["en-meta-lab-copy"]),
        # Nvidia in the body only: the Memphis data centre and the KI-Fabriken story.
        ("body:Nvidia -title:Nvidia", ["de-fabriken", "en-memphis"]),
        ("title:Nvidia", NVIDIA_TITLES),
        ("title:(Nvidia OR Mistral)", [*NVIDIA_TITLES, "fr-mistral"]),
        ('title:"data centres"', ["en-memphis"]),
        (
            "title:superintellig*",
            ["de-meta", "en-meta-lab", "en-meta-lab-copy", "fr-meta-recrute", "it-meta"],
        ),
        ("title:nothingatall OR title:Memphis", ["en-memphis"]),
    ],
)
def test_field_operators(loaded: Store, query: str, expected: list[str]) -> None:  # noqa: F811
    assert sorted(_names(search(loaded, query))) == sorted(expected)
    assert search(loaded, query).total == len(expected)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "nosuchfield:x",
            "unknown field 'nosuchfield:' (fields: body:, title:); quote the text to search "
            "for it as words",
        ),
        ("title:", "'title:' needs a word, a phrase or a group after it"),
        ("title:(body:x)", "'body:' cannot be used inside 'title:'"),
        ("a NEAR/x b", "malformed 'NEAR/x': write a number of words up to 100 after it"),
        ("a NEAR/101 b", "malformed 'NEAR/101': write a number of words up to 100 after it"),
        ("a ONEAR/3 b", "ONEAR/3 (in order) is not available; use NEAR/n"),
        ("NEAR/3 b", "NEAR/3 needs a word or phrase on each side"),
        ("a NEAR/3 (b c)", "NEAR/3 joins two words or phrases (no groups, no '-')"),
        ("a NEAR/3 b NEAR/2 c", "NEAR/2 joins two words or phrases (no groups, no '-')"),
        ("title:a NEAR/2 b", "NEAR/2 joins words of one field"),
        ('"a b c"~2', '"a b c"~2 needs two words; use NEAR/n'),
    ],
)
def test_a_bad_operator_is_a_query_error_naming_it(loaded: Store, query: str, message: str) -> None:  # noqa: F811
    with pytest.raises(QuerySyntaxError) as caught:
        search(loaded, query)
    assert str(caught.value) == message


def test_ids_starting_with_a_prefix(loaded: Store) -> None:  # noqa: F811
    ids = sorted(article.id for article in CORPUS)
    first = ids[0]
    assert loaded.ids_starting(first) == [first]
    assert loaded.ids_starting(first[:-1], 5) == [i for i in ids if i.startswith(first[:-1])]
    assert loaded.ids_starting("", 3) == ids[:3]
    assert loaded.ids_starting("zz") == []  # ids are hexadecimal
