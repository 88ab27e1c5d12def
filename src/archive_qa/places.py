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

TEXT_CHARS = 1500  # how much of a full text is read for places
LONGEST = 5  # words in the longest place name tried
_WORD = re.compile(r"[^\W\d_][\w'’.-]*", re.UNICODE)


@lru_cache(maxsize=1)
def _starts() -> frozenset[str]:
    """First words of every place, region and nationality name."""
    return frozenset(name.split()[0] for name in [*gazetteer.names(), *gazetteer.DEMONYMS])


@lru_cache(maxsize=1)
def _people():
    """The aliases-file people, to keep places out of their names."""
    from .ranking.people import build_index, load_people, people_files

    return build_index(load_people(people_files()), [])


def mentions(text: str) -> list[tuple[str, str, str]]:
    """(name as in the gazetteer, kind, country code or region) for each place or nationality named in a text.

    Kinds: country, city, region, nationality. Names must be written with a capital, as places are.
    """
    words = [(m.group(0), m.start(), m.end()) for m in _WORD.finditer(text)]
    people = [(start, end) for _, start, end in _people().find(text)]
    known = gazetteer.names()
    found: list[tuple[str, str, str]] = []
    i = 0
    while i < len(words):
        word = words[i][0]
        if not word[:1].isupper() or (word not in _starts() and word.rstrip(".") not in _starts()):
            i += 1
            continue
        for size in range(min(LONGEST, len(words) - i), 0, -1):
            phrase = " ".join(w for w, _, _ in words[i:i + size])
            start, end = words[i][1], words[i + size - 1][2]
            hit = next(((form, known[form]) for form in (phrase, phrase.rstrip(".")) if form in known), None)
            if hit is None:
                demonym = next((f for f in (phrase, phrase.rstrip(".").removesuffix("s")) if f in gazetteer.DEMONYMS),
                               None)
                hit = (demonym, ("nationality", gazetteer.DEMONYMS[demonym])) if demonym else None
            if hit is None:
                continue
            if not any(s <= start < e or s < end <= e for s, e in people):
                found.append((hit[0], *hit[1]))
            i += size
            break
        else:
            i += 1
    return found


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
    found = mentions(text)
    given_places = [p for p in doc.places if p.strip()]
    places = given_places or list(dict.fromkeys(gazetteer.ALIASES.get(name, name) for name, kind, _ in found
                                                if kind not in ("nationality", "region")))
    if given_places:
        found += [hit for place in given_places for hit in mentions(place)]
    given_regions = [r for r in doc.regions if r.strip()]
    return dataclasses.replace(
        doc, places=places, places_from="record" if given_places else "read",
        regions=given_regions or regions_of(found), regions_from="record" if given_regions else "read")


def question_regions(question: str) -> list[tuple[str, int, int]]:
    """(region, start, end) for each region a question names outright ("East Asia", "the Middle East")."""
    found = []
    for name, region in gazetteer.REGION_NAMES.items():
        for match in re.finditer(rf"\b{re.escape(name)}\b", question, flags=re.IGNORECASE):
            if not any(s <= match.start() < e for _, s, e in found):
                found.append((region, match.start(), match.end()))
    return sorted(found, key=lambda item: item[1])
