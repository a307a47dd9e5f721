"""The search page in a real browser: Debian's Chromium, headless, driven by Playwright.

uvicorn serves the app on 127.0.0.1 in a thread; the browser searches, filters,
pages, moves by keyboard, shrinks to a phone's width, and meets hostile articles.
Screenshots go to test-artifacts/web/.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from webtesting import ARTIFACTS, LiveServer, make_app, make_article

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS = ARTIFACTS / "web"

META = [
    "Superintelligenz: Meta lockt Forscher von Google DeepMind mit Millionengehältern",
    "OpenAI researchers defect to Meta's superintelligence lab",
    "New Albany weighs the cost of hosting Meta's newest AI data centre",
    "Talavera acogerá el gran centro de datos de Meta para la carrera de la IA",
    "Superintelligenza, Meta recluta anche in Italia: offerte milionarie ai ricercatori",
    "Superintelligence : Meta recrute à prix d'or les chercheurs parisiens d'OpenAI et de "
    "Google DeepMind",
    "La carrera de la IA dispara los sueldos: Meta ofrece hasta 100 millones por investigador "
    "para su laboratorio de superinteligencia",
    "xAI switches on second Colossus cluster in Memphis as compute race escalates",
    "Scale AI abrirá en Madrid su sede europea con 400 empleos",
    "Mistral AI dévoile Mistral Ultra et relance la course à l'IA en Europe",
]
META_ES = [META[3], META[6], META[8]]
BY_DATE_PAGE_2 = [
    "Nvidia-Chef Jensen Huang in München: „Europa muss jetzt in KI-Fabriken investieren“",
    "Chip Nvidia, le nuove regole Usa sull'export preoccupano le aziende italiane",
    "Superintelligence : Meta recrute à prix d'or les chercheurs parisiens d'OpenAI et de "
    "Google DeepMind",
    "KI-Wettlauf: Frankfurt wird zum größten Rechenzentrumsstandort Europas",
    "Talavera acogerá el gran centro de datos de Meta para la carrera de la IA",
    "xAI switches on second Colossus cluster in Memphis as compute race escalates",
    "Zuckerberg's lab lures OpenAI staff with nine-figure offers",
    "Superintelligenza, Meta recluta anche in Italia: offerte milionarie ai ricercatori",
    "Mistral AI dévoile Mistral Ultra et relance la course à l'IA en Europe",
    "Data center, la corsa all'IA porta in Lombardia investimenti per 10 miliardi",
]
NVIDIA = [
    "Chip Nvidia, le nuove regole Usa sull'export preoccupano le aziende italiane",
    "Nvidia-Chef Jensen Huang in München: „Europa muss jetzt in KI-Fabriken investieren“",
    "US tightens chip export rules as Nvidia readies new China-compliant processor",
    "xAI switches on second Colossus cluster in Memphis as compute race escalates",
    "Course à l'IA : un campus de centres de données de 1,4 gigawatt près de Dunkerque",
    "Mistral AI dévoile Mistral Ultra et relance la course à l'IA en Europe",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), "install Debian's chromium (scripts/setup does, as root)"
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def demo_site(demo_index, tmp_path) -> Iterator[str]:
    with LiveServer(make_app(demo_index, tmp_path)) as server:
        yield server.url


def new_page(browser: Browser, width: int = 1280, height: int = 900) -> Page:
    page = browser.new_page(viewport={"width": width, "height": height})
    page.on("dialog", lambda dialog: pytest.fail(f"a dialog opened: {dialog.message}"))
    return page


def titles(page: Page) -> list[str]:
    return [t.strip() for t in page.locator(".result .title").all_inner_texts()]


def by_relevance(page: Page, expected: list[str], backend: str) -> None:
    """The page shows ``expected``, ranked by relevance.

    SQLite's order is pinned. Elasticsearch ranks near-ties its own way (it rounds
    document lengths and weighs rare terms by another formula): the contract suite holds
    it to the same result sets and a top-10 overlap of 8; here, the same titles.
    """
    shown = titles(page)
    if backend == "sqlite":
        assert shown == expected
    else:
        assert sorted(shown) == sorted(expected)


def test_search_filter_and_page_through(browser, demo_site, demo_index):
    page = new_page(browser)
    page.goto(demo_site + "/")
    page.get_by_label("Search articles").fill("Meta")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**/?q=Meta&sort=relevance*")
    by_relevance(page, META, demo_index.backend.name)
    assert page.locator(".summary").inner_text() == "1–10 of 10 stories for Meta"
    assert page.locator(".timeline rect").count() == 18  # 2026-11-02 to 2026-11-19
    page.screenshot(path=SHOTS / "search.png", full_page=True)

    page.locator('a.facet-link[data-facet="lang"][data-value="es"]').click()
    page.wait_for_url("**lang=es*")
    by_relevance(page, META_ES, demo_index.backend.name)
    # Screen readers hear what the active filter's link does; the check mark is decoration.
    remove = page.get_by_role("link", name="Remove filter: es 4", exact=True)
    assert remove.count() == 1
    page.screenshot(path=SHOTS / "facet.png", full_page=True)
    remove.click()  # and off again
    page.wait_for_load_state()
    assert "lang=" not in page.url
    by_relevance(page, META, demo_index.backend.name)

    page.get_by_label("Search articles").fill("")
    page.get_by_label("Sort").select_option("date")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**sort=date*")
    assert page.locator(".page-of").inner_text() == "Page 1 of 3"
    page.get_by_role("link", name="Next →").click()
    page.wait_for_url("**page=2*")
    assert titles(page) == BY_DATE_PAGE_2
    assert page.locator(".page-of").inner_text() == "Page 2 of 3"
    page.screenshot(path=SHOTS / "page-2.png", full_page=True)
    page.get_by_role("link", name="Next →").click()
    page.wait_for_url("**page=3*")
    assert titles(page) == [
        "Superintelligenz: Meta lockt Forscher von Google DeepMind mit Millionengehältern"
    ]
    page.get_by_role("link", name="← Previous").click()
    page.wait_for_url("**page=2*")
    assert titles(page) == BY_DATE_PAGE_2
    page.close()


def test_keyboard_only(browser, demo_site, demo_index):
    page = new_page(browser)
    page.goto(demo_site + "/")
    focused = []
    for _ in range(3):  # the skip link, the home link, then the search box
        page.keyboard.press("Tab")
        focused.append(
            page.evaluate("document.activeElement.id || document.activeElement.textContent")
        )
    assert focused == ["Skip to results", "newswatch", "q"]
    # The focused box shows it: a visible outline.
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
    page.keyboard.type("Nvidia")
    page.keyboard.press("Enter")
    page.wait_for_url("**q=Nvidia*")
    by_relevance(page, NVIDIA, demo_index.backend.name)
    # Facets and pages are links: Tab reaches the first facet and Enter follows it.
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.dataset.facet || ''") == "lang":
            break
    value = page.evaluate("document.activeElement.dataset.value")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**lang={value}*")
    assert page.locator("a.facet-link.active").count() == 1
    # "/" jumps back to the search box.
    page.locator("main").focus()
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "q"
    page.screenshot(path=SHOTS / "keyboard.png")
    page.close()


@pytest.mark.parametrize("path", ["/?q=superintelligence", "/?sort=date&page=2", "/?q=%22open"])
def test_a_phone_width_needs_no_horizontal_scroll(browser, demo_site, path):
    page = new_page(browser, width=390, height=844)
    page.goto(demo_site + path)
    sizes = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert sizes == [390, 390]
    box = page.get_by_label("Search articles").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    name = {
        "/?q=superintelligence": "phone.png",
        "/?sort=date&page=2": "phone-page-2.png",
        "/?q=%22open": "phone-error.png",
    }[path]
    page.screenshot(path=SHOTS / name, full_page=True)
    page.close()


# --- hostile articles ----------------------------------------------------------------------

SCRIPT = "<script>window.__xss=1</script>"
IMG = '<img src=x onerror="window.__xss=1">'
SVG = '"><svg onload=window.__xss=1>'
JS_URL = "javascript:window.__xss=1"
HOSTILE_URLS = [
    JS_URL,
    " JAVASCRIPT:window.__xss=1",
    "java\tscript:window.__xss=1",
    "data:text/html,<script>window.__xss=1</script>",
    'https://news.example/a"><svg/onload=window.__xss=1>',
]


def hostile_articles() -> list[Any]:
    articles = []
    for n, url in enumerate(HOSTILE_URLS, start=1):
        articles.append(
            make_article(
                n,
                url=url,
                canonical_url=url,
                title=f"xss {n} {SCRIPT} {IMG} {SVG}",
                body=f"xss body {SCRIPT} then {IMG} and {SVG} and {JS_URL} end.",
                authors=[IMG, SCRIPT],
                site_name=f"Outlet {SVG}",
                source="hostile",
                topics=["ai-race"],
                language="en",
            )
        )
    return articles


def assert_no_xss(page: Page) -> None:
    assert page.evaluate("typeof window.__xss") == "undefined"
    hrefs = page.evaluate(
        "[...document.querySelectorAll('[href]')].map(e => e.getAttribute('href'))"
    )
    for href in hrefs:
        squeezed = "".join(href.split()).lower()
        assert not squeezed.startswith(("javascript:", "data:")), href
    assert (
        page.evaluate(
            "document.querySelectorAll('img, script:not([src]), [onerror], "
            "[onload], iframe, object, embed').length"
        )
        == 0
    )


def test_hostile_text_and_urls_stay_text(browser, empty_index, tmp_path):
    articles = hostile_articles()
    for article in articles:
        empty_index.store.upsert(article)
    with LiveServer(make_app(empty_index, tmp_path)) as server:
        page = new_page(browser)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        for path in ["/", "/?q=xss", f"/?q={SCRIPT}", f"/?q={IMG}", "/?q=%22%3E%3Csvg"]:
            page.goto(server.url + path)
            assert_no_xss(page)
        # Browsing: every hostile title is shown as the text it is, without a link.
        page.goto(server.url + "/?sort=date&q=xss")
        assert_no_xss(page)
        shown = titles(page)
        assert shown == [f"xss {n} {SCRIPT} {IMG} {SVG}" for n in (5, 4, 3, 2, 1)]
        assert page.locator(".result .title a").count() == 1  # only the https:// one
        link = page.locator(".result .title a").get_attribute("href")
        assert link == 'https://news.example/a"><svg/onload=window.__xss=1>'
        text = page.locator("main").inner_text()
        for raw in (SCRIPT, IMG, SVG, JS_URL, f"Outlet {SVG}"):
            assert raw in text
        marks = page.locator(".result .title mark").all_inner_texts()
        assert marks == ["xss"] * 20  # "xss 1" and the three window.__xss of each title
        page.screenshot(path=SHOTS / "xss.png", full_page=True)

        # A query that is itself hostile is shown back as text, in the box and the summary.
        page.goto(server.url + "/?q=" + SCRIPT.replace("<", "%3C").replace(">", "%3E"))
        assert_no_xss(page)
        assert page.get_by_label("Search articles").input_value() == SCRIPT
        assert SCRIPT in page.title()

        # The article as JSON, opened in the browser.
        page.goto(f"{server.url}/api/articles/{articles[0].id}")
        assert_no_xss(page)
        body = page.locator("body").inner_text()
        data = json.loads(body)
        assert data["title"] == f"xss 1 {SCRIPT} {IMG} {SVG}"
        assert data["authors"] == [IMG, SCRIPT] and data["url"] == JS_URL
        for raw in (SCRIPT, JS_URL, "<svg onload=window.__xss=1>"):
            assert raw in body
        page.screenshot(path=SHOTS / "xss-article-json.png")
        assert errors == []
        page.close()
