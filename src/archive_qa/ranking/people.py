"""The people index: names from the collection and the aliases files, found in questions and documents.

Aliases come from `data/people.json` and any `data/*.people.json` (and the same names inside an index
directory), each a JSON list of `{"name": ..., "aliases": [...], "born": YYYY, "died": YYYY}`. A collection
adds its own people by shipping such a file; the collection's `people` field and the names in titles
("Mao Zedong to Filippov [Stalin]", "The Ambassador in Korea (Muccio) to the Secretary of State") are
added on top, so "Filippov", "Fyn-Si" and "Feng Xi" all lead to Joseph Stalin.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..documents import Document
from ..store.base import StoreReader
from .. import gazetteer
from .lexical import STOPWORDS

log = logging.getLogger(__name__)

PEOPLE_FILE = "people.json"


def _data_dir() -> Path:
    """data/ of a checkout (or an editable install), else the copy of its aliases files a wheel installs."""
    checkout = Path(__file__).resolve().parents[3] / "data"
    return checkout if (checkout / PEOPLE_FILE).is_file() else Path(__file__).resolve().parents[1] / "data"


DATA_DIR = _data_dir()
PEOPLE_GLOB = "*.people.json"
SUMMARY_CHARS = 400  # how much of a summary (else text) is read for names and its author
_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)
HONORIFICS = frozenset("""president prime minister premier chairman general generalissimo marshal secretary ambassador
comrade mr mrs dr senator cardinal king queen emperor foreign vice deputy acting admiral colonel governor""".split())
NOT_NAMES = frozenset("""extract excerpt excerpts draft translation summary paraphrase continued undated secret top
confidential restricted unclassified telegram memorandum letter note enclosure annex tab attachment
the department embassy state defense staff government office mission legation consulate agency council
committee board charge chargé consul counselor attache delegate delegation representative minister
ministry members notes fragments record records minutes conversation conversations meeting talks""".split())
SPEECH_VERBS = frozenset("""say says said tell tells told write writes wrote written reply replies replied answer
answered ask asks asked propose proposes proposed suggest suggests suggested report reports reported think thought
argue argued urge urged warn warned instruct instructed advise advised recommend recommended request requested
explain explained cable cabled telegraph telegraphed inform informed informs want wanted demand demanded offer
offered""".split())
AUTHORED = frozenset("letter letters telegram telegrams message messages cable cables reply view views report "
                     "proposal proposals note notes memo memorandum instructions speech".split())
_TITLE_PAIR = re.compile(
    r"^(?:(?:telegram|letter|cable|message|note|memorandum)\s+(?:from\s+)?)?(?P<x>[A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*){0,3})"
    r"\s+to\s+(?P<y>[A-Z][\w'’.-]*(?:\s+[A-Z][\w'’.-]*){0,3})", re.IGNORECASE)
_BRACKETED = re.compile(r"[\[(]([^\[\]()]{2,60})[\])]")
PARTICLES = frozenset("de da di du del della der den van von le la al el bin ibn y".split())
INVOLVEMENT_CACHE = 8192  # documents whose involvement one generation's people index remembers


@lru_cache(maxsize=65536)
def fold(token: str) -> str:
    """A token without accents, lower-cased: "Hammarskjöld" -> "hammarskjold"."""
    if token.isascii():
        return token.lower()
    return "".join(c for c in unicodedata.normalize("NFKD", token) if not unicodedata.combining(c)).lower()


def tokens(text: str) -> list[tuple[str, int, int]]:
    """(folded token, start, end) for every word of a text."""
    return [(fold(m.group(0)), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def name_key(name: str) -> str:
    """A name as a matching key: its folded words joined by spaces."""
    return " ".join(token for token, _, _ in tokens(name))


@dataclass(frozen=True)
class Person:
    """A person with the other ways archives write the name."""

    name: str
    aliases: tuple[str, ...] = ()
    born: int | None = None
    died: int | None = None


def people_files(*directories: Path | None) -> list[Path]:
    """The aliases files in the given directories (default: the project's data/)."""
    found: list[Path] = []
    for directory in directories or (DATA_DIR,):
        if directory is None or not directory.is_dir():
            continue
        main = directory / PEOPLE_FILE
        found += ([main] if main.is_file() else []) + sorted(directory.glob(PEOPLE_GLOB))
    return found


def load_people(paths: Iterable[Path]) -> list[Person]:
    """Read aliases files; a bad entry raises ValueError naming the file, entry and field."""
    people: list[Person] = []
    for path in paths:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}:{error.lineno}: not JSON ({error.msg})") from None
        if not isinstance(data, list):
            raise ValueError(f"{path}: expected a JSON list of people")
        for number, entry in enumerate(data):
            where = f"{path}: entry {number}"
            if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"].strip():
                raise ValueError(f"{where}: field 'name' must be a non-empty string")
            aliases = entry.get("aliases", [])
            if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
                raise ValueError(f"{where}: field 'aliases' must be a list of strings")
            for key in ("born", "died"):
                if entry.get(key) is not None and not isinstance(entry[key], int):
                    raise ValueError(f"{where}: field {key!r} must be a year (integer)")
            people.append(Person(entry["name"].strip(), tuple(a.strip() for a in aliases if a.strip()),
                                 entry.get("born"), entry.get("died")))
    return people


