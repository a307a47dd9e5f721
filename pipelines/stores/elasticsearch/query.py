"""Searches in Elasticsearch's query DSL: the analysed tree, filters, facets and sort.

Queries are built from the analysed tree (``search.query``) as bool / combined_fields /
prefix / match_phrase clauses on ``title_terms^3`` and ``body_terms`` (SqliteStore's BM25
column weights); user text never reaches Elasticsearch as query syntax.
"""

from __future__ import annotations

from typing import Any

from pipelines.stores.base import SearchRequest
from pipelines.stores.elasticsearch.mapping import _MAX_TOKEN, TITLE_BOOST, fts_tokens
from search.query import AnalyzedQuery, And, Near, Not, Or, Phrase, Terms

FACETS = ("language", "source", "topics")


def _on_both(kind: str, value: Any, field: str | None = None) -> list[dict]:
    """A clause on the title (weighted like SqliteStore's BM25) and one on the body.

    ``field`` ("title" or "body", from a field operator) keeps only that one.
    """
    key = "query" if kind.startswith("match_phrase") else "value"
    title = {kind: {"title_terms": {key: value, "boost": TITLE_BOOST}}}
    body = {kind: {"body_terms": {key: value}}}
    return {None: [title, body], "title": [title], "body": [body]}[field]


def _any(clauses: list[dict]) -> dict:
    if not clauses:
        return {"match_none": {}}
    return {"bool": {"should": clauses, "minimum_should_match": 1}}


def _term_clauses(term: str, prefix: bool, field: str | None) -> list[dict]:
    tokens = fts_tokens(term)
    if not tokens:
        return []
    if len(tokens) == 1 and len(tokens[0]) <= _MAX_TOKEN:
        return _on_both("prefix" if prefix else "term", tokens[0], field)
    # FTS5 reads a quoted term it splits as a phrase; long tokens are cut by the analyzer,
    # and match_phrase cuts the query the same way.
    kind = "match_phrase_prefix" if prefix else "match_phrase"
    return _on_both(kind, " ".join(tokens), field)


def _simple(term: str) -> bool:
    """Whether FTS5 reads ``term`` as one token (not a phrase) the analyzer keeps whole."""
    tokens = fts_tokens(term)
    return len(tokens) == 1 and len(tokens[0]) <= _MAX_TOKEN


def _words(node: Terms) -> dict:
    """A query word: any of its stems, scored like SqliteStore's BM25 with column weights.

    FTS5 weights a column by multiplying its term frequencies, under one document length;
    ``combined_fields`` scores the two fields the same way (BM25F), where a ``bool`` over
    both fields would add two separate BM25 scores. Stems FTS5 reads as phrases, and
    prefixes, keep their own clauses.
    """
    simple = [t for t in node.alternatives if _simple(t)]
    if node.prefix or not simple:
        return _any(
            [c for t in node.alternatives for c in _term_clauses(t, node.prefix, node.field)]
        )
    fields = {
        None: [f"title_terms^{TITLE_BOOST:g}", "body_terms"],
        "title": [f"title_terms^{TITLE_BOOST:g}"],
        "body": ["body_terms"],
    }[node.field]
    combined = {
        "query": " ".join(fts_tokens(t)[0] for t in simple),
        "operator": "or",
        "fields": fields,
    }
    clauses = [{"combined_fields": combined}]
    clauses += [
        c for t in node.alternatives if t not in simple for c in _term_clauses(t, False, node.field)
    ]
    return clauses[0] if len(clauses) == 1 else _any(clauses)


def _span_sequence(field: str, tokens: list[str]) -> dict:
    """Tokens in a row as one span (FTS5 reads a split term as a phrase)."""
    spans = [{"span_term": {field: token[:_MAX_TOKEN]}} for token in tokens]
    if len(spans) == 1:
        return spans[0]
    return {"span_near": {"clauses": spans, "slop": 0, "in_order": True}}


def _spans(node: Terms | Phrase, field: str) -> dict | None:
    """A span for any stem of a word (a prefix: span_multi) or any sequence of a phrase."""
    spans = []
    if isinstance(node, Terms):
        for term in node.alternatives:
            tokens = fts_tokens(term)
            if node.prefix and len(tokens) == 1:
                prefix = {"prefix": {field: {"value": tokens[0][:_MAX_TOKEN]}}}
                spans.append({"span_multi": {"match": prefix}})
            elif tokens:  # a split prefix: FTS5 too reads it as a phrase, the * on the last
                spans.append(_span_sequence(field, tokens))
    else:
        for sequence in node.alternatives:
            tokens = [token for word in sequence for token in fts_tokens(word)]
            if tokens:
                spans.append(_span_sequence(field, tokens))
    if not spans:
        return None
    return spans[0] if len(spans) == 1 else {"span_or": {"clauses": spans}}


def _near(node: Near) -> dict:
    """Two words or phrases at most ``distance`` positions apart, in one field (as FTS5)."""
    field = node.children[0].field  # type: ignore[union-attr]
    clauses = []
    for name, boost in (("title", TITLE_BOOST), ("body", 1.0)):
        if field not in (None, name):
            continue
        spans = [_spans(child, f"{name}_terms") for child in node.children]  # type: ignore[arg-type]
        if all(spans):
            near = {"clauses": spans, "slop": node.distance, "in_order": False, "boost": boost}
            clauses.append({"span_near": near})
    return _any(clauses)


