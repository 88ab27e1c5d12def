"""Reading a question: periods, people, aliases and whose words it asks for."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from archive_qa.ranking.people import (
    DATA_DIR, Person, build_index, common_words, display_name, involvement, load_people, people_files,
    title_names,
)
from archive_qa.ranking.question import read_period, read_question
from archive_qa.documents import Document

D = date.fromisoformat

PERIODS = [
    ("What did Mao write to Stalin in July 1951?", "1951-07-01", "1951-07-31", False),
    ("What happened in 1952?", "1952-01-01", "1952-12-31", False),
    ("Korea between 1950 and 1951", "1950-01-01", "1951-12-31", False),
    ("Soviet policy after 1955", "1956-01-01", None, False),
    ("Quemoy in the spring of 1958", "1958-03-01", "1958-05-31", True),
    ("aid to North Korea in early 1952", "1952-01-01", "1952-05-01", True),
    ("In late October 1956, what help did Poland get?", "1956-10-22", "1956-10-31", True),
    ("In June and July 1957, how did the Girard case end?", "1957-06-01", "1957-07-31", False),
    ("the telegram of July 3, 1951", "1951-07-03", "1951-07-03", False),
    ("the telegram of 3 July 1951", "1951-07-03", "1951-07-03", False),
    ("from March 1951 to May 1952", "1951-03-01", "1952-05-31", False),
    ("before June 1950", None, "1950-05-31", False),
    ("since 1953", "1953-01-01", None, False),
    ("Japanese war criminals in 1957 and 1958", "1957-01-01", "1958-12-31", False),
    ("the winter of 1950", "1950-12-01", "1951-02-28", True),
    ("What did Nixon and Mao discuss during the 1972 Beijing summit?", "1972-01-01", "1972-12-31", False),
    ("policy in the 1950s", "1950-01-01", "1959-12-31", True),
]


@pytest.mark.parametrize(("question", "start", "end", "loose"), PERIODS)
def test_reads_the_period_of_a_question(question: str, start: str | None, end: str | None, loose: bool) -> None:
    period = read_period(question)
    assert period is not None
    assert period.start == (D(start) if start else None)
    assert period.end == (D(end) if end else None)
    assert period.loose is loose


@pytest.mark.parametrize("question", [
    "What did Stalin say about the 38th parallel?",
    "Did the Chinese send 1500 troops?",
    "What happened in May?",
    "Project Solarium",
])
def test_no_period_where_none_is_named(question: str) -> None:
    assert read_period(question) is None


def test_loose_periods_are_widened_and_exact_ones_are_not() -> None:
    loose = read_period("early August 1958")
    assert loose is not None and loose.padded().start < loose.start and loose.padded().end > loose.end
    exact = read_period("in July 1951")
    assert exact is not None and exact.padded() == exact


@pytest.fixture(scope="module")
def people():
    """The project's aliases file plus a few names as FRUS writes them."""
    known = load_people(people_files(DATA_DIR))
    return build_index(known, ["Khrushchev, Nikita Sergeyevich", "Bohlen, Charles E. (Chip)", "Muccio", "Price"])


@pytest.mark.parametrize(("written", "canonical"), [
    ("Filippov", "Joseph Stalin"), ("Fyn-Si", "Joseph Stalin"), ("Feng Xi", "Joseph Stalin"),
    ("Mao Tse-tung", "Mao Zedong"), ("Chou En-lai", "Zhou Enlai"), ("Kim Il-sung", "Kim Il Sung"),
    ("Khrushchev, Nikita Sergeyevich", "Nikita Khrushchev"), ("Hammarskjöld", "Dag Hammarskjöld"),
    ("Bohlen, Charles E. (Chip)", "Charles E. Bohlen"),
])
def test_aliases_and_transliterations_lead_to_one_person(people, written: str, canonical: str) -> None:
    assert people.canonical(written) == canonical


def test_aliases_file_gives_life_dates(people) -> None:
    assert people.life["Joseph Stalin"] == (1879, 1953)
    assert people.life["Kim Il Sung"] == (1912, 1994)


