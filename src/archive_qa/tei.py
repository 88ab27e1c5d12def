"""FRUS volumes in TEI XML, read as a stream: one Document per `div[@type="document"]`.

Fields follow `convert.py`, which made `data/frus1951v07p2.jsonl` from the same XML, so a volume read here
and its JSONL conversion give equal Documents (and re-ingesting one over the other re-embeds nothing).
"""

from __future__ import annotations

import json
import logging
import os
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .dates import DateParseError, PartialDate, parse_date
from .documents import Document
from .ranking.people import HONORIFICS, Person, fold
from .records import CollectionError, RecordError, record_to_document

log = logging.getLogger(__name__)

TEI = "{http://www.tei-c.org/ns/1.0}"
XML_ID = "{http://www.w3.org/XML/1998/namespace}id"
URL = "https://history.state.gov/historicaldocuments/{volume}/{id}"
LICENSE = "Public domain (U.S. Government work, 17 U.S.C. 105)"
SUMMARY_METHOD = "head + Subject line (if any) + first 2 sentences (>=25 chars) of body prose"
CHAPTERS = frozenset({"chapter", "compilation", "part", "subchapter"})
KEPT = frozenset({"head", "title", "persName"})  # read whole at their end, so their children stay until then
LINE_BYTES = 1 << 16  # longest piece fed to the parser at once (a file without line breaks still streams)
BLOCK_TAGS = frozenset({"p", "head", "item", "list", "table", "row", "closer", "dateline", "opener", "signed",
                        "quote", "postscript", "div", "byline", "salute", "lg", "l", "listBibl", "bibl", "sp",
                        "speaker", "attachment", "docAuthor", "trailer", "ab"})
META_TAGS = frozenset({"opener", "dateline", "closer", "signed", "salute", "byline", "docAuthor"})
TITLES = HONORIFICS | frozenset("prince princess lord lady sir dr generalissimo admiral general".split())
SUFFIXES = frozenset("jr sr ii iii".split())
ABBREV = ("Mr.", "Mrs.", "Dr.", "Gen.", "Adm.", "Col.", "Lt.", "Maj.", "Capt.", "Sen.", "Rep.", "Amb.", "St.",
          "No.", "Nos.", "U.S.", "U.N.", "U.K.", "U.S.S.R.", "vol.", "p.", "pp.", "Jr.", "Sr.", "Gov.", "Brig.",
          "Sgt.", "e.g.", "i.e.", "etc.", "cf.", "Vol.", "Cong.", "Sess.", "Doc.", "ff.", "Messrs.", "Prof.",
          "Rev.", "Ltd.", "Co.", "Inc.", "Dept.", "Deptel.", "Embtel.", "a.m.", "p.m.", "Jan.", "Feb.", "Mar.",
          "Apr.", "Aug.", "Sept.", "Sep.", "Oct.", "Nov.", "Dec.")
_MONTH_NAMES = "January|February|March|April|May|June|July|August|September|October|November|December"
_TEXT_DATES = (re.compile(rf"\b({_MONTH_NAMES})\s+(\d{{1,2}}),?\s+(1[89]\d\d)\b"),
               re.compile(rf"\b(\d{{1,2}})\s+({_MONTH_NAMES}),?\s+(1[89]\d\d)\b"))
_WHEN = re.compile(r"^(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?")
_NUMBERING = re.compile(r"^(?:No\.\s*\d+\.?|\d+\.)\s+")
_POSITION = re.compile(r":\s*line \d+, column \d+$")


@dataclass
class _Volume:
    """What the volume's header and front matter tell about all its documents."""

    id: str
    title: str | None = None
    persons: dict[str, str] = field(default_factory=dict)  # xml:id => name as the persons list writes it


def read_tei(path: Path, seen: dict[str, str] | None = None) -> Iterator[Document | RecordError]:
    """Yield a Document or a RecordError for every `div[@type="document"]` of a TEI volume, streaming.

    Raises:
        CollectionError: the file is missing, empty, not TEI or not well-formed XML (at FILE:LINE).
    """
    path = Path(path)
    seen = {} if seen is None else seen
    volume = _Volume(path.stem)
    last_date: PartialDate | None = None
    count = 0
    for kind, div, line, chapters in _stream(path, volume):
        if kind != "document":
            continue
        count += 1
        location = f"{path}:{line}"
        if not div.get(XML_ID):
            yield RecordError(location, 'div[@type="document"] without an xml:id')
            continue
        raw = _record(div, volume, chapters, last_date)
        result = record_to_document(raw, location)
        if isinstance(result, Document):
            last_date = result.date or last_date
            if result.id in seen:
                yield RecordError(location, f"duplicate id {result.id!r} (first at {seen[result.id]})")
                continue
            seen[result.id] = location
        yield result
    log.info("%s: %d documents of TEI volume %s", path, count, volume.id)


