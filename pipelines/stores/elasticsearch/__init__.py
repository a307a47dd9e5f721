"""ElasticsearchStore: the same Store as SqliteStore, kept in an Elasticsearch cluster.

Layout, for an ``index`` name such as ``newswatch-articles``:

* an index template ``<index>`` for the indices ``<index>-v*`` (settings and a strict
  mapping), and the versioned index ``<index>-v1`` behind the alias ``<index>``. Every
  read and write goes through the alias, so a mapping change is a new versioned index,
  a copy and an atomic alias swap (:meth:`ElasticsearchStore.migrate`);
* ``<index>-runs``, the crawl history.

A document holds the filter fields as keywords and dates, the raw title and body for
display (not indexed), the analysed terms of ``search.analysis.index_terms`` in
``title_terms`` / ``body_terms`` (``whitespace`` analyzer: the terms are already analysed),
and the rest of the article in a non-indexed object, so ``get`` returns the whole
article. Queries are built from the analysed tree as bool / combined_fields / prefix /
match_phrase clauses on ``title_terms^3`` and ``body_terms`` (SqliteStore's BM25 column
weights); user text never reaches Elasticsearch as query syntax.

The semantics are SqliteStore's: the same matches, filters, sort orders, facets, story
collapse, upsert outcomes and revisions (``tests/pipelines/test_store_contract.py``).

Modules: ``mapping`` (template, mapping, settings, index names, documents), ``query``
(the analysed tree, filters, facets and sort in the query DSL), ``store`` (the
ElasticsearchStore class), ``bulk`` (its bulk writes), ``migrate`` (setting up the
indices, migrations), ``connect`` (a client for the config) and ``errors`` (one-line
reasons).
"""

from pipelines.stores.elasticsearch.migrate import MigrationReport
from pipelines.stores.elasticsearch.store import ElasticsearchStore

__all__ = ["ElasticsearchStore", "MigrationReport"]