def test_collection_surnames_count_only_when_capitalised(people) -> None:
    assert [p for p, _, _ in people.find("the price of rice")] == []
    assert [p for p, _, _ in people.find("What did Price recommend?")] == ["Price"]
    # names from the aliases file are matched whatever the case
    assert [p for p, _, _ in people.find("what did stalin say")] == ["Joseph Stalin"]


@pytest.mark.parametrize(("question", "named", "author"), [
    ("what did Stalin say about neutral countries?", ["Joseph Stalin"], "Joseph Stalin"),
    ("What did Mao write to Stalin in July 1951?", ["Mao Zedong", "Joseph Stalin"], "Mao Zedong"),
    ("What did Mao tell Stalin about prisoners?", ["Mao Zedong", "Joseph Stalin"], "Mao Zedong"),
    ("Did Mao ask Stalin for advisers?", ["Mao Zedong", "Joseph Stalin"], "Mao Zedong"),
    ("Khrushchev's letter on Berlin", ["Nikita Khrushchev"], "Nikita Khrushchev"),
    ("telegrams to Filippov about the armistice", ["Joseph Stalin"], None),
    ("How did Chou En-lai view the talks?", ["Zhou Enlai"], None),
])
def test_reads_people_and_the_author_asked_about(people, question: str, named: list[str], author: str | None) -> None:
    reading = read_question(question, people)
    assert list(reading.people) == named
    assert reading.author == author


def test_reading_strips_the_period_from_the_topic(people) -> None:
    reading = read_question("What did Mao write to Stalin in July 1951?", people)
    assert "1951" not in reading.topic and "Stalin" in reading.topic
    assert reading.describe(applied=True)["date_from"] == "1951-07-01"


@pytest.mark.parametrize(("title", "names"), [
    ("Mao Zedong to Filippov [Stalin]", ["Stalin", "Mao Zedong", "Filippov"]),
    ("The Ambassador in Korea (Muccio) to the Secretary of State", ["Muccio"]),
    ("Telegram From the Embassy in the Soviet Union to the Department of State", []),
    ("Memorandum of a Conversation (Extract)", []),
    ("President Eisenhower to Prime Minister Nehru", ["Eisenhower", "Nehru"]),
])
def test_names_in_titles(title: str, names: list[str]) -> None:
    assert title_names(title) == names


def test_display_name_turns_frus_forms_around() -> None:
    assert display_name("Khrushchev, Nikita Sergeyevich") == "Nikita Sergeyevich Khrushchev"
    assert display_name("Marshall") == "Marshall"


@pytest.mark.parametrize(("doc", "authors"), [
    (Document(id="a", title="Mao Zedong to Filippov [Stalin]", summary="On the talks."), {"Mao Zedong"}),
    (Document(id="b", summary="Stalin agrees with Mao on the steps taken."), {"Joseph Stalin"}),
    (Document(id="c", summary="Telegram from Mao to Stalin relaying an assessment."), {"Mao Zedong"}),
    (Document(id="d", summary="Draft telegram to Roshchin on the UN."), set()),
    (Document(id="e", title="The Ambassador in Korea (Muccio) to the Secretary of State", summary="x"), {"Muccio"}),
])
def test_authors_of_documents(people, doc: Document, authors: set[str]) -> None:
    assert set(involvement(doc, people).authors) == authors


def test_a_collection_adds_its_own_people_file(tmp_path: Path) -> None:
    (tmp_path / "people.json").write_text(json.dumps([{"name": "Joseph Stalin", "aliases": ["Stalin"]}]))
    (tmp_path / "wilson.people.json").write_text(json.dumps([{"name": "Nikolai Roshchin", "aliases": ["Roshchin"]}]))
    index = build_index(load_people(people_files(tmp_path)), [])
    assert index.canonical("Roshchin") == "Nikolai Roshchin"


