"""Text analysis: the one chain that turns text into search terms.

Every store indexes the output of :func:`index_terms` and every query is analysed
with the same functions, so the embedded store and Elasticsearch match alike.
The topic matcher uses :func:`tokenize` and :func:`fold` too (without stemming).

The chain: Unicode word tokenisation -> elision and possessive stripping ->
case and accent folding -> Snowball stemming in the text's own language.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import Stemmer

# A word is a run of letters or digits, possibly joined by apostrophes
# (l'IA, OpenAI's, aujourd'hui); underscores are not word characters.
_WORD = re.compile(r"[^\W_]+(?:['’ʼ][^\W_]+)*")
_APOSTROPHES = "'’ʼ"

# Elided articles and pronouns written before a word (French, Italian, Catalan).
ELISIONS = frozenset(
    {
        "l",
        "d",
        "j",
        "m",
        "n",
        "s",
        "t",
        "c",
        "qu",
        "lorsqu",
        "puisqu",
        "jusqu",
        "quoiqu",
        "dell",
        "all",
        "dall",
        "nell",
        "sull",
        "coll",
        "un",
        "quell",
        "quest",
        "po",
    }
)

# ISO 639-1 codes to Snowball algorithm names (PyStemmer); languages without a
# stemmer are folded but not stemmed.
SNOWBALL = {
    "ar": "arabic",
    "hy": "armenian",
    "eu": "basque",
    "ca": "catalan",
    "cs": "czech",
    "da": "danish",
    "nl": "dutch",
    "en": "english",
    "eo": "esperanto",
    "et": "estonian",
    "fi": "finnish",
    "fr": "french",
    "de": "german",
    "el": "greek",
    "hi": "hindi",
    "hu": "hungarian",
    "id": "indonesian",
    "ga": "irish",
    "it": "italian",
    "lt": "lithuanian",
    "ne": "nepali",
    "no": "norwegian",
    "nb": "norwegian",
    "fa": "persian",
    "pl": "polish",
    "pt": "portuguese",
    "ro": "romanian",
    "ru": "russian",
    "sr": "serbian",
    "es": "spanish",
    "sv": "swedish",
    "ta": "tamil",
    "tr": "turkish",
    "yi": "yiddish",
}


@dataclass(frozen=True, slots=True)
class Token:
    """A word of the raw text: its bare form and where it stands in the text."""

    word: str  # the word with elisions and possessives removed, case kept
    start: int  # offsets of the bare word in the raw text
    end: int


def tokenize(text: str) -> list[Token]:
    """Split raw text into words, reducing elisions and possessives to the bare word.

    ``l'IA`` gives ``IA``; ``OpenAI's`` gives ``OpenAI``; ``aujourd'hui`` stays whole.
    """
    tokens: list[Token] = []
    for match in _WORD.finditer(text):
        word, start, end = match.group(), match.start(), match.end()
        if "'" in word or "’" in word or "ʼ" in word:
            word, start, end = _strip_apostrophes(word, start, end)
        tokens.append(Token(word, start, end))
    return tokens


def tokens_at(text: str, positions: Iterable[int]) -> dict[int, Token]:
    """The tokens of ``text`` (as :func:`tokenize`) at these word positions only."""
    wanted = set(positions)
    found: dict[int, Token] = {}
    if not wanted:
        return found
    last = max(wanted)
    for i, match in enumerate(_WORD.finditer(text)):
        if i in wanted:
            word, start, end = match.group(), match.start(), match.end()
            if "'" in word or "’" in word or "ʼ" in word:
                word, start, end = _strip_apostrophes(word, start, end)
            found[i] = Token(word, start, end)
            if i >= last:
                break
    return found


def words(text: str) -> list[str]:
    """The bare words of ``text`` (as :func:`tokenize` gives them), without offsets: faster."""
    out = _WORD.findall(text)
    for i, word in enumerate(out):
        if "'" in word or "’" in word or "ʼ" in word:
            out[i] = _strip_apostrophes(word, 0, len(word))[0]
    return out


def _strip_apostrophes(word: str, start: int, end: int) -> tuple[str, int, int]:
    parts = re.split(r"['’ʼ]", word)
    # Possessive: OpenAI's -> OpenAI (only a final lone "s").
    if len(parts) > 1 and parts[-1] in ("s", "S"):
        end -= len(parts[-1]) + 1
        parts = parts[:-1]
    # Elisions: l'IA, d'OpenAI, qu'il, dell'IA -> drop the leading clitics.
    while len(parts) > 1 and parts[0].lower() in ELISIONS:
        start += len(parts[0]) + 1
        parts = parts[1:]
    return "'".join(parts), start, end


@lru_cache(maxsize=65536)
def fold(word: str) -> str:
    """Fold case and accents: ``Générale`` -> ``generale``, ``Straße`` -> ``strasse``."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).replace("'", "")


@lru_cache(maxsize=64)
def _stemmer(language: str) -> Stemmer.Stemmer | None:
    algorithm = SNOWBALL.get(language)
    return Stemmer.Stemmer(algorithm) if algorithm else None


def base_language(language: str | None) -> str:
    """``fr-FR`` -> ``fr``; empty or missing -> ``""``."""
    return (language or "").split("-")[0].split("_")[0].lower()


def stem(folded: str, language: str | None) -> str:
    """Stem a folded word with the Snowball stemmer of ``language`` (unchanged if none)."""
    stemmer = _stemmer(base_language(language))
    return stemmer.stemWord(folded) if stemmer else folded


def analyze(text: str, language: str | None) -> list[str]:
    """The search terms of ``text``, in order: folded and stemmed in ``language``."""
    stemmer = _stemmer(base_language(language))
    folded = [fold(w) for w in words(text)]
    return stemmer.stemWords(folded) if stemmer else folded


def stem_words(folded: list[str], language: str | None) -> list[str]:
    """:func:`stem` of each folded word, in one call to the stemmer."""
    stemmer = _stemmer(base_language(language))
    return stemmer.stemWords(folded) if stemmer else list(folded)


def index_terms(text: str, language: str | None) -> str:
    """The analysed terms of ``text`` joined by spaces: what the stores index."""
    return " ".join(analyze(text, language))


def term_variants(word: str, languages: list[str]) -> list[str]:
    """A query word's search terms: its stem in each candidate language, deduplicated.

    A query does not know the language of the articles it will match, so a word is
    looked up under every stem it has in the languages being searched.
    """
    folded = fold(word)
    variants = dict.fromkeys(stem(folded, lang) for lang in languages or [""])
    return list(variants)
