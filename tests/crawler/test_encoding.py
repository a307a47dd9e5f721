"""Decoding pages as browsers do: BOM, then header, then meta; else the language's encoding."""

from __future__ import annotations

import pytest
from scrapy.http import HtmlResponse

from crawler.encoding import declared_encoding, locale_encoding, page_text

TITLE = "Café “naïve” – €5"  # windows-1252 beyond iso-8859-1
POLISH = "Zażółć gęślą jaźń"


def page(title: str, encoding: str, head: str = "", lang: str | None = None) -> bytes:
    attribute = f' lang="{lang}"' if lang else ""
    return f"<html{attribute}><head>{head}<title>{title}</title></head><body></body></html>".encode(
        encoding
    )


def response(body: bytes, content_type: str | None = "text/html") -> HtmlResponse:
    headers = {"Content-Type": content_type} if content_type else {}
    return HtmlResponse("http://news.test/a", body=body, headers=headers)


def title_of(text: str) -> str:
    return text.split("<title>")[1].split("</title>")[0]


@pytest.mark.parametrize(
    ("body", "content_type", "declared"),
    [
        (b"\xef\xbb\xbf" + page(TITLE, "utf-8"), "text/html; charset=windows-1252", "utf-8"),
        (
            page(TITLE, "cp1252", '<meta charset="utf-8">'),
            "text/html; charset=windows-1252",
            "cp1252",
        ),
        (page(POLISH, "iso-8859-2", '<meta charset="iso-8859-2">'), "text/html", "iso8859-2"),
        (page(TITLE, "cp1252"), "text/html", None),
        (page(TITLE, "cp1252"), None, None),
    ],
)
def test_declared_encoding_bom_then_header_then_meta(body, content_type, declared):
    assert declared_encoding(response(body, content_type)) == declared


@pytest.mark.parametrize(
    ("body", "content_type", "languages", "title"),
    [
        # A BOM beats the header; the header beats the meta.
        (b"\xef\xbb\xbf" + page(TITLE, "utf-8"), "text/html; charset=windows-1252", (), TITLE),
        (
            page(TITLE, "cp1252", '<meta charset="utf-8">'),
            "text/html; charset=windows-1252",
            (),
            TITLE,
        ),
        # iso-8859-1 is read as windows-1252, as browsers do.
        (page(TITLE, "cp1252"), "text/html; charset=ISO-8859-1", (), TITLE),
        (page(POLISH, "iso-8859-2", '<meta charset="iso-8859-2">'), "text/html", (), POLISH),
        # Undeclared: UTF-8 if it is, else the legacy encoding of the page's language...
        (page(TITLE, "utf-8"), "text/html", (), TITLE),
        (page(TITLE, "cp1252", lang="fr"), "text/html", (), TITLE),
        (page(POLISH, "iso-8859-2", lang="pl-PL"), "text/html", (), POLISH),
        (page(POLISH, "cp1250", lang="cs"), "text/html", (), POLISH),
        # ... else of the feed's or the source's language, in that order.
        (page(POLISH, "iso-8859-2"), "text/html", (None, "pl"), POLISH),
        (page(TITLE, "cp1252"), "text/html", ("de", "pl"), TITLE),
    ],
)
def test_page_text(body, content_type, languages, title):
    assert title_of(page_text(response(body, content_type), languages)) == title


def test_a_wrong_header_wins_and_bad_bytes_become_replacement_characters():
    body = page(POLISH, "iso-8859-2", '<meta charset="iso-8859-2">')
    text = page_text(response(body, "text/html; charset=utf-8"))
    assert title_of(text) == "Za\ufffd\ufffd\ufffd g\ufffdl\ufffd ja\ufffd\ufffd"


@pytest.mark.parametrize(
    ("language", "encoding"),
    [
        ("en", "windows-1252"),
        ("fr-CA", "windows-1252"),
        ("pl", "iso-8859-2"),
        ("PL_pl", "iso-8859-2"),
        ("cs", "windows-1250"),
        ("ru", "windows-1251"),
        ("ja", "shift_jis"),
        ("zh-TW", "big5"),
        ("zh-CN", "gb18030"),
        ("el", "iso-8859-7"),
        ("", None),
        ("  ", None),
        (None, None),
    ],
)
def test_locale_encoding(language, encoding):
    assert locale_encoding(language) == encoding
