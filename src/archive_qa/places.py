"""Places read from a document and the regions they lie in, at ingest.

A record's own `places` and `regions` win. Otherwise places are read from the dateline (`place`), the
title, the summary and the start of the full text with the gazetteer, and regions follow from those places
and from nationalities ("Soviet advisers" -> Eastern Europe). A name inside a person's name ("Georgia" in
a name, "Washington" as a surname) is not a place. Each document says where its lists came from:
`places_from` / `regions_from` are "record" or "read".
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from functools import lru_cache

from . import gazetteer
from .documents import Document
from .ranking.people import PeopleIndex, build_index, display_name, load_people, people_files

TEXT_CHARS = 1500  # how much of a full text is read for places
LONGEST = 5  # words in the longest place name tried
_WORD = re.compile(r"[^\W\d_][\w'’.-]*", re.UNICODE)
# Capitalised phrases that start like a place and are none: they are passed over whole.
NOT_PLACES = frozenset({"Warsaw Pact", "Marshall Plan", "Van Fleet", "China hands", "China lobby",
                        "Georgetown University", "New Deal", "Berlin Wall", "National Security Council"})


@lru_cache(maxsize=1)
def _starts() -> frozenset[str]:
    """First words of every place, region and nationality name."""
    return frozenset(name.split()[0] for name in [*gazetteer.names(), *gazetteer.DEMONYMS, *NOT_PLACES])


@lru_cache(maxsize=1)
def _people() -> PeopleIndex:
    """The aliases-file people, to keep places out of their names."""
    return build_index(load_people(people_files()), [])


def _forms(phrase: str) -> tuple[str, ...]:
    """A phrase as written, without a full stop, a possessive or a plural ("China's", "the Quemoys")."""
    bare = phrase.rstrip(".")
    return phrase, bare, re.sub(r"['’]s$", "", bare), bare[:-1] if bare.endswith("s") and len(bare) > 4 else bare


def mentions(text: str, names_in_text: Iterable[str] = ()) -> list[tuple[str, str, str]]:
    """(name as in the gazetteer, kind, country code or region) for each place or nationality named in a text.

    Kinds: country, city, region, nationality. Names must be written with a capital, as places are; none
    is taken from inside a person's name (the aliases files' people, and `names_in_text`: a record's people).
    """
    known = gazetteer.names()
    words: list[tuple[str, int, int]] = []
    for match in _WORD.finditer(text):
        word, start = match.group(0), match.start()
        if "-" in word.strip("-") and not any(f in known or f in gazetteer.DEMONYMS for f in _forms(word)):
            offset = 0
            for part in word.split("-"):  # "UK-Greece-Turkey", "Sino-Soviet"
                if part:
                    words.append((part, start + offset, start + offset + len(part)))
                offset += len(part) + 1
        else:
            words.append((word, start, match.end()))
    people = [(start, end) for _, start, end in _people().find(text)]
    for name in names_in_text:
        written = display_name(name)
        if len(written) > 3:
            people += [(m.start(), m.end()) for m in re.finditer(re.escape(written), text)]
    found: list[tuple[str, str, str]] = []
    i = 0
    while i < len(words):
        word = words[i][0]
        if not word[:1].isupper() or not any(form in _starts() for form in _forms(word)):
            i += 1
            continue
        for size in range(min(LONGEST, len(words) - i), 0, -1):
            phrase = " ".join(w for w, _, _ in words[i:i + size])
            start, end = words[i][1], words[i + size - 1][2]
            if any(form in NOT_PLACES for form in _forms(phrase)):
                hit = ("", ("none", ""))
            else:
                hit = next(((form, known[form]) for form in _forms(phrase) if form in known), None)
            if hit is None:
                demonym = next((f for f in (*_forms(phrase), phrase.rstrip(".").removesuffix("s"))
                                if f in gazetteer.DEMONYMS), None)
                hit = (demonym, ("nationality", gazetteer.DEMONYMS[demonym])) if demonym else None
            if hit is None:
                continue
            if hit[1][0] == "none" or (size == 1 and hit[1][0] == "city" and _in_a_name(words, i)):
                i += size
                break
            if not any(s <= start < e or s < end <= e for s, e in people):
                found.append((hit[0], *hit[1]))
            i += size
            break
        else:
            i += 1
    return found


_PARTICLES = frozenset("de da di du del della der den van von le la al el bin ibn".split())
_INITIAL = re.compile(r"^[A-Z]\.$")


def _in_a_name(words: list[tuple[str, int, int]], i: int) -> bool:
    """Whether a one-word city sits in a person's name: a name particle ("Van Royen") or after initials
    ("V. K. Wellington Koo")."""
    word = words[i][0]
    return word.lower() in _PARTICLES or (i > 0 and bool(_INITIAL.match(words[i - 1][0])))


def regions_of(found: Iterable[tuple[str, str, str]]) -> list[str]:
    """The regions of places and nationalities, in the vocabulary's order."""
    regions = set()
    for _, kind, value in found:
        region = value if kind == "region" else gazetteer.region_of(value)
        if region:
            regions.add(region)
    return [region for region in gazetteer.REGIONS if region in regions]


def locate(doc: Document) -> Document:
    """The document with `places` and `regions` filled in and marked; one already located is returned as is."""
    if doc.regions_from:
        return doc
    dateline = doc.extra.get("place") if isinstance(doc.extra.get("place"), str) else ""
    text = "\n".join(part for part in (dateline, doc.title or "", doc.summary or "",
                                       (doc.text or "")[:TEXT_CHARS]) if part)
    found = mentions(text, doc.people)
    given_places = [p for p in doc.places if p.strip()]
    places = given_places or list(dict.fromkeys(gazetteer.ALIASES.get(name, name) for name, kind, _ in found
                                                if kind not in ("nationality", "region")))
    if given_places:
        found += [hit for place in given_places for hit in mentions(place)]
    given_regions = [r for r in doc.regions if r.strip()]
    return dataclasses.replace(
        doc, places=places, places_from="record" if given_places else "read",
        regions=given_regions or regions_of(found), regions_from="record" if given_regions else "read")


_REGION_NAMES = tuple((region, re.compile(rf"\b{re.escape(name)}\b", re.IGNORECASE))
                      for name, region in gazetteer.REGION_NAMES.items())
_ANY_REGION_NAME = re.compile("|".join(pattern.pattern for _, pattern in _REGION_NAMES), re.IGNORECASE)


def question_regions(question: str) -> list[tuple[str, int, int]]:
    """(region, start, end) for each region a question names outright ("East Asia", "the Middle East")."""
    if not _ANY_REGION_NAME.search(question):
        return []  # most questions: one scan instead of one per name (3 µs against 40)
    found = []
    for region, pattern in _REGION_NAMES:
        for match in pattern.finditer(question):
            if not any(s <= match.start() < e for _, s, e in found):
                found.append((region, match.start(), match.end()))
    return sorted(found, key=lambda item: item[1])
