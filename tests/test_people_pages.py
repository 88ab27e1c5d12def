"""Person pages `/people/{name}` and their JSON twin, on the real bundled index over a loopback server."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote, quote_plus, unquote

import httpx
import pytest
from markupsafe import escape

from archive_qa import urls
from archive_qa.responses import Person

STALIN = "/people/" + quote("Joseph Stalin")
SEED_QUESTION = "what did Stalin say about neutral countries?"
HOSTILE_NAMES = ["<script>window.__xss = 9</script>", "a/b/../c", "O'Brien \"the\" <b>bold</b>",
                 "Ωμέγα Über-ünïcode", "javascript:alert(1)"]


def get(server, path: str) -> httpx.Response:
    return httpx.get(server.url + path, timeout=60)


def page_rows(html: str) -> list[tuple[str, str | None, str]]:
    """(document id, datetime, href) of each document row on a person page, in page order."""
    return re.findall(r'<li data-id="([^"]+)"><time(?: datetime="([^"]+)")?>[^<]*</time> <a href="([^"]+)">', html)


def page_years(html: str) -> list[dict[str, int]]:
    """The year bars of a person page as {year, count}."""
    found = re.findall(r'<li id="year-(\d+)"><span class="year">\d+</span><span class="bar"[^>]*></span>'
                       r'<span class="count">(\d+)</span></li>', html)
    return [{"year": int(year), "count": int(count)} for year, count in found]


def test_stalin_page_shows_names_life_dates_timeline_and_seed_documents(bundled_server) -> None:
    page = get(bundled_server, "/people/Filippov")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert '<h1 id="person-name">Joseph Stalin</h1>' in html and "1879–1953" in html
    other = re.search(r'<dd class="other-names">([^<]+)</dd>', html)
    assert other and {"Filippov", "Fyn-Si", "Iosif Stalin"} <= set(other.group(1).split(", "))
    rows = page_rows(html)
    ids = [doc_id for doc_id, _, _ in rows]
    assert {"seed-01", "seed-03", "seed-05", "seed-06"} <= set(ids)
    assert ("seed-03", "1951-08-28", "/documents/seed-03") in rows
    assert re.search(r'<time datetime="1951-08-28">28 August 1951</time> <a href="/documents/seed-03">', html)
    dated = [when for _, when, _ in rows if when]
    assert dated == sorted(dated, key=lambda d: d[:10]), "oldest first"
    years = page_years(html)
    undated = re.search(r"And (\d+) undated\.", html)
    assert sum(y["count"] for y in years) + (int(undated.group(1)) if undated else 0) == len(rows)
    assert {1951, 1952} <= {y["year"] for y in years}
    assert f'{len(rows)} by, to or naming Joseph Stalin' in html
    for _, _, href in rows[:3]:
        assert get(bundled_server, href).status_code == 200


def test_json_twin_holds_the_page_data(bundled_server) -> None:
    data = get(bundled_server, "/api/people/Filippov").json()
    Person.model_validate(data)
    html = get(bundled_server, "/people/Filippov").text
    assert data["name"] == "Joseph Stalin" and (data["born"], data["died"]) == (1879, 1953)
    assert data["page"] == STALIN == urls.person_page("Joseph Stalin")
    assert "Filippov" in data["other_names"] and "filippov" in data["aliases"]
    assert data["documents"] == len(data["items"]) == sum(y["count"] for y in data["timeline"]) + data["undated"]
    assert [(d["id"], d["date"], d["url"]) for d in data["items"]] == [(i, w or None, h) for i, w, h in page_rows(html)]
    assert data["timeline"] == page_years(html)
    assert [y["year"] for y in data["timeline"]] == sorted({d["year"] for d in data["items"] if d["year"]})
    seed = next(d for d in data["items"] if d["id"] == "seed-03")
    assert seed == {"id": "seed-03", "date": "1951-08-28", "date_display": "28 August 1951", "year": 1951,
                    "label": seed["label"], "url": "/documents/seed-03"}
    assert get(bundled_server, STALIN).text == html  # every name of a person opens the same page
    assert f'href="{urls.person_json("Joseph Stalin")}"' in html


def test_unicode_name_resolves_and_round_trips(bundled_server) -> None:
    page = get(bundled_server, urls.person_page("Dag Hammarskjöld"))
    assert page.status_code == 200 and '<h1 id="person-name">Dag Hammarskjöld</h1>' in page.text
    assert get(bundled_server, urls.person_json("Dag Hammarskjöld")).json()["name"] == "Dag Hammarskjöld"


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_unknown_and_hostile_names_get_escaped_404s(bundled_server, name: str) -> None:
    page = get(bundled_server, urls.person_page(name))
    assert page.status_code == 404 and "No such person" in page.text
    assert f"<code>{escape(name)}</code>" in page.text
    assert "<script>window.__xss" not in page.text and "<b>bold</b>" not in page.text
    missing = get(bundled_server, urls.person_json(name))
    assert missing.status_code == 404 and repr(name) in missing.json()["detail"]


def test_search_page_links_people_from_facets_chips_and_cards(bundled_server) -> None:
    html = get(bundled_server, "/?q=" + quote_plus(SEED_QUESTION)).text
    facets = re.search(r'<p class="help person-links">(.*?)</p>', html, re.S)
    assert facets and f'<a href="{STALIN}">Joseph Stalin</a>' in facets.group(1)
    chip = re.search(r'<a class="person-chip" href="([^"]+)">Joseph Stalin</a>', html)
    assert chip and chip.group(1) == STALIN
    frus = get(bundled_server, "/?q=" + quote_plus("Muccio telegram on the armistice in 1951")).text
    cards = re.findall(r'<p class="card-people">(.*?)</p>', frus, re.S)
    assert cards, "FRUS cards list their people"
    linked = sorted({h for card in cards for h in re.findall(r'href="(/people/[^"]+)"', card)})
    assert linked
    for href in linked[:4] + [chip.group(1)]:
        person = get(bundled_server, href)
        assert person.status_code == 200 and 'id="person-name"' in person.text, unquote(href)


def test_a_person_named_in_markup_is_escaped_everywhere(hostile_server) -> None:
    name = "<i>Stalin</i>"  # the hostile record's people field: learnt as a name of its own
    data = get(hostile_server, urls.person_json(name)).json()
    assert data["name"] == name and [d["id"] for d in data["items"]] == ["evil-1"]
    html = get(hostile_server, data["page"]).text
    assert '<h1 id="person-name">&lt;i&gt;Stalin&lt;/i&gt;</h1>' in html and '<li data-id="evil-1">' in html
    assert "&lt;script&gt;window.__xss = 1&lt;/script&gt;" in html
    assert "<script>window.__xss" not in html and "<b>bold</b>" not in html and "<i>Stalin</i>" not in html
    card = get(hostile_server, "/?q=" + quote_plus("armistice monitoring neutral inspection teams")).text
    assert f'<a href="{urls.person_page(name)}">&lt;i&gt;Stalin&lt;/i&gt;</a>' in card and "<i>Stalin</i>" not in card


@pytest.mark.browser
def test_reading_chip_opens_the_person_page_in_chromium(bundled_server) -> None:
    from test_browser import CHROMIUM, SEED_QUESTION as ASKED  # the browser test's Chromium and question

    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[test]' brings playwright")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: `make browser` installs Debian's chromium")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.set_default_timeout(60_000)
        page.goto(bundled_server.url + "/")
        page.get_by_label("Your question").fill(ASKED)
        page.keyboard.press("Enter")
        chip = page.locator("#turn1 a.person-chip", has_text="Joseph Stalin")  # rendered by chat.js
        chip.click()
        page.wait_for_url("**" + STALIN)
        assert page.get_by_role("heading", level=1).inner_text() == "Joseph Stalin"
        widths = page.eval_on_selector_all(".years .bar", "bars => bars.map(b => b.getBoundingClientRect().width)")
        assert widths and max(widths) > 100 and min(widths) > 0
        page.goto(bundled_server.url + urls.person_page(HOSTILE_NAMES[0]))
        assert page.evaluate("window.__xss") is None and "No such person" in page.inner_text("h1")
        browser.close()
        assert not errors, errors