def volume_people(path: Path) -> list[Person]:
    """The volume's persons list as Person(name, aliases): "Khrushchev, Nikita S." -> "Nikita S. Khrushchev"."""
    path = Path(path)
    volume = _Volume(path.stem)
    for kind, _, _, _ in _stream(path, volume):
        if kind == "persons":
            break
    people: dict[str, Person] = {}
    for listed in volume.persons.values():
        person = _person(listed)
        if person.name not in people:
            people[person.name] = person
    return list(people.values())


def write_people_file(path: Path, index_dir: Path) -> Path | None:
    """The volume's persons list as `<index_dir>/<volume>.people.json`, the aliases file the people index reads.

    Written whole to a temporary file and renamed, so a reader sees the old file or the new one. A volume
    without a persons list writes nothing.
    """
    people = volume_people(path)
    if not people:
        return None
    index_dir.mkdir(parents=True, exist_ok=True)
    target = index_dir / f"{Path(path).stem}.people.json"
    partial = target.with_suffix(".json.partial")
    partial.write_text(json.dumps([{"name": p.name, "aliases": list(p.aliases)} for p in people], ensure_ascii=False,
                                  indent=1) + "\n", encoding="utf-8")
    os.replace(partial, target)
    log.info("%s: %d people of its persons list written to %s", path, len(people), target)
    return target


def _stream(path: Path, volume: _Volume) -> Iterator[tuple[str, ET.Element, int, list[str]]]:
    """("document", div, line, chapter heads) per document, ("persons", ...) once the persons list is read."""
    # every element outside a document is dropped once read, each document once yielded: memory holds one document
    stack: list[ET.Element] = []
    heads: list[str | None] = []  # the head of each open chapter-like div
    document: tuple[ET.Element, int] | None = None
    keep = 0  # open elements whose subtree must stay whole: the document, a head, a title, a persName
    for event, elem, line in _events(path):
        tag = elem.tag
        if event == "start":
            if not stack:
                _check_root(path, elem, line)
                volume.id = elem.get(XML_ID) or volume.id
            if document is None and tag == TEI + "div" and elem.get("type") == "document":
                document = (elem, line)
            if document is not None and document[0] is elem or _local(tag) in KEPT:
                keep += 1
            stack.append(elem)
            heads.append(None)
            continue
        stack.pop()
        heads.pop()
        if document is not None and document[0] is elem or _local(tag) in KEPT:
            keep -= 1
        if document is not None and document[0] is elem:
            yield "document", elem, document[1], [h for h in heads if h]
            document = None
        elif document is None:
            parent = stack[-1] if stack else None
            if tag == TEI + "title" and elem.get("type") == "complete" and volume.title is None \
                    and parent is not None and parent.tag == TEI + "titleStmt":
                volume.title = _plain(elem)
            elif tag == TEI + "persName" and elem.get(XML_ID) and any(_is_persons(e) for e in stack):
                volume.persons[elem.get(XML_ID, "")] = _plain(elem).rstrip(",")
            elif tag == TEI + "head" and parent is not None and parent.tag == TEI + "div" \
                    and parent.get("type") in CHAPTERS and heads[-1] is None:
                heads[-1] = _plain(elem)
            elif _is_persons(elem):
                yield "persons", elem, line, []
        if keep == 0 and stack:
            stack[-1].remove(elem)  # its parent has no other child left, so this is quick
            elem.clear()