def display_name(raw: str) -> str:
    """ "Khrushchev, Nikita Sergeyevich" -> "Nikita Sergeyevich Khrushchev"; nicknames in brackets dropped."""
    name = re.sub(r"\s*\([^)]*\)", "", raw).strip()
    if name.count(",") == 1:
        surname, given = (part.strip() for part in name.split(","))
        if surname and given:
            return f"{given} {surname}"
    return name


def _strip_honorifics(name: str) -> str:
    """A name without leading titles such as "President" or "Prime Minister"."""
    words = name.split()
    while words and fold(words[0].rstrip(".")) in HONORIFICS:
        words.pop(0)
    return " ".join(words)


def title_names(title: str) -> list[str]:
    """Names a title gives: "[Stalin]", "(Muccio)" and "Mao Zedong to Filippov"."""
    names = []
    for inner in _BRACKETED.findall(title):
        names.append(inner.strip())
    match = _TITLE_PAIR.match(title)
    if match:
        names += [match.group("x"), match.group("y")]
    clean = []
    for name in names:
        name = _strip_honorifics(name.strip(" .,;"))
        words = name.split()
        if not 1 <= len(words) <= 4 or not all(w[:1].isupper() for w in words if len(w) > 3):
            continue
        if any(fold(w.strip(".,")) in NOT_NAMES for w in words) or any(w.isupper() and len(w) > 1 for w in words):
            continue
        clean.append(name)
    return clean


