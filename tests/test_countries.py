"""Tests of country-name normalisation to ISO 3166 alpha-2."""

import random

import pycountry
import pytest

from fulfillment.countries import ALIASES, country_code


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("United States", "US"),
        ("Canada", "CA"),
        ("United Kingdom", "GB"),
        ("Poland", "PL"),
        ("Germany", "DE"),
        ("Deutschland", "DE"),
        ("USA", "US"),
    ],
)
def test_names_in_the_fixtures(name: str, code: str) -> None:
    assert country_code(name) == code


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("USA", "US"),
        ("U.S.A.", "US"),
        ("U.S.", "US"),
        ("US", "US"),
        ("United States of America", "US"),
        ("America", "US"),
        ("UK", "GB"),
        ("U.K.", "GB"),
        ("Great Britain", "GB"),
        ("Britain", "GB"),
        ("England", "GB"),
        ("Scotland", "GB"),
        ("Wales", "GB"),
        ("Northern Ireland", "GB"),
        ("United Kingdom of Great Britain and Northern Ireland", "GB"),
        ("Ireland", "IE"),
        ("Republic of Ireland", "IE"),
        ("South Korea", "KR"),
        ("Korea, Republic of", "KR"),
        ("Republic of Korea", "KR"),
        ("North Korea", "KP"),
        ("Russia", "RU"),
        ("Russian Federation", "RU"),
        ("Vietnam", "VN"),
        ("Viet Nam", "VN"),
        ("Iran", "IR"),
        ("Czech Republic", "CZ"),
        ("Czechia", "CZ"),
        ("Ivory Coast", "CI"),
        ("Côte d'Ivoire", "CI"),
        ("Cote d\u2019Ivoire", "CI"),
        ("Holland", "NL"),
        ("The Netherlands", "NL"),
        ("Netherlands", "NL"),
        ("Turkey", "TR"),
        ("Türkiye", "TR"),
        ("Taiwan", "TW"),
        ("Bolivia", "BO"),
        ("Macedonia", "MK"),
        ("Burma", "MM"),
        ("Swaziland", "SZ"),
        ("Cape Verde", "CV"),
        ("Vatican City", "VA"),
        ("Holy See", "VA"),
        ("Falkland Islands", "FK"),
        ("Democratic Republic of the Congo", "CD"),
        ("Congo", "CG"),
        ("St. Kitts & Nevis", "KN"),
        ("Saint Lucia", "LC"),
        ("U.S. Virgin Islands", "VI"),
        ("British Virgin Islands", "VG"),
        ("Bahamas", "BS"),
        ("The Gambia", "GM"),
        ("Reunion", "RE"),
        ("Curacao", "CW"),
        ("Hong Kong", "HK"),
        ("UAE", "AE"),
        ("México", "MX"),
        ("Mexico", "MX"),
        ("España", "ES"),
        ("Österreich", "AT"),
    ],
)
def test_aliases_and_spelling_variants(name: str, code: str) -> None:
    assert country_code(name) == code


@pytest.mark.parametrize(
    ("name", "code"),
    [("GB", "GB"), ("gbr", "GB"), ("DE", "DE"), ("deu", "DE"), ("CA", "CA"), ("CAN", "CA")],
)
def test_alpha_2_and_alpha_3_codes(name: str, code: str) -> None:
    assert country_code(name) == code


@pytest.mark.parametrize(
    "name",
    ["united states", "UNITED STATES", "  United   States  ", "United\tStates\n", "uNiTeD sTaTeS"],
)
def test_case_and_white_space_do_not_matter(name: str) -> None:
    assert country_code(name) == "US"


@pytest.mark.parametrize(
    "name",
    ["", "   ", "Narnia", "Atlantis", "Europe", "123", "U", "Unite States", "\x00", "\ud800",
     "United States" * 20, "Deutschland, Bayern"],
)  # fmt: skip
def test_unknown_names_give_empty_string(name: str) -> None:
    assert country_code(name) == ""


def test_every_pycountry_name_and_code_is_recognised() -> None:
    for country in pycountry.countries:
        assert country_code(country.name) == country.alpha_2, country.name
        assert country_code(country.alpha_2.lower()) == country.alpha_2
        assert country_code(country.alpha_3) == country.alpha_2


def test_every_alias_maps_to_a_real_code() -> None:
    codes = {country.alpha_2 for country in pycountry.countries} | {"XK"}
    for alias, code in ALIASES.items():
        assert code in codes
        assert country_code(alias) == code


def test_never_raises_on_odd_input() -> None:
    rng = random.Random(7)
    alphabet = "aeiouUSAK .,'’&()-\u0301\x00\ud800é\u2028"
    for _ in range(500):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        assert isinstance(country_code(text), str)
    assert country_code(None) == ""  # type: ignore[arg-type]
    assert country_code(840) == ""  # type: ignore[arg-type]