def _events(path: Path) -> Iterator[tuple[str, ET.Element, int]]:
    """(event, element, line) from an ElementTree pull parser fed line by line, so each start knows its line."""
    parser = ET.XMLPullParser(events=("start", "end"))
    done = 0  # lines fed whole
    line = 1  # the line being fed
    content = False
    try:
        with path.open("rb") as handle:
            while piece := handle.readline(LINE_BYTES):
                line = done + 1
                done += piece.endswith(b"\n")
                content = content or bool(piece.strip())
                parser.feed(piece)
                for event, elem in parser.read_events():
                    yield event, elem, line
            if not content:
                raise CollectionError(f"{path}: the file is empty; nothing to ingest")
            parser.close()
            for event, elem in parser.read_events():
                yield event, elem, line
    except FileNotFoundError:
        raise CollectionError(f"{path}: no such file") from None
    except ET.ParseError as error:
        line = min(error.position[0] or line, line)
        reason = _POSITION.sub("", str(error))
        raise CollectionError(f"{path}:{line}: not well-formed XML ({reason}, column {error.position[1]})") from None
    except OSError as error:
        raise CollectionError(f"{path}: cannot read ({error})") from None


def _check_root(path: Path, root: ET.Element, line: int) -> None:
    """A TEI volume's root is TEI in the TEI namespace."""
    if root.tag != TEI + "TEI":
        raise CollectionError(f"{path}:{line}: not a TEI volume (root element {root.tag!r}, expected "
                              f"{TEI}TEI); .xml collections must be FRUS TEI")


def _is_persons(elem: ET.Element) -> bool:
    """Whether an element is the front matter's persons list."""
    return elem.tag == TEI + "div" and elem.get(XML_ID) == "persons"


def _record(div: ET.Element, volume: _Volume, chapters: list[str], last_date: PartialDate | None) -> dict[str, Any]:
    """The raw record of one document div, in the shape of the JSONL conversion."""
    doc_id = div.get(XML_ID, "")
    head = div.find(TEI + "head")
    title = _NUMBERING.sub("", _plain(head)) if head is not None else ""
    body = _Body()
    body.walk(div, top=True)
    body.flush()
    date, date_raw, when, date_source = _dated(div, title)
    senders: list[str] = []
    receivers: list[str] = []
    for elem in [*div.iter(TEI + "gloss"), *div.iter(TEI + "persName")]:
        kind = elem.get("type")
        if kind in ("from", "to"):
            name = _plain(elem)
            if name:
                (senders if kind == "from" else receivers).append(name)
    subject, lead = _lead(body.blocks, body.kinds)
    summary = [title.rstrip(".") + "."] if title else []
    summary += [subject.rstrip(".") + "."] if subject else []
    summary += [lead] if lead else []
    return {
        "id": f"{volume.id}-{doc_id}",
        "date": date.iso if date else None,
        "date_raw": date_raw,
        "date_when": when,
        "date_source": date_source,
        "date_inferred": last_date.iso if last_date and not date else None,
        "title": title,
        "summary": _norm_ws(" ".join(summary)),
        "summary_method": SUMMARY_METHOD,
        "text": "\n\n".join(body.blocks),
        "people": _people(div, volume.persons),
        "from": list(dict.fromkeys(senders)),
        "to": list(dict.fromkeys(receivers)),
        "place": _place(div),
        "source_note": " ".join(body.source_notes) or None,
        "footnotes": body.notes,
        "chapter": " > ".join(chapters) or None,
        "doc_number": div.get("n"),
        "pages": body.pages,
        "volume_id": volume.id,
        "source": volume.title or volume.id,
        "url": URL.format(volume=volume.id, id=doc_id),
        "license": LICENSE,
    }


def _dated(div: ET.Element, title: str) -> tuple[PartialDate | None, str | None, str | None, str | None]:
    """(date, date_raw, the TEI attribute value, which rule gave it) from the dateline, else text dates."""
    dateline = next(div.iter(TEI + "dateline"), None)
    listed = list(dateline.iter(TEI + "date")) if dateline is not None else []
    for elem in listed or div.iter(TEI + "date"):
        attr = next((a for a in ("when", "from", "notBefore", "to", "notAfter") if elem.get(a)), None)
        match = _WHEN.match(elem.get(attr, "")) if attr else None
        if attr and match:
            iso = "-".join(part for part in match.groups() if part)
            try:
                rule = "when" if attr == "when" else "from/notBefore"
                return parse_date(iso), _plain(elem), elem.get(attr), f"tei_date@{rule}"
            except DateParseError as error:
                log.warning("%s: %s", div.get(XML_ID), error)
    datelines = " ".join(_plain(d) for d in div.iter(TEI + "dateline"))
    for rule, text in (("dateline_text", datelines), ("head_text", title)):
        found = _text_date(text)
        if found:
            return found[0], found[1], None, rule
    raw = _plain(listed[0]) if listed else None
    if raw:
        try:
            return parse_date(raw), raw, None, "dateline_date_text"  # "June 1961": month precision
        except DateParseError:
            pass
    return None, raw, None, None