@dataclass
class PeopleIndex:
    """Name keys -> canonical person, with the surface forms of each person for matching text."""

    keys: dict[str, str] = field(default_factory=dict)  # folded key => canonical name
    strict: set[str] = field(default_factory=set)  # keys that count only when written with a capital
    forms: dict[str, set[str]] = field(default_factory=dict)  # canonical => its folded keys
    life: dict[str, tuple[int | None, int | None]] = field(default_factory=dict)  # canonical => (born, died)
    written: dict[str, list[str]] = field(default_factory=dict)  # canonical => other names as an aliases file writes them
    starts: dict[str, list[tuple[str, ...]]] = field(default_factory=dict)  # first word => keys as words, longest first
    _names: dict[str, str | None] = field(default_factory=dict)  # cache: name as written => canonical
    _involved: OrderedDict[str, Involvement] = field(default_factory=OrderedDict, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, canonical: str, key: str, strict: bool = False) -> None:
        """Map a key to a person unless the key is taken or is a common word."""
        if not key or key in self.keys or (len(key) < 3 and " " not in key) or key in STOPWORDS \
                or all(word in HONORIFICS or word in NOT_NAMES for word in key.split()):
            return
        self.keys[key] = canonical
        self.forms.setdefault(canonical, set()).add(key)
        words = tuple(key.split())
        starts = self.starts.setdefault(words[0], [])
        starts.append(words)
        starts.sort(key=len, reverse=True)
        self._names.clear()
        with self._lock:
            self._involved.clear()
        if strict:
            self.strict.add(key)

    def add_person(self, person: Person) -> None:
        """A person from an aliases file (matched case-insensitively).

        A person already listed under one of their full names (two words or more; a surname is shared too often)
        joins that person rather than becoming a second.
        """
        keys = [name_key(name) for name in (person.name, *person.aliases)]
        canonical = next((self.keys[key] for key in keys if " " in key and key in self.keys), person.name)
        if canonical == person.name or self.life.get(canonical, (None, None)) == (None, None):
            self.life[canonical] = (person.born, person.died)
        names = self.written.setdefault(canonical, [])
        names.extend(name for name in (person.name, *person.aliases) if name != canonical and name not in names)
        for key in keys:
            self.add(canonical, key)

    def learn(self, shown: str, surname: str) -> tuple[str, tuple[str, ...]] | None:
        """A name the collection writes; joined to a known person by its full name, or by a listed alias.

        Returns (canonical, the name's words) for `add_partial_keys`, or None when the name is a place.
        """
        full = name_key(shown)
        if not full or gazetteer.is_place(full):
            return None
        words = tuple(full.split())
        canonical = self.keys.get(full) or (self.keys.get(f"{words[0]} {surname}") if len(words) > 2 else None)
        listed = self.keys.get(surname) if surname not in self.strict else None
        if canonical is None and listed and (len(words) == 1 or _initials_agree(words[0], listed)):
            canonical = listed  # "N. S. Khrushchev" -> Nikita Khrushchev, never "Allen W. Dulles" -> John Foster
        canonical = canonical or shown
        self.add(canonical, full, strict=True)
        return canonical, words

    def add_partial_keys(self, learnt: list[tuple[str, tuple[str, ...], str]], common: frozenset[str]) -> None:
        """Surnames alone ("Muccio") and first-and-last names, for learnt names, where only one person has them.

        A part is not added when it is a place or a nationality, a word the collection writes in lower case,
        or a word of another person's name ("Kim Il" is in Kim Il Sung and in Kim Jong Il).
        """
        owners: dict[str, set[str]] = {}
        for canonical, forms in self.forms.items():
            for key in forms:
                for word in key.split():
                    owners.setdefault(word, set()).add(canonical)
        for canonical, words, surname in learnt:
            parts = [(surname,)] if len(words) > 1 else []
            if len(words) > 2:
                parts.append((words[0], surname))
            for part in parts:
                if any(owners.get(word, set()) - {canonical} for word in part):
                    continue
                key = " ".join(part)
                if len(part) == 1 and (key in common or gazetteer.is_place(key) or key in gazetteer.nation_words()):
                    continue
                self.add(canonical, key, strict=True)

    def canonical(self, name: str) -> str | None:
        """The canonical person for a name as written anywhere, or None."""
        if name in self._names:
            return self._names[name]
        key = name_key(display_name(name))
        if key in self.keys:
            person: str | None = self.keys[key]
        else:
            found = self.find(name)
            person = found[0][0] if found else None
        self._names[name] = person
        return person

    def find(self, text: str) -> list[tuple[str, int, int]]:
        """(canonical, start, end) for each person named in a text, longest names first, left to right."""
        words = tokens(text)
        plain = [w for w, _, _ in words]
        found: list[tuple[str, int, int]] = []
        i = 0
        while i < len(words):
            for candidate in self.starts.get(plain[i], ()):
                size = len(candidate)
                if tuple(plain[i:i + size]) != candidate:
                    continue
                key = " ".join(candidate)
                start = words[i][1]
                if key in self.strict and not text[start].isupper():
                    continue
                found.append((self.keys[key], start, words[i + size - 1][2]))
                i += size
                break
            else:
                i += 1
        return found

    def involvement(self, doc: Document) -> Involvement:
        """`involvement(doc, self)`, remembered per document id (LRU): a generation's documents never change."""
        with self._lock:
            found = self._involved.get(doc.id)
            if found is not None:
                self._involved.move_to_end(doc.id)
                return found
        found = involvement(doc, self)
        with self._lock:
            self._involved[doc.id] = found
            while len(self._involved) > INVOLVEMENT_CACHE:
                self._involved.popitem(last=False)
        return found

    def surface_forms(self, canonical: str) -> list[str]:
        """The folded ways of writing a person, longest first (for lexical expansion)."""
        return sorted(self.forms.get(canonical, ()), key=lambda k: (-len(k), k))


