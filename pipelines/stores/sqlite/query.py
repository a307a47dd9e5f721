"""Searches in SQLite: the analysed tree as an FTS5 expression, filters and order as SQL."""

from __future__ import annotations

import itertools
from typing import Any

from pipelines.stores.base import SearchRequest
from search.query import TEXT_FIELDS, And, Near, Not, Or, Phrase, Terms

TITLE_WEIGHT, BODY_WEIGHT = 3.0, 1.0


def fts_expression(node: Any) -> str:
    """An FTS5 MATCH expression for an analysed query tree.

    Every term is written as an FTS5 string (double-quoted, quotes doubled), so
    no user input is ever read as FTS5 syntax.
    """
    if isinstance(node, Terms):
        star = "*" if node.prefix else ""
        return _column(node.field, " OR ".join(_quote(t) + star for t in node.alternatives))
    if isinstance(node, Phrase):
        return _column(node.field, " OR ".join(_quote(" ".join(seq)) for seq in node.alternatives))
    if isinstance(node, Near):
        # FTS5's NEAR takes phrases only: one NEAR per pair of alternatives (a few stems each).
        choices = [_phrases(child) for child in node.children]
        groups = [
            f"NEAR({' '.join(pair)}, {node.distance})" for pair in itertools.product(*choices)
        ]
        return _column(node.children[0].field, " OR ".join(groups))
    if isinstance(node, Or):
        return "(" + " OR ".join(fts_expression(c) for c in node.children) + ")"
    if isinstance(node, And):
        positive = [fts_expression(c) for c in node.children if not isinstance(c, Not)]
        expression = "(" + " AND ".join(positive) + ")"
        for child in node.children:
            if isinstance(child, Not):
                expression = f"({expression} NOT {fts_expression(child.child)})"
        return expression
    raise TypeError(f"cannot translate {node!r}")


def _column(field: str | None, expression: str) -> str:
    """``expression`` in parentheses, on one FTS5 column (a name of TEXT_FIELDS) if given."""
    if field is None:
        return f"({expression})"
    assert field in TEXT_FIELDS  # the parser allows no other name
    return f"({field} : ({expression}))"


def _phrases(node: Terms | Phrase) -> list[str]:
    """The FTS5 phrases of a word's stems (a prefix marked) or of a phrase's sequences."""
    if isinstance(node, Terms):
        return [_quote(t) + ("*" if node.prefix else "") for t in node.alternatives]
    return [_quote(" ".join(seq)) for seq in node.alternatives]


def _quote(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def _filters(request: SearchRequest) -> tuple[str, list[Any]]:
    clauses, params = ["1 = 1"], []
    for column, values in (("a.language", request.languages), ("a.source", request.sources)):
        if values:
            clauses.append(f"{column} IN ({','.join('?' * len(values))})")
            params += list(values)
    if request.topics:
        marks = ",".join("?" * len(request.topics))
        clauses.append(f"a.doc IN (SELECT doc FROM article_topics WHERE topic IN ({marks}))")
        params += list(request.topics)
    lower, upper = request.date_bounds()
    if lower:
        clauses.append("a.published_at >= ?")
        params.append(lower)
    if upper:
        clauses.append("a.published_at < ?")
        params.append(upper)
    return " AND ".join(clauses), params


def _qualify(order: str, alias: str) -> str:
    """Prefix the columns of an ORDER BY clause with a table alias."""
    out = []
    for part in order.split(", "):
        out.append(f"{alias}.{part}")
    return ", ".join(out)
