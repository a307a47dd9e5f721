"""The tables of SqliteStore: articles, their topics and bands, the FTS5 index, the runs."""

SCHEMA_VERSION = 2  # 2: articles_cover (added to a version 1 store when opened)

SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    doc INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL,
    language TEXT,
    published_at TEXT,
    story_id TEXT,
    body_hash TEXT,
    indexed_at TEXT NOT NULL,
    revision INTEGER NOT NULL DEFAULT 1,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS articles_body_hash ON articles(body_hash);
CREATE INDEX IF NOT EXISTS articles_published ON articles(published_at);
CREATE INDEX IF NOT EXISTS articles_source ON articles(source, language);
-- What a search reads of every match (filters, order, collapse, facets), narrow: the
-- rows themselves are wide (each holds its article) and are read for the page only.
CREATE INDEX IF NOT EXISTS articles_cover
    ON articles(doc, language, source, published_at, story_id, id);
CREATE TABLE IF NOT EXISTS article_topics (
    topic TEXT NOT NULL, doc INTEGER NOT NULL, PRIMARY KEY (topic, doc)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS article_bands (
    band TEXT NOT NULL, doc INTEGER NOT NULL, PRIMARY KEY (band, doc)
) WITHOUT ROWID;
CREATE VIRTUAL TABLE IF NOT EXISTS articles_fts USING fts5(title, body, tokenize = 'ascii');
CREATE TABLE IF NOT EXISTS runs (
    run INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL,
    error TEXT,
    stats TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS runs_source ON runs(source, started_at);
"""


# The matches of the search being run (one per connection: a temporary table).
MATCHES_TABLE = """
CREATE TEMP TABLE IF NOT EXISTS search_matches (
    doc INTEGER, id TEXT, published_at TEXT, story_id TEXT, language TEXT, source TEXT, rank REAL
)"""
