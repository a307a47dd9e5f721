"""Snippets and highlights, cut from an article's raw text by the project.

Both stores return the raw text and let this module choose the passage and the
words to mark, using the same tokenisation and analysis as indexing, so every
store highlights the same words. A snippet is plain text plus the spans to mark:
callers escape the text for their medium before inserting marks
(:func:`to_html`, :func:`to_terminal`).
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from search.analysis import fold, stem_words, tokens_at, words
from search.query import AnalyzedQuery


@dataclass(frozen=True)
class Snippet:
    """A passage of raw text and the character spans within it that matched."""

    text: str
    spans: tuple[tuple[int, int], ...] = ()

    def as_dict(self) -> dict:
        return {"text": self.text, "highlights": [list(s) for s in self.spans]}


def _hits(text: str, language: str | None, query: AnalyzedQuery) -> list[tuple[int, int, str]]:
    """``(start, end, term)`` of every word of ``text`` that the query matches.

    Single words match by their analysed term or a prefix; a phrase marks its words
    only where they stand together, in order. The words are those of
    :func:`~search.analysis.tokenize`; only the matched ones get their offsets.
    """
    bare = words(text)
    # Each distinct word is folded and stemmed once; then the words are only looked up.
    distinct = list(dict.fromkeys(bare))
    folded = [fold(w) for w in distinct]
    stems = stem_words(folded, language)
    wanted, prefixes = query.highlight, tuple(query.highlight_prefixes)
    term_of = dict(zip(distinct, stems, strict=True))
    matching = {
        word: term
        for word, fold_, term in zip(distinct, folded, stems, strict=True)
        if term in wanted
        or (prefixes and (term.startswith(prefixes) or fold_.startswith(prefixes)))
    }
    marked: dict[int, str] = {i: matching[w] for i, w in enumerate(bare) if w in matching}
    if query.highlight_phrases:
        terms = [term_of[w] for w in bare]
        for phrase in query.highlight_phrases:
            size = len(phrase)
            for i in range(len(terms) - size + 1):
                if terms[i] == phrase[0] and tuple(terms[i : i + size]) == phrase:
                    marked.update((i + j, " ".join(phrase)) for j in range(size))
    tokens = tokens_at(text, marked)
    return [(tokens[i].start, tokens[i].end, marked[i]) for i in sorted(marked)]


def highlight(text: str, language: str | None, query: AnalyzedQuery) -> Snippet:
    """Mark every word of ``text`` that matches the query (for short texts: titles)."""
    return Snippet(text, tuple((s, e) for s, e, _ in _hits(text, language, query)))


def make_snippet(
    text: str, language: str | None, query: AnalyzedQuery | None, width: int = 240
) -> Snippet:
    """The passage of about ``width`` characters with the most distinct matched words."""
    text = " ".join(text.split())  # one line: newlines and runs of spaces collapse
    if query is None or not text:
        return Snippet(_cut(text, 0, width)[0], ())
    hits = _hits(text, language, query)
    if not hits:
        return Snippet(_cut(text, 0, width)[0], ())
    # Each candidate passage holds the hits within ``width`` of one hit, and starts a
    # little before it (at a word boundary) when they leave room; it is scored on
    # exactly the hits it will show.
    best: tuple[int, int, int] | None = None  # (score, begin, end)
    for start, _, _ in hits[:200]:
        reach = max(e for s, e, _ in hits if s >= start and e <= start + width)
        begin = max(0, start - max(0, min(width // 6, width - 1 - (reach - start))))
        if begin:
            space = text.find(" ", begin)
            begin = space + 1 if 0 <= space < start else begin
        end = _cut(text, begin, width)[1]
        shown = [h for h in hits if h[0] >= begin and h[1] <= end]
        score = len({h[2] for h in shown}) * 1000 + len(shown)
        if best is None or score > best[0]:
            best = (score, begin, end)
    assert best is not None
    _, begin, end = best
    passage = _cut(text, begin, width)[0]
    shift = begin - (1 if begin else 0)  # a leading ellipsis takes one character
    spans = tuple((s - shift, e - shift) for s, e, _ in hits if s >= begin and e <= end)
    return Snippet(passage, spans)


def _cut(text: str, begin: int, width: int) -> tuple[str, int]:
    """The text from ``begin``, cut at a space before ``width``; and where it ends."""
    end = begin + width
    if end < len(text):
        space = text.rfind(" ", begin, end)
        end = space if space > begin else end
    passage = text[begin:end]
    return ("…" if begin > 0 else "") + passage + ("…" if end < len(text) else ""), end


def to_html(snippet: Snippet, mark: str = "mark") -> str:
    """HTML for a snippet: the text escaped, then the matched words wrapped in ``<mark>``."""
    out, last = [], 0
    for start, end in snippet.spans:
        out.append(html.escape(snippet.text[last:start]))
        out.append(f"<{mark}>{html.escape(snippet.text[start:end])}</{mark}>")
        last = end
    out.append(html.escape(snippet.text[last:]))
    return "".join(out)


def to_terminal(snippet: Snippet, color: bool) -> str:
    """Terminal text for a snippet: matched words in bold (or between ** without color)."""
    on, off = ("\x1b[1m", "\x1b[0m") if color else ("**", "**")
    out, last = [], 0
    for start, end in snippet.spans:
        out += [_printable(snippet.text[last:start]), on, _printable(snippet.text[start:end]), off]
        last = end
    out.append(_printable(snippet.text[last:]))
    return "".join(out)


def _printable(text: str) -> str:
    # Scraped text must not drive the terminal: drop control characters (ESC included).
    return "".join(c for c in text if c.isprintable() or c == " ")