def _initials_agree(first_word: str, canonical: str) -> bool:
    """Whether a name's first word fits a person's first name ("n" or "nikita" for Nikita Khrushchev)."""
    given = name_key(canonical).split()[0]
    return given.startswith(first_word) if len(first_word) == 1 else given == first_word


def looks_like_person(name: str, common: frozenset[str] = frozenset()) -> bool:
    """Whether a name read from a title can be a person: capitalised words, none a place, nationality or common word."""
    words = name.split()
    if not 1 <= len(words) <= 4 or not all(w[:1].isupper() or fold(w) in PARTICLES for w in words):
        return False
    key = name_key(name)
    if gazetteer.has_place_word(key):
        return False
    return not any(word in common or word in STOPWORDS or word in NOT_NAMES or word in HONORIFICS
                   for word in key.split() if word not in PARTICLES)


def common_words(texts: Iterable[str]) -> frozenset[str]:
    """Words a collection mostly writes in lower case ("notes", "price", "will"): never a name on their own."""
    lower: dict[str, int] = {}
    upper: dict[str, int] = {}
    for text in texts:
        for match in _TOKEN.finditer(text):
            word = match.group(0)
            if word.islower():
                lower[word] = lower.get(word, 0) + 1
            elif word[:1].isupper() and match.start() > 1 and text[match.start() - 2] not in ".!?:\n":
                folded = fold(word)
                upper[folded] = upper.get(folded, 0) + 1
    return frozenset(word for word, count in lower.items() if count >= 2 and count * 4 >= upper.get(word, 0))


def build_index(known: Iterable[Person], collection_names: Iterable[str], titled: Iterable[str] = (),
                common: frozenset[str] = frozenset()) -> PeopleIndex:
    """A people index from aliases-file people, then the collection's people field, then names in titles.

    Aliases-file names always count. A learnt name counts when it looks like a person, and its surname
    alone only when one person in the index carries it.
    """
    index = PeopleIndex()
    for person in known:
        index.add_person(person)
    learnt: list[tuple[str, tuple[str, ...], str]] = []
    lone: list[str] = []  # one-word names ("Muccio", "John"): they wait until every full name is known
    for raw in collection_names:
        shown = display_name(raw)
        words = name_key(shown).split()
        surname = name_key(raw.split(",")[0]) if "," in raw else (words[-1] if words else "")
        if len(words) == 1:
            lone.append(shown)
        elif words and surname and " " not in surname:
            found = index.learn(shown, surname)
            if found:
                learnt.append((*found, surname))
    index.add_partial_keys(learnt, common)
    learnt = []
    for name in [n for n in titled if len(n.split()) > 1 and looks_like_person(n, common)]:
        words = name_key(name).split()
        found = index.learn(name, words[-1])
        if found:
            learnt.append((*found, words[-1]))
    index.add_partial_keys(learnt, common)
    named_words = {word for forms in index.forms.values() for key in forms for word in key.split()}
    for name in lone + [n for n in titled if len(n.split()) == 1 and looks_like_person(n, common)]:
        key = name_key(name)
        if key in index.keys or (key not in named_words and key not in common):
            index.learn(name, key)  # a lone name that several people carry ("Kent", "John") names none of them
    return index


