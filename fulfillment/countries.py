"""Turn the country names shopping carts send into ISO 3166 alpha-2 codes."""

import functools
import re
import unicodedata

import pycountry

# Longer input is not a country name; the cap also keeps the lru_cache small.
MAX_NAME_LENGTH = 100

# Spellings that pycountry's name, official_name and common_name do not cover. Keys are written
# in plain words; they go through the same normalisation as the input.
ALIASES: dict[str, str] = {
    "America": "US",
    "United States of America": "US",
    "U.S.": "US",
    "U.S.A.": "US",
    "UK": "GB",
    "U.K.": "GB",
    "Britain": "GB",
    "Great Britain": "GB",
    "England": "GB",
    "Scotland": "GB",
    "Wales": "GB",
    "Northern Ireland": "GB",
    "Republic of Ireland": "IE",
    "Eire": "IE",
    "Korea": "KR",
    "South Korea": "KR",
    "North Korea": "KP",
    "Russia": "RU",
    "Vietnam": "VN",
    "Iran": "IR",
    "Syria": "SY",
    "Laos": "LA",
    "Czech Republic": "CZ",
    "Ivory Coast": "CI",
    "Holland": "NL",
    "Turkey": "TR",
    "Macau": "MO",
    "Brunei": "BN",
    "Burma": "MM",
    "Macedonia": "MK",
    "Swaziland": "SZ",
    "Cape Verde": "CV",
    "East Timor": "TL",
    "Vatican": "VA",
    "Vatican City": "VA",
    "Palestine": "PS",
    "Micronesia": "FM",
    "Democratic Republic of the Congo": "CD",
    "DR Congo": "CD",
    "DRC": "CD",
    "Congo-Kinshasa": "CD",
    "Republic of the Congo": "CG",
    "Congo-Brazzaville": "CG",
    "Saint Martin": "MF",
    "Sint Maarten": "SX",
    "Kosovo": "XK",
    "UAE": "AE",
    "Deutschland": "DE",
    "España": "ES",
    "Österreich": "AT",
    "Schweiz": "CH",
    "Suisse": "CH",
    "Nederland": "NL",
    "Italia": "IT",
    "Sverige": "SE",
    "Norge": "NO",
    "Danmark": "DK",
    "Polska": "PL",
}

_DROPPED = re.compile(r"[.'\u2019`]")
_SEPARATORS = re.compile(r"[\W_]+")
_PARENTHESES = re.compile(r"\s*\([^)]*\)")


def country_code(name: str) -> str:
    """Return the ISO 3166 alpha-2 code for a country name, alias or code, or "" if unknown."""
    if not isinstance(name, str) or len(name) > MAX_NAME_LENGTH:
        return ""
    return _lookup(name)


@functools.lru_cache(maxsize=1024)
def _lookup(name: str) -> str:
    """Look a name up in the index after normalising it."""
    return _index().get(_normalise(name), "")


def _normalise(text: str) -> str:
    """Reduce a name to lower-case ASCII-ish words so spelling variants meet."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    plain = _DROPPED.sub("", plain.replace("&", " and "))
    words = _SEPARATORS.sub(" ", plain).split()
    if words and words[0] == "the":
        words = words[1:]
    return " ".join("saint" if word == "st" else word for word in words)


def _variants(name: str) -> list[str]:
    """List a pycountry name as written, without its parentheses, and with "X, Y" as "Y X"."""
    variants = [name, _PARENTHESES.sub("", name)]
    if ", " in name:
        head, _, tail = name.partition(", ")
        variants.append(f"{tail} {head}")
    return variants


@functools.lru_cache(maxsize=1)
def _index() -> dict[str, str]:
    """Build the normalised name -> alpha-2 table from pycountry and the aliases."""
    index: dict[str, str] = {}
    for country in pycountry.countries:
        code = country.alpha_2
        index.setdefault(_normalise(country.alpha_2), code)
        index.setdefault(_normalise(country.alpha_3), code)
        for attribute in ("name", "official_name", "common_name"):
            value = getattr(country, attribute, None)
            for variant in _variants(value) if value else []:
                index.setdefault(_normalise(variant), code)
    for alias, code in ALIASES.items():
        index[_normalise(alias)] = code
    index.pop("", None)
    return index


@functools.lru_cache(maxsize=1)
def country_names() -> tuple[str, ...]:
    """Return the country names a form offers: pycountry's common or short names, sorted."""
    names = {getattr(c, "common_name", None) or c.name for c in pycountry.countries}
    return tuple(sorted(names))
