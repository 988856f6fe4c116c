"""Tests of the eCommerceIDString: syntax, messages, normal form and exact matching (SPEC §5)."""

import pytest
from django.core.exceptions import ValidationError

from fulfillment import ecommerce_ids
from fulfillment.ecommerce_ids import (
    ERROR_DUPLICATE,
    ERROR_INVALID,
    EXAMPLE,
    format_ids,
    matches,
    normalise,
    parse,
    validate,
)

ID_64 = "a" * 30 + "B" * 30 + "0-_9"
ID_65 = ID_64 + "x"


def invalid(value: str) -> ValidationError:
    """Return the error `parse` raises for `value`, failing when it raises none."""
    with pytest.raises(ValidationError) as caught:
        parse(value)
    return caught.value


@pytest.mark.parametrize(
    ("value", "ids"),
    [
        ("279813", ("279813",)),
        ("{279813}", ("279813",)),
        ("{294010}{298020}", ("294010", "298020")),
        ("{294010}{298020}{300001}", ("294010", "298020", "300001")),
        ("  279813  ", ("279813",)),
        ("\t279813\n", ("279813",)),
        (" {294010} {298020} ", ("294010", "298020")),
        ("{ 294010 }{  298020\t}", ("294010", "298020")),
        ("\n{294010}\r\n{298020}\n", ("294010", "298020")),
        ("{1}\u00a0{2}", ("1", "2")),
        ("prod-A_7", ("prod-A_7",)),
        ("{abc}{ABC}", ("abc", "ABC")),
        ("{-}{_}", ("-", "_")),
        (ID_64, (ID_64,)),
        ("{" + ID_64 + "}{2}", (ID_64, "2")),
    ],
)
def test_valid_forms_parse_to_their_ids_in_order(value, ids):
    assert len(ID_64) == 64
    assert parse(value) == ids
    validate(value)  # the field validator accepts what parse accepts


@pytest.mark.parametrize("value", ["", " ", "   \t\n  "])
def test_empty_or_white_space_means_not_linked(value):
    assert parse(value) == ()
    assert normalise(value) == ""
    validate(value)
    assert not matches(value, "279813")


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("{294010", id="unclosed-brace"),
        pytest.param("294010}", id="unopened-brace"),
        pytest.param("{294010}{298020", id="second-unclosed"),
        pytest.param("{294010}}", id="extra-close"),
        pytest.param("{{294010}}", id="nested"),
        pytest.param("}294010{", id="reversed"),
        pytest.param("279813{298020}", id="bare-then-braces"),
        pytest.param("{279813}298020", id="braces-then-bare"),
        pytest.param("279813 298020", id="two-bare-ids"),
        pytest.param("{}", id="empty-braces"),
        pytest.param("{ }", id="blank-braces"),
        pytest.param("{294010}{}", id="trailing-empty-braces"),
        pytest.param(ID_65, id="65-char-bare"),
        pytest.param("{" + ID_65 + "}", id="65-char-braced"),
        pytest.param("{294010}{" + ID_65 + "}", id="65-char-second"),
        pytest.param("2798.13", id="dot"),
        pytest.param("{27981$}", id="dollar"),
        pytest.param("{prod id}", id="space-inside-id"),
        pytest.param("{é}", id="non-ascii-letter"),
        pytest.param("١٢٣", id="non-ascii-digits"),
        pytest.param("\u200b279813", id="zero-width-space"),
        pytest.param("{279813}\x00", id="nul"),
        pytest.param("[279813]", id="square-brackets"),
        pytest.param("(279813)", id="parentheses"),
        pytest.param("'279813'", id="quotes"),
        pytest.param("294010,298020", id="comma-bare"),
        pytest.param("{294010},{298020}", id="comma-between-braces"),
        pytest.param("{294010,298020}", id="comma-inside-braces"),
        pytest.param("294010;298020", id="semicolon"),
    ],
)
def test_malformed_forms_are_refused_with_the_syntax(value):
    error = invalid(value)
    assert error.code == "invalid"
    assert error.messages == [ERROR_INVALID]
    # The message teaches the syntax: both forms, and what an id may contain.
    assert EXAMPLE in ERROR_INVALID
    assert "279813" in ERROR_INVALID
    assert "1–64" in ERROR_INVALID
    with pytest.raises(ValidationError):
        validate(value)


