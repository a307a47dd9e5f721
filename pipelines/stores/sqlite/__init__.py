"""SqliteStore: the embedded default store, a SQLite file in WAL mode with FTS5.

Modules: ``schema`` (the tables), ``query`` (the FTS5 expression of a query, filters and
order as SQL) and ``store`` (the SqliteStore class).
"""

from pipelines.stores.sqlite.query import fts_expression
from pipelines.stores.sqlite.store import SqliteStore

__all__ = ["SqliteStore", "fts_expression"]
