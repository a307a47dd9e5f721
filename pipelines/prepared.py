"""Work done ahead: what a worker process computed for the stages after extraction.

A worker (``pipelines/workers.py``) runs the CPU-bound part of several stages
(tidying, topic matching, fingerprints, index terms) so that the stages in the
reactor only decide and look up. What it did travels on the article as an
attribute that is not a field: it is pickled with the article back to the
reactor, but never stored nor serialised (``Article.to_dict`` ignores it), and an
article read back from a store or the outbox has none. Every stage therefore
asks :func:`done` and computes what is missing itself.
"""

from __future__ import annotations

from typing import Any

from search.analysis import index_terms

_DONE = "_newswatch_done"  # the stages whose work is done ahead (a set of names)
_TERMS = "_newswatch_terms"  # field -> (language, the text analysed, its index terms)


def done(article: Any, stage: str) -> bool:
    """Whether ``stage``'s work on ``article`` was done ahead (in a worker)."""
    return stage in getattr(article, _DONE, ())


def mark(article: Any, stage: str) -> None:
    """Record that ``stage``'s work on ``article`` is done."""
    marked = getattr(article, _DONE, None)
    if marked is None:
        marked = set()
        setattr(article, _DONE, marked)
    marked.add(stage)


def compute_terms(article: Any) -> None:
    """Analyse title and body ahead, as the stores index them."""
    setattr(
        article,
        _TERMS,
        {
            name: (article.language, text, index_terms(text, article.language))
            for name, text in (("title", article.title), ("body", article.body))
        },
    )


def terms(article: Any, name: str) -> str:
    """``index_terms`` of the article's ``name`` field (title or body) in its language.

    The terms computed ahead when they are still those of the field's text and the
    article's language (the text is pickled once with the article: the check is
    mostly an identity test); computed here otherwise.
    """
    text = getattr(article, name)
    ahead = getattr(article, _TERMS, {}).get(name)
    if ahead is not None:
        language, analysed_text, result = ahead
        if language == article.language and (analysed_text is text or analysed_text == text):
            return result
    return index_terms(text, article.language)