def collection_index(known: Iterable[Person], records: Iterable[tuple[str | list[str], str | None, str | None]]
                     ) -> PeopleIndex:
    """The people index of a collection: (people, title, summary) per record, people as a list or JSON list.

    People-field names count most frequent first, then names in titles; the words a collection writes in
    lower case are learnt from the same titles and summaries.
    """
    named: dict[str, int] = {}
    titled: dict[str, int] = {}
    texts: list[str] = []
    for people, title, summary in records:
        for name in json.loads(people) if isinstance(people, str) else people:
            named[name] = named.get(name, 0) + 1
        for name in title_names(title or ""):
            titled[name] = titled.get(name, 0) + 1
        texts.append(f"{title or ''}\n{(summary or '')[:SUMMARY_CHARS]}")
    by_count = lambda counts: sorted(counts, key=lambda n: (-counts[n], n))  # noqa: E731
    return build_index(known, by_count(named), by_count(titled), common_words(texts))


def index_for(store: StoreReader) -> PeopleIndex:
    """The people index of a store's generation, built once and kept on the store."""
    def build() -> PeopleIndex:
        index = collection_index(load_people(people_files(DATA_DIR, *store.people_directories())),
                                 store.people_records())
        log.info("people index: %d keys for %d people", len(index.keys), len(index.forms))
        return index

    return store.cached("people index", build)


@dataclass(frozen=True)
class Involvement:
    """Who a document is by, and who it names."""

    authors: frozenset[str]
    named: frozenset[str]


def involvement(doc: Document, index: PeopleIndex) -> Involvement:
    """Authors from `from` fields, titles ("X to Y", "... (Dulles) to ...") or a summary's lead; all names."""
    named: set[str] = set()
    authors: set[str] = set()
    for name in doc.people:
        person = index.canonical(name)
        if person:
            named.add(person)
    for field_name, target in (("from", authors), ("to", None)):
        value = doc.extra.get(field_name)
        for name in [value] if isinstance(value, str) else value if isinstance(value, list) else []:
            if isinstance(name, str):
                person = index.canonical(name)
                if person:
                    named.add(person)
                    if target is not None:
                        target.add(person)
    title = doc.title or ""
    if title:
        mentions = index.find(title)
        named.update(p for p, _, _ in mentions)
        cut = re.search(r"\s+to\s+", title)
        if cut and not authors:
            authors.update(p for p, start, _ in mentions if start < cut.start())
    summary = doc.summary or doc.text or ""
    mentions = index.find(summary[:SUMMARY_CHARS])
    named.update(p for p, _, _ in mentions)
    if not authors and mentions:
        person, start, _ = mentions[0]
        before = summary[:start].split()
        if start < 60 and (not before or fold(before[-1]) not in {"to", "with", "and", "about", "on", "of", "for"}):
            authors.add(person)
    return Involvement(frozenset(authors), frozenset(named))


def question_people(question: str, index: PeopleIndex) -> tuple[list[str], str | None, list[tuple[str, int, int]]]:
    """The people a question names, the one whose words it asks about ("what did X say"), and each mention."""
    mentions = index.find(question)
    people: list[str] = []
    for person, _, _ in mentions:
        if person not in people:
            people.append(person)
    author = None
    for person, start, end in mentions:
        after = [w for w, _, _ in tokens(question[end:end + 40])][:2]
        before = [w for w, _, _ in tokens(question[max(0, start - 30):start])][-2:]
        possessive = question[end:end + 2] in ("'s", "’s")
        if (after and after[0] in SPEECH_VERBS) or (possessive and len(after) > 1 and after[1] in AUTHORED) \
                or before[-2:] == ["according", "to"] or (before and before[-1] == "from"):
            author = person
            break
    return people, author, mentions