def _text_date(text: str) -> tuple[PartialDate, str] | None:
    """The first "June 2, 1961" or "2 June 1961" in a text."""
    for pattern in _TEXT_DATES:
        match = pattern.search(text)
        if match:
            try:
                return parse_date(match.group(0)), match.group(0)
            except DateParseError:
                continue
    return None


def _people(div: ET.Element, persons: dict[str, str]) -> list[str]:
    """Names of every persName, resolved through the persons list, most frequent first."""
    counts: Counter[str] = Counter()
    order: dict[str, int] = {}
    for elem in div.iter(TEI + "persName"):
        ref = (elem.get("corresp") or "").lstrip("#")
        name = _norm_ws(persons.get(ref) or _plain(elem)).strip(" ,.;:")
        if not name or len(name) > 80:
            continue
        counts[name] += 1
        order.setdefault(name, len(order))
    return sorted(counts, key=lambda n: (-counts[n], order[n]))


def _place(div: ET.Element) -> str | None:
    """The first dateline's placeName."""
    dateline = next(div.iter(TEI + "dateline"), None)
    place = dateline.find(f".//{TEI}placeName") if dateline is not None else None
    return _plain(place) if place is not None else None


def _person(listed: str) -> Person:
    """A persons-list entry as a Person: display name, with the listed form and "First Last" as aliases."""
    name = re.sub(r"\s*\([^)]*\)", "", listed).strip()
    if "," not in name:
        return Person(name, (listed,) if listed != name else ())
    surname, _, rest = (part.strip() for part in name.partition(","))
    parts = [p.strip() for p in rest.split(",") if p.strip()]
    suffix = [p for p in parts if fold(p.rstrip(".")) in SUFFIXES]
    given = [w for p in parts if p not in suffix for w in p.split() if fold(w.rstrip(".")) not in TITLES]
    shown = " ".join([*given, surname]) + "".join(f", {s}" for s in suffix)
    first = next((w for w in given if not re.fullmatch(r"[A-Z]\.", w)), None)
    short = f"{first} {surname}" if first and len(given) > 1 else None
    aliases = [a for a in dict.fromkeys([listed, short]) if a and a != shown]
    return Person(shown, tuple(aliases))


class _Body:
    """Block-separated text of a document div: head, notes (kept apart) and nested documents left out."""

    def __init__(self) -> None:
        self.blocks: list[str] = []
        self.kinds: list[str] = []  # "meta" (opener, dateline, closer ...) or "prose", per block
        self.notes: list[str] = []
        self.source_notes: list[str] = []
        self.pages: list[str] = []
        self.cur: list[str] = []
        self.meta = 0

    def flush(self) -> None:
        """End the current block."""
        text = _tidy(_norm_ws("".join(self.cur)))
        if text:
            self.blocks.append(text)
            self.kinds.append("meta" if self.meta else "prose")
        self.cur = []

    def note(self, elem: ET.Element) -> None:
        """Keep a footnote ("[n] text") or the source note."""
        text = _plain(elem)
        if elem.get("type") == "source" or (elem.get("n") == "0" and text.startswith("Source:")):  # newer volumes
            self.source_notes.append(text)
        elif text:
            self.notes.append(f"[{elem.get('n')}] {text}" if elem.get("n") else text)

    def walk(self, elem: ET.Element, top: bool = False) -> None:
        """Collect an element's text into blocks."""
        tag = _local(elem.tag)
        if tag == "note":
            self.note(elem)
        elif tag == "pb":
            if elem.get("n"):
                self.pages.append(elem.get("n", ""))
        elif tag == "head" and top:  # the title: only its notes and page breaks count here
            for inner in elem.iter():
                if _local(inner.tag) == "note":
                    self.note(inner)
                elif _local(inner.tag) == "pb" and inner.get("n"):
                    self.pages.append(inner.get("n", ""))
        elif tag == "div" and elem.get("type") == "document" and not top:
            return
        elif tag == "label":  # list labels ("1.", "a.") stay on the line of their item
            self.flush()
            self.cur.append(_plain(elem) + " ")
            if elem.tail and elem.tail.strip():
                self.cur.append(elem.tail)
            return
        else:
            self.block(elem, tag, top)
            return
        if elem.tail:
            self.cur.append(elem.tail)

    def block(self, elem: ET.Element, tag: str, top: bool) -> None:
        """An element that may start and end a block, with its children."""
        block = tag in BLOCK_TAGS
        if block:
            pending = "".join(self.cur).strip()
            if not (tag == "item" and pending and pending[-1:] in ".)" and len(pending) < 8):
                self.flush()
        if tag in META_TAGS:
            self.meta += 1
        if tag == "lb":
            self.cur.append(" ")
        elif elem.text:
            self.cur.append(elem.text)
        head_seen = False
        for child in elem:
            if top and _local(child.tag) == "head" and not head_seen:
                head_seen = True
                self.walk(child, top=True)
            else:
                self.walk(child)
        if tag == "cell":
            self.cur.append(" | ")
        if block:
            self.flush()
        if tag in META_TAGS:
            self.meta -= 1
        if elem.tail:
            self.cur.append(elem.tail)