@pytest.mark.parametrize(
    ("value", "duplicate"),
    [
        ("{294010}{294010}", "294010"),
        ("{1}{2}{1}", "1"),
        (" { 7 } {7}", "7"),
    ],
)
def test_an_id_listed_twice_is_refused_naming_it(value, duplicate):
    error = invalid(value)
    assert error.code == "duplicate"
    assert error.messages == [ERROR_DUPLICATE.format(id=duplicate)]
    assert duplicate in error.messages[0]


def test_ids_differing_only_in_case_are_distinct():
    assert parse("{abc}{ABC}") == ("abc", "ABC")


@pytest.mark.parametrize(
    ("value", "normal"),
    [
        ("279813", "279813"),
        ("  279813 \n", "279813"),
        ("{279813}", "{279813}"),
        (" { 279813 } ", "{279813}"),
        (" {294010} \n { 298020 }\t", "{294010}{298020}"),
        ("{294010}{298020}", "{294010}{298020}"),
        ("", ""),
        ("  ", ""),
    ],
)
def test_normalise_drops_stray_white_space_and_keeps_the_form(value, normal):
    assert normalise(value) == normal
    assert normalise(normal) == normal  # idempotent
    assert parse(normal) == parse(value)


def test_normalise_refuses_what_parse_refuses():
    with pytest.raises(ValidationError) as caught:
        normalise("{294010")
    assert caught.value.messages == [ERROR_INVALID]


@pytest.mark.parametrize(
    ("ids", "text"),
    [((), ""), (("279813",), "279813"), (("294010", "298020"), "{294010}{298020}")],
)
def test_format_ids_writes_the_canonical_form(ids, text):
    assert format_ids(ids) == text
    assert format_ids(list(ids)) == text
    assert parse(text) == ids


@pytest.mark.parametrize(
    ("value", "product_id"),
    [
        ("279813", "279813"),
        ("279813", 279813),
        ("{279813}", 279813),
        ("{279813}", "279813"),
        ("{294010}{298020}", "298020"),
        ("{294010}{298020}", 294010),
        (" { 294010 } ", "294010"),
        ("{prod-A_7}", "prod-A_7"),
        (ID_64, ID_64),
    ],
)
def test_matching_is_exact_per_token(value, product_id):
    assert matches(value, product_id)


@pytest.mark.parametrize(
    ("value", "product_id"),
    [
        pytest.param("{279813}", "2798", id="prefix"),
        pytest.param("{279813}", 2798, id="prefix-int"),
        pytest.param("279813", "27981", id="one-digit-short"),
        pytest.param("27981", "279813", id="one-digit-long"),
        pytest.param("{279813}", "79813", id="suffix"),
        pytest.param("{279813}", "9813", id="inner"),
        pytest.param("{294010}{298020}", "294010298020", id="concatenation"),
        pytest.param("{294010}{298020}", "{294010}", id="braced-token"),
        pytest.param("{294010}{298020}", "0}{2", id="across-tokens"),
        pytest.param("{0279813}", 279813, id="leading-zero"),
        pytest.param("{279813}", "0279813", id="leading-zero-given"),
        pytest.param("{279813}", 279813.0, id="float"),
        pytest.param("{abc}", "ABC", id="case"),
        pytest.param("{279813}", "", id="empty"),
        pytest.param("", "", id="empty-both"),
    ],
)
def test_no_substring_prefix_or_numeric_match(value, product_id):
    assert not matches(value, product_id)


def test_module_documents_the_example_it_shows():
    assert ecommerce_ids.EXAMPLE == "{294010}{298020}"
    assert parse(ecommerce_ids.EXAMPLE) == ("294010", "298020")
    assert ecommerce_ids.EXAMPLE in ecommerce_ids.SYNTAX_HELP