def to_query(node: Any) -> dict:
    """The Elasticsearch query of an analysed query tree (``search.query``)."""
    if isinstance(node, Terms):
        return _words(node)
    if isinstance(node, Phrase):
        clauses = []
        for sequence in node.alternatives:
            tokens = [token for word in sequence for token in fts_tokens(word)]
            if tokens:
                clauses += _on_both("match_phrase", " ".join(tokens), node.field)
        return _any(clauses)
    if isinstance(node, Near):
        return _near(node)
    if isinstance(node, Or):
        return _any([to_query(c) for c in node.children])
    if isinstance(node, And):
        must = [to_query(c) for c in node.children if not isinstance(c, Not)]
        must_not = [to_query(c.child) for c in node.children if isinstance(c, Not)]
        return {"bool": {"must": must, "must_not": must_not}}
    raise TypeError(f"cannot translate {node!r}")


def _filters(request: SearchRequest) -> list[dict]:
    clauses: list[dict] = []
    fields = (
        ("language", request.languages),
        ("source", request.sources),
        ("topics", request.topics),
    )
    for name, values in fields:
        if values:
            clauses.append({"terms": {name: list(values)}})
    lower, upper = request.date_bounds()
    if lower or upper:
        bounds = {"gte": lower} if lower else {}
        if upper:
            bounds["lt"] = upper
        clauses.append({"range": {"published_at": bounds}})
    return clauses


def _sort(request: SearchRequest) -> list[dict]:
    by_date = [{"published_at": {"order": "desc", "missing": "_last"}}, {"id": {"order": "asc"}}]
    return by_date if request.sort == "date" else [{"_score": {"order": "desc"}}, *by_date]


def search_body(request: SearchRequest, query: AnalyzedQuery | None) -> dict[str, Any]:
    """The search request body (client keyword arguments) for ``request``.

    ``query``: ``request``'s analysed query (``prepare_query``), None to browse.
    """
    clauses: dict[str, Any] = {"filter": _filters(request)}
    if query is not None:
        clauses["must"] = [to_query(query.tree)]
        matching: dict[str, Any] = {"bool": clauses}
    else:
        matching = {"constant_score": {"filter": {"bool": clauses}, "boost": 0.0}}
    body: dict[str, Any] = {
        "query": matching,
        "sort": _sort(request),
        "track_total_hits": True,
        "track_scores": True,
        "from_": request.offset,
        "size": request.size,
        "aggs": {},
    }
    if request.collapse:
        body["collapse"] = {"field": "story_id", "inner_hits": {"name": "copies", "size": 0}}
        # Exact below the threshold (far above any one search's stories in practice).
        stories = {"field": "story_id", "precision_threshold": 40000}
        body["aggs"]["stories"] = {"cardinality": stories}
    if request.facets:
        order = [{"_count": "desc"}, {"_key": "asc"}]  # SqliteStore's ORDER BY 2 DESC, 1
        for name in FACETS:
            body["aggs"][name] = {"terms": {"field": name, "size": 10000, "order": order}}
        days = {
            "field": "published_at",
            "calendar_interval": "day",
            "format": "yyyy-MM-dd",
            "min_doc_count": 1,
            "time_zone": "UTC",
        }
        body["aggs"]["days"] = {"date_histogram": days}
    if not body["aggs"]:
        del body["aggs"]
    return body


def facets_of(aggs: dict[str, Any]) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
    """The facets and the histogram of a search's aggregations."""
    facets = {
        name: {str(b["key"]): b["doc_count"] for b in aggs[name]["buckets"]} for name in FACETS
    }
    histogram = {b["key_as_string"]: b["doc_count"] for b in aggs["days"]["buckets"]}
    return facets, histogram


# --- the store's other queries --------------------------------------------------


def _excluding(exclude_id: str) -> list[dict]:
    return [{"ids": {"values": [exclude_id]}}]


def body_hash_query(body_hash: str, exclude_id: str) -> dict:
    """The articles with ``body_hash`` but ``exclude_id``."""
    matching = [{"term": {"body_hash": body_hash}}]
    return {"bool": {"filter": matching, "must_not": _excluding(exclude_id)}}


def bands_query(bands: list[str], exclude_id: str) -> dict:
    """The articles sharing a band with ``bands`` but ``exclude_id``; each band scores 1."""
    shared = [
        {"constant_score": {"filter": {"term": {"lsh_bands": band}}, "boost": 1.0}}
        for band in dict.fromkeys(bands)
    ]
    clauses = {"should": shared, "minimum_should_match": 1, "must_not": _excluding(exclude_id)}
    return {"bool": clauses}


def stats_aggs() -> dict:
    """Articles by source, each by language, with its newest article."""
    newest_first = [{"published_at": {"order": "desc", "missing": "_last"}}]
    newest = {"size": 1, "_source": {"includes": ["published_at"]}, "sort": newest_first}
    languages = {"field": "language", "size": 10000, "missing": "?"}
    return {
        "sources": {
            "terms": {"field": "source", "size": 10000},
            "aggs": {"languages": {"terms": languages}, "newest": {"top_hits": newest}},
        }
    }


def last_run_aggs() -> dict:
    """The last run of each source."""
    last = {"size": 1, "sort": [{"sequence": "desc"}]}
    return {
        "sources": {
            "terms": {"field": "source", "size": 10000},
            "aggs": {"last": {"top_hits": last}},
        }
    }
