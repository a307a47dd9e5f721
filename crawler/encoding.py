"""Decoding an HTML page the way a browser does.

A declared encoding wins, in the browsers' order (WHATWG "encoding sniffing"), which
Scrapy and w3lib follow: a byte order mark, then the ``charset`` of the HTTP
``Content-Type`` header, then ``<meta charset>`` / ``<meta http-equiv>`` in the page.
A header that contradicts the page's ``<meta>`` therefore wins, as in a browser, and
``iso-8859-1`` is read as its superset ``windows-1252``.

Only an undeclared page that is not UTF-8 needs a guess. A browser guesses from the
reader's locale; a crawler has the page's own language (``<html lang>``), else its
feed's or its source's, and uses the encoding the HTML standard suggests for that
locale (``windows-1252`` for Western languages, ``iso-8859-2`` for Polish...). Only
with no language at all does Scrapy's statistical guess (charset-normalizer) decide:
on short Western pages it often picks ``windows-1250`` and turns ``ï`` into ``ď``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from scrapy.http import TextResponse
from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding, read_bom

# The HTML standard's suggested default encodings by locale (section 13.2.3.3);
# every other language: windows-1252.
LOCALE_ENCODINGS = {
    "ar": "windows-1256",
    "ba": "windows-1251",
    "be": "windows-1251",
    "bg": "windows-1251",
    "cs": "windows-1250",
    "el": "iso-8859-7",
    "et": "windows-1257",
    "fa": "windows-1256",
    "he": "windows-1255",
    "hr": "windows-1250",
    "hu": "iso-8859-2",
    "ja": "shift_jis",
    "kk": "windows-1251",
    "ko": "euc-kr",
    "ku": "windows-1254",
    "ky": "windows-1251",
    "lt": "windows-1257",
    "lv": "windows-1257",
    "mk": "windows-1251",
    "pl": "iso-8859-2",
    "ru": "windows-1251",
    "sah": "windows-1251",
    "sk": "windows-1250",
    "sl": "iso-8859-2",
    "sr": "windows-1251",
    "tg": "windows-1251",
    "th": "windows-874",
    "tr": "windows-1254",
    "tt": "windows-1251",
    "uk": "windows-1251",
    "vi": "windows-1258",
    "zh-cn": "gb18030",
    "zh-tw": "big5",
}
DEFAULT_LEGACY_ENCODING = "windows-1252"

_HTML_LANG = re.compile(
    rb"<html\b[^>]*?\blang\s*=\s*[\"']?\s*([A-Za-z]{2,3}(?:[-_][A-Za-z0-9]+)?)", re.IGNORECASE
)
_SNIFF_BYTES = 64 * 1024  # <html lang> sits near the top; a bounded search of huge pages


def declared_encoding(response: TextResponse) -> str | None:
    """The encoding the response declares (BOM, header, meta), in the browsers' order."""
    content_type = response.headers.get(b"Content-Type", b"").decode("latin-1")
    bom, _ = read_bom(response.body)
    return (
        bom
        or http_content_type_encoding(content_type)
        or html_body_declared_encoding(response.body[:_SNIFF_BYTES])
    )


def locale_encoding(language: str | None) -> str | None:
    """The legacy encoding a browser in ``language``'s locale assumes (None: no language)."""
    if not language or not language.strip():
        return None
    code = language.strip().lower().replace("_", "-")
    found = LOCALE_ENCODINGS.get(code) or LOCALE_ENCODINGS.get(code.split("-")[0])
    return found or DEFAULT_LEGACY_ENCODING


def page_text(response: TextResponse, languages: Iterable[str | None] = ()) -> str:
    """The response's text: as declared, else UTF-8, else guessed from a language.

    ``languages`` are fallbacks after the page's own ``<html lang>``: the feed's
    language, the source's. Undecodable bytes become U+FFFD, never an error.
    """
    if declared_encoding(response) is not None:
        return response.text
    body = response.body
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    found = _HTML_LANG.search(body[:_SNIFF_BYTES])
    page_language = found.group(1).decode("ascii") if found else None
    for language in (page_language, *languages):
        encoding = locale_encoding(language)
        if encoding:
            return body.decode(encoding, errors="replace")
    return response.text