@pytest.mark.parametrize(("content", "message"), [
    ("{", "not JSON"),
    ('{"name": "x"}', "JSON list"),
    ('[{"aliases": []}]', "entry 0: field 'name'"),
    ('[{"name": "X", "aliases": "Y"}]', "field 'aliases'"),
    ('[{"name": "X", "born": "1900"}]', "field 'born'"),
])
def test_a_bad_people_file_names_the_place(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "people.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=message) as error:
        load_people([path])
    assert str(path) in str(error.value)


def test_person_entries_are_plain() -> None:
    assert Person("A").aliases == ()


@pytest.mark.parametrize(("question", "start", "end"), [
    ("How did the Presidium's thinking evolve between 23 and 31 October 1956?", "1956-10-23", "1956-10-31"),
    ("Soviet moves in the first days of the quarantine, 22-27 October 1962", "1962-10-22", "1962-10-27"),
    ("What happened on October 22-27, 1962?", "1962-10-22", "1962-10-27"),
])
def test_day_ranges_within_a_month(question: str, start: str, end: str) -> None:
    period = read_period(question)
    assert period is not None and (period.start.isoformat(), period.end.isoformat()) == (start, end)


@pytest.fixture(scope="module")
def listing_people():
    """People learnt as a listing collection teaches them: a people field and names in titles."""
    known = load_people(people_files(DATA_DIR))
    titles = ["Ciphered Telegram from Beijing, Mao Zedong to Cde. Filippov [Stalin]", "Report (Korea)",
              "Telegram from Korea to Moscow", "The Consul at Port Said (Port Said) to the Department of State",
              "British Foreign Secretary Eden to the Secretary of State", "Note from the Soviet Ambassador",
              "Hanoi to Beijing", "Italian Communist Leader Palmiro to Moscow", "Mikoyan and Alekseev in Havana",
              "An East German Citizen to Ulbricht", "Letter (Price)", "Record (Smith)", "Cable (Muccio)"]
    texts = ["the price of rice rose again", "price controls and the price of oil"] + titles
    names = ["Smith, Walter Bedell", "Smith, Gerard C.", "Muccio, John J.", "Dulles, Allen W.", "Gao Gang",
             "Kim Jong Il", "Kim Il Sung"]
    return build_index(known, names, [n for t in titles for n in title_names(t)], common_words(texts))


@pytest.mark.parametrize("question", [
    "What happened in Korea in 1951?", "Did China send troops?", "What did Beijing tell Hanoi?",
    "What did British diplomats report from Port Said?", "How did the Soviet Ambassador see the talks?",
    "What did Italian communists think?", "What did the Americans say about Cuba?", "News from Havana",
])
def test_places_and_nationalities_are_never_people(listing_people, question: str) -> None:
    assert read_question(question, listing_people).people == ()


def test_learnt_names_must_look_like_people(listing_people) -> None:
    people = set(listing_people.forms)
    assert not people & {"Korea", "Port Said", "Beijing", "Hanoi", "to China", "Soviet Ambassador",
                         "Italian Communist Leader Palmiro", "Mikoyan and Alekseev in", "an East German Citizen"}
    assert listing_people.canonical("Filippov") == "Joseph Stalin"


def test_a_shared_surname_names_nobody_and_a_unique_one_its_person(listing_people) -> None:
    assert [p for p, _, _ in listing_people.find("What did Smith report?")] == []
    assert [p for p, _, _ in listing_people.find("What did Muccio report?")] == ["John J. Muccio"]
    assert listing_people.canonical("Walter Bedell Smith") == "Walter Bedell Smith"
    # "Kim Il" is part of two people's names; "Allen W. Dulles" is not John Foster Dulles
    assert [p for p, _, _ in listing_people.find("a talk with Kim Il")] == []
    assert listing_people.canonical("Allen W. Dulles") != "John Foster Dulles"


def test_a_word_the_collection_writes_in_lower_case_is_not_a_name(listing_people) -> None:
    assert "price" in common_words(["the price of rice rose again", "price controls and the price of oil"])
    assert [p for p, _, _ in listing_people.find("What did Price say about the price?")] == []
