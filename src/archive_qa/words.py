"""The question's words: content words without stop words, and light stems so "tests" meets "test"."""

from __future__ import annotations

import re
from functools import lru_cache

STOPWORDS = frozenset("""a about above after again against all also am an and any are as at be been before being
between both but by can could did do does doing down during each few for from further had has have having he her
here hers him his how i if in into is it its itself just me more most my no nor not now of off on once only or
other our out over own same she should so some such than that the their them then there these they this those
through to too under until up very was we were what when where which while who whom why will with would you your
say said says tell told ask asked think thought view anything something""".split())
SUFFIXES = ("ing", "ed", "es", "s")


def content_words(text: str) -> list[str]:
    """Lower-case words that carry meaning: stop words and one-letter tokens dropped."""
    return [w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in STOPWORDS and len(w) > 1]


@lru_cache(maxsize=1 << 15)
def word_stem(word: str) -> str:
    """A lower-case word with a plural or verb ending cut, where four letters or more remain."""
    for suffix in SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


@lru_cache(maxsize=4096)
def stems(text: str) -> frozenset[str]:
    """The stems of a text's content words, so "tests" meets "test" and "invited" meets "inviting".

    Cached: the same summaries and sentences come back for question after question (a third of a search's
    evidence time went here).
    """
    return frozenset(word_stem(word) for word in content_words(text))
