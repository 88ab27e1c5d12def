"""The chat page in headless Chromium (Debian's package), driven by Playwright: ask, follow a citation, open it."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import ROOT

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("ARCHIVE_QA_CHROMIUM", "/usr/bin/chromium")
SEED_QUESTION = "what did Stalin say about neutral countries?"
SCREENSHOT = ROOT / "docs" / "screenshot.png"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Headless Chromium from the system package (installed by `make browser`); never downloaded."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[test]' brings playwright")
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip(f"{CHROMIUM} is missing: `make browser` installs Debian's chromium")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"), headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser) -> Iterator[object]:
    """A fresh page; fails the test on any JavaScript error."""
    context = browser.new_context(viewport={"width": 1000, "height": 860})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.set_default_timeout(60_000)
    yield page
    context.close()
    assert not errors, errors


def test_ask_follow_the_citation_open_the_document(page, bundled_server) -> None:
    page.goto(bundled_server.url + "/")
    page.get_by_label("Your question").fill(SEED_QUESTION)
    page.keyboard.press("Enter")
    answer = page.locator("#turn1 .answer p")
    answer.wait_for()
    assert "On 28 August 1951, Stalin" in answer.inner_text() and "neutral countries" in answer.inner_text()
    assert page.evaluate("document.activeElement.closest('.answer') !== null")  # focus moved to the answer
    assert "q=what+did+Stalin" in page.url  # the permalink is in the address bar

    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SCREENSHOT), full_page=False)

    marker = answer.get_by_role("link", name=re.compile(r"^source 1: 28 August 1951"))
    assert marker.inner_text() == "[1]"
    marker.click()
    card_id = page.evaluate("location.hash").lstrip("#")
    card = page.locator(f"[id='{card_id}']")
    assert "28 August 1951" in card.inner_text() and "[1]" in card.inner_text()
    assert page.evaluate("document.activeElement.id") == card_id  # keyboard users land on the card
    assert card.get_by_role("link", name="Open the document").get_attribute("href") == "/documents/seed-03"

    card.get_by_role("link", name="Open the document").click()
    page.wait_for_url("**/documents/seed-03")
    assert page.get_by_role("heading", level=1).inner_text().startswith("Stalin agrees with Mao")
    assert "28 August 1951" in page.locator(".doc-date").inner_text()
    assert "@misc{seed-03_1951," in page.locator(".bibtex").inner_text()
    assert page.get_by_role("link", name="/api/documents/seed-03").count() == 1


def test_follow_up_keeps_the_thread(page, bundled_server) -> None:
    page.goto(bundled_server.url + "/")
    page.get_by_label("Your question").fill(SEED_QUESTION)
    page.get_by_role("button", name="Ask").click()
    page.locator("#turn1 .answer p").wait_for()
    page.get_by_label("Follow-up question").fill("anything later than that?")
    page.get_by_role("button", name="Ask").click()
    page.locator("#turn2 .answer p").wait_for()
    assert "after 28 August 1951" in page.locator("#turn2 .follow-up").inner_text()
    assert "h=what+did+Stalin" in page.url
    kept = page.eval_on_selector_all("input[name=h]", "inputs => inputs.map(i => i.value)")
    assert kept == [SEED_QUESTION, "anything later than that?"]
    page.reload()  # the permalink reproduces both turns, server-rendered
    assert page.locator("article.turn").count() == 2
    assert page.get_by_role("link", name="New conversation").count() == 1


def test_page_works_without_javascript(browser, bundled_server) -> None:
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(bundled_server.url + "/")
    page.get_by_label("Your question").fill(SEED_QUESTION)
    page.get_by_role("button", name="Ask").click()
    page.wait_for_url("**/?q=*")
    assert "On 28 August 1951, Stalin" in page.locator("#turn1 .answer").inner_text()
    page.get_by_label("Follow-up question").fill("anything later than that?")
    page.get_by_role("button", name="Ask").click()
    page.wait_for_url("**h=what+did+Stalin*")
    assert page.locator("article.turn").count() == 2
    assert "after 28 August 1951" in page.locator("#turn2 .follow-up").inner_text()
    context.close()


def test_script_in_a_document_never_runs(page, hostile_server) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(hostile_server.url + "/")
    page.get_by_label("Your question").fill("armistice monitoring neutral inspection teams")
    page.keyboard.press("Enter")
    page.locator("#turn1 .answer p").wait_for()
    card = page.locator("li.card", has_text="Report on armistice")
    assert "<script>window.__xss = 1</script>" in card.inner_text()  # shown as text
    assert card.locator("a", has_text="Original source").count() == 0  # a javascript: URL is no link
    assert page.evaluate("typeof window.__xss") == "undefined"  # rendered by the page's script
    for path in (page.url, hostile_server.url + "/documents/evil-1"):  # server-rendered, then the document page
        page.goto(path)
        assert "window.__xss" in page.content()
        assert page.evaluate("typeof window.__xss") == "undefined", path
    assert "<script>window.__xss = 3</script>" in page.locator(".text").inner_text()
    assert not dialogs


def test_filters_show_regions_with_counts_and_narrow_the_answer(page, bundled_server) -> None:
    page.goto(bundled_server.url + "/")
    page.locator("details.filters summary").click()
    options = page.locator("#region option").all_inner_texts()
    assert any(re.fullmatch(r"East Asia — \d+", option) for option in options), options
    assert any(re.fullmatch(r"Latin America — \d+", option) for option in options), options
    page.get_by_label("Your question").fill("armistice talks")
    page.locator("#region").select_option("East Asia")
    page.get_by_role("button", name="Ask").click()
    page.wait_for_url("**region=East+Asia*")
    assert page.locator("#turn1 .answer").inner_text().strip()
    page.get_by_label("Follow-up question").fill("What did the Soviets say about the Middle East in 1951?")
    page.locator("#region").select_option("")
    page.get_by_role("button", name="Ask").click()
    page.locator("#turn2 .interpreted").wait_for()
    assert "in Middle East" in page.locator("#turn2 .interpreted").inner_text()


def test_a_citation_opens_the_document_at_its_highlighted_span(browser, bundled_server, hostile_server) -> None:
    """The answer's citation URL marks exactly its passage in <mark id="hl"> and scrolls to it, without JavaScript."""
    import httpx

    answer = httpx.post(bundled_server.url + "/api/ask", json={"question": "Dalai Lama asylum"}, timeout=60).json()
    cited = next(c for c in answer["citations"] if c["passage"]["field"] == "text")
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1000, "height": 700})
    page = context.new_page()
    page.goto(bundled_server.url + cited["url"])
    mark = page.locator("mark#hl")
    assert " ".join(page.locator(".text mark").all_inner_texts()).split() == cited["passage"]["text"].split()
    assert mark.is_visible()
    box = mark.bounding_box()
    assert box is not None and 0 <= box["y"] < 700, box  # scrolled into view by the #hl fragment
    assert page.locator("mark").count() >= 1 and page.locator("mark#hl").count() == 1

    text = httpx.get(hostile_server.url + "/api/documents/evil-1", timeout=30).json()["text"]
    start = text.index("<script>")
    end = text.index("</script>") + len("</script>")
    page.goto(f"{hostile_server.url}/documents/evil-1?hl=text:{start}-{end}#hl")
    assert page.locator("mark#hl").inner_text() == "<script>window.__xss = 3</script>"  # shown as text
    js = browser.new_context()
    checked = js.new_page()
    checked.goto(f"{hostile_server.url}/documents/evil-1?hl=text:{start}-{end}#hl")
    assert checked.evaluate("typeof window.__xss") == "undefined"  # and never run
    js.close()
    context.close()
