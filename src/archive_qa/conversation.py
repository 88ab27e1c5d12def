"""Follow-up questions, read in the light of the previous turn's question, people, dates and documents."""

from __future__ import annotations

import inspect
import logging
import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from .words import content_words
from .dates import DateParseError, PartialDate, parse_date

log = logging.getLogger(__name__)

MAX_TURNS = 8  # earlier turns read; older ones are forgotten

_OPENER = re.compile(r"^\s*(and|but|so|also|then|what about|how about|anything|any more|anything else|more on|"
                     r"and then|what else|did (he|she|they)|was (he|she|it)|were they)\b", re.IGNORECASE)
_OPENER_WORDS = re.compile(r"^\s*(and|but|so|also)\s+", re.IGNORECASE)
_PRONOUN = re.compile(r"\b(he|she|him|her|his|hers|they|them|their|it|its|that|this|those|these|there)\b",
                      re.IGNORECASE)
_LATER = re.compile(r"\b(later|after(wards)?|since( then)?|subsequently|next|following|then)\b", re.IGNORECASE)
_EARLIER = re.compile(r"\b(earlier|before|previously|prior|until then)\b", re.IGNORECASE)
_REPLY = re.compile(r"\b(repl\w*|respon\w*|answer\w*|react\w*|rejoin\w*)\b", re.IGNORECASE)
_META = frozenset("later earlier afterwards subsequently previously prior next following reply replied respond "
                  "responded response answer answered react reacted else more anything".split())


@dataclass
class Reading:
    """How a question is searched: its own words, or a follow-up joined to the previous turn."""

    question: str  # as asked
    query: str  # as searched
    date_from: str | None = None  # ISO day, set by "later than that"
    date_to: str | None = None  # ISO day, set by "earlier than that"
    follows: str | None = None  # the earlier question it was read against
    notes: list[str] = field(default_factory=list)

    def interpreted(self) -> dict[str, Any]:
        """What the page and the API show under `interpreted.follow_up`; empty when read alone."""
        if self.follows is None:
            return {}
        return {"of": self.follows, "read_as": self.query, "date_from": self.date_from, "date_to": self.date_to,
                "notes": self.notes}


def is_follow_up(question: str) -> bool:
    """Whether a question leans on the previous turn ("and what did Mao reply?", "anything later?")."""
    words = content_words(question)
    meta_only = all(w in _META for w in words)
    return bool(_OPENER.search(question) or _PRONOUN.search(question) or meta_only or len(words) <= 1)


def read(question: str, history: list[dict[str, Any]] | None) -> Reading:
    """Read a question against the last turn of `history` (dicts with "question", "query"?, "citations"?)."""
    question = " ".join(question.split())
    turns = [t for t in (history or [])[-MAX_TURNS:]
             if isinstance(t, dict) and isinstance(t.get("question"), str) and t["question"].strip()]
    if not turns or not is_follow_up(question):
        return Reading(question, question)
    last = turns[-1]
    previous = str(last.get("query") or "").strip() or last["question"].strip()
    own = set(content_words(question))
    context = [w for w in dict.fromkeys(content_words(previous)) if w not in own]
    kept = [w for w in content_words(question) if w not in _META]
    own_words = re.sub(_OPENER_WORDS, "", question).strip()
    query = f"{own_words} ({' '.join(context)})" if kept and context else own_words if kept else previous
    reading = Reading(question, query, follows=str(last["question"]))
    reading.notes.append(f"read with the previous question: {last['question']}")
    dates = _dates(last)
    try:
        _shift(reading, question, dates)
    except OverflowError:  # "later than" the year 9999: no shift
        reading.date_from = reading.date_to = None
    return reading


def _shift(reading: Reading, question: str, dates: list[PartialDate]) -> None:
    """Move the reading's dates after or before the previous answer's first cited document."""
    if dates:
        anchor = dates[0]  # "that": the document the previous answer led with
        if _REPLY.search(question):
            reading.date_from = (anchor.end + timedelta(days=1)).isoformat()  # a reply comes after what it answers
            reading.notes.append(f"after {anchor.display}")
        elif _LATER.search(question) and not _EARLIER.search(question):
            reading.date_from = (anchor.end + timedelta(days=1)).isoformat()
            reading.notes.append(f"after {anchor.display}")
        elif _EARLIER.search(question):
            reading.date_to = (anchor.start - timedelta(days=1)).isoformat()
            reading.notes.append(f"before {anchor.display}")