def _lead(blocks: list[str], kinds: list[str], max_chars: int = 450) -> tuple[str | None, str]:
    """The Subject line (if any) and the first two sentences of body prose."""
    subject = None
    prose: list[str] = []
    for block, kind in zip(blocks, kinds):
        if kind != "prose":
            continue
        if subject is None and re.match(r"^(Subject|SUBJECT)\s*:", block):
            subject = block
            continue
        if len(block) < 40 and not re.search(r"[.!?]$", block):
            continue  # classification, salutation, place and date lines
        if len(block) < 80 and re.match(r"^(top secret|secret|confidential|restricted|priority|niact|"
                                        r"official use only)\b", block, re.I):
            continue
        if "|" in block or re.match(r"^(Participants|Present|Persons present|Those present)\b", block, re.I):
            continue
        prose.append(block)
        if sum(len(x) for x in prose) > 1200:
            break
    joined = re.sub(r"^\d+\.\s+(?=[A-Z\[])", "", " ".join(prose))  # telegram or paragraph number
    sentences = [s for s in _sentences(joined) if len(s) >= 25 or s.endswith("?")]
    lead = ""
    for sentence in sentences[:2]:
        if lead and len(lead) + len(sentence) > max_chars:
            break
        lead = (lead + " " + sentence).strip()
    lead = re.sub(r"\s+\(?[a-z0-9]{1,2}[.)]$", "", lead)  # a dangling list label
    if len(lead) > max_chars:
        lead = lead[:max_chars].rsplit(" ", 1)[0] + " …"
    return subject, lead


def _sentences(text: str) -> list[str]:
    """Sentences, not split after abbreviations or initials."""
    for abbreviation in ABBREV:
        text = text.replace(abbreviation, abbreviation.replace(".", "\u2024"))
    text = re.sub(r"\b([A-Z])\.", lambda m: m.group(1) + "\u2024", text)
    parts = re.split(r"(?<=[.!?])[\"”’)]?\s+(?=[A-Z“\"(\[])", text)
    return [p.replace("\u2024", ".").strip() for p in parts if p.strip()]


def _local(tag: Any) -> str:
    """A tag without its namespace ("" for comments and processing instructions)."""
    if not isinstance(tag, str):
        return ""
    return tag.split("}", 1)[1] if "}" in tag else tag


def _norm_ws(text: str | None) -> str:
    """Runs of whitespace as one space, trimmed."""
    return re.sub(r"\s+", " ", text or "").strip()


def _tidy(text: str) -> str:
    """No spaces that XML indentation leaves inside brackets and quotes or before commas."""
    text = re.sub(r"([(\[“‘])\s+", r"\1", text)
    text = re.sub(r"\s+([)\]”’])", r"\1", text)
    return re.sub(r"(?<=[\w)’”])\s+([,;:])", r"\1", text)


def _plain(elem: ET.Element) -> str:
    """An element's inline text, notes left out, whitespace normalised."""
    out: list[str] = [elem.text or ""]
    for child in elem:
        _inline(child, out)
    return _tidy(_norm_ws("".join(out)))


def _inline(elem: ET.Element, out: list[str]) -> None:
    """Append an element's text (none for a note) and its tail."""
    tag = _local(elem.tag)
    if tag != "note":
        out.append(" " if tag == "lb" else elem.text or "")
        for child in elem:
            _inline(child, out)
    out.append(elem.tail or "")
