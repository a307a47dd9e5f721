"""The query language's operators on both stores: the contract suite's corpus and fixtures.

Every test runs against SQLite and against a real Elasticsearch node, with the same
expected articles: one parse tree, translated by each store.
"""

from __future__ import annotations

import pytest
from test_store_contract import loaded, new_store, search, store  # noqa: F401 (fixtures)
from test_store_contract import names as _names

from pipelines.stores.base import Store
from search.query import QuerySyntaxError

META_TITLES = ["de-meta", "en-meta-lab", "es-talavera", "es-talavera-copy", "fr-meta-recrute"]
NVIDIA_TITLES = ["en-nvidia-blog", "en-nvidia-copy", "en-nvidia-record", "fr-nvidia", "it-chip"]


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
    ],
)
def test_a_bad_field_operator_is_a_query_error(loaded: Store, query: str, message: str) -> None:  # noqa: F811
    with pytest.raises(QuerySyntaxError) as caught:
        search(loaded, query)
    assert str(caught.value) == message