def _dates(turn: dict[str, Any]) -> list[PartialDate]:
    """The dates of the documents a turn cited, first cited first."""
    found: list[PartialDate] = []
    for item in turn.get("citations") or []:
        value = item.get("date") if isinstance(item, dict) else None
        if isinstance(value, str) and value:
            try:
                found.append(parse_date(value))
            except DateParseError:
                continue
    return found


def ask(archive: Any, question: str, history: list[dict[str, Any]] | None = None, *, k: int = 10,
        date_from: str | None = None, date_to: str | None = None, person: str | list[str] | None = None,
        place: str | list[str] | None = None, region: str | list[str] | None = None, sort: str = "relevance",
        interpret: bool = True, generate: bool | None = None) -> dict[str, Any]:
    """One turn: read the question against the thread, search, answer from the documents found.

    Args:
        archive: an `Archive`.
        person, place, region: keep documents by, to or about these people / at or about any of these places /
            in any of these regions (the page's facets); places and regions filter inside the search.
        sort: "relevance" or "date": the order of the returned documents (date also orders the answer).
        generate: use the chat endpoint (default: when ARCHIVE_QA_LLM_URL is set); falls back to extractive.
    """
    from . import answer as extractive
    from . import llm
    from .facets import people_of

    if sort not in ("relevance", "date"):
        raise ValueError("sort: must be 'relevance' or 'date'")
    reading = read(question, history)
    people = _listed(person)
    places = _listed(place)
    regions = _listed(region)
    query = reading.query
    missing = [p for p in people if p.lower() not in query.lower()]
    if missing:  # names in the query let the search's people reading find their documents
        query = f"{query} ({', '.join(missing)})"
    options: dict[str, Any] = {"k": 100 if people else k, "date_from": date_from or reading.date_from,
                               "date_to": date_to or reading.date_to}
    accepted = inspect.signature(archive.search).parameters
    if "interpret" in accepted:
        options["interpret"] = interpret
    if places or regions:
        options.update(place=places, region=regions)
    response = archive.search(query, **options)
    lookup = archive.store.documents
    if people:
        store = archive.store
        found = lookup([r["id"] for r in response["results"]])
        wanted_people = set(people)
        response["results"] = [r for r in response["results"]
                               if wanted_people <= people_of(found[r["id"]], store)][:k]
        if not response["results"]:
            response["answerable"] = False
    result: dict[str, Any] | None = None
    fallback: str | None = None
    use_llm = generate if generate is not None else llm.enabled()
    if use_llm and response.get("answerable", bool(response.get("results"))):
        try:
            result = llm.generate(question if reading.follows is None else query, response,
                                  _support_check(archive.store))
        except llm.GenerationError as error:
            log.warning("generated answer refused, extractive answer instead: %s", error)
            fallback = str(error)
    if result is None:
        who = extractive.asks_who(question) if reading.follows is None else None
        found = archive.person(who) if who else None
        if found is not None:
            result = extractive.person_answer(found, response, who)
        else:
            result = extractive.compose(query, response, lookup, chronological=True if sort == "date" else None,
                                        authors=_authors(archive.store))
        result["fallback"] = fallback
    if sort == "date":
        result["documents"] = sorted(result["documents"],
                                     key=lambda r: r.get("date") or r.get("date_inferred") or "9999")
    interpreted = dict(result.get("interpreted") or {})
    interpreted["follow_up"] = reading.interpreted() if reading.follows is not None else None
    return {"question": question, "query": query, **result, "interpreted": interpreted,
            "filters": {"date_from": options["date_from"], "date_to": options["date_to"], "person": people,
                        "place": places, "region": regions, "sort": sort, "interpret": interpret}}


def _support_check(store: Any) -> Any:
    """answer => the support check's findings, with the people of `store`'s people index."""
    from . import support
    from .ranking.people import index_for, question_people

    index = index_for(store)

    def people(text: str) -> set[str]:
        return set(question_people(text, index)[0])

    return lambda answer: support.check(answer, store.documents([c["id"] for c in answer.get("citations", [])]),
                                        people)


def _authors(store: Any) -> Any:
    """Document => the canonical people who wrote or said it, read by the people index of `store`."""
    from .ranking.people import index_for

    index = index_for(store)
    return lambda doc: index.involvement(doc).authors


def _listed(value: str | list[str] | None) -> list[str]:
    """A filter value as a list of non-blank strings."""
    values = [value] if isinstance(value, str) else list(value or [])
    return [v.strip() for v in values if isinstance(v, str) and v.strip()]
