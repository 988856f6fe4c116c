"""Parse, validate and format the eCommerceIDString of a project (SPEC §5).

A project lists the SamCart product ids it fulfils either as one bare id (`279813`) or as one
or more ids in braces (`{294010}{298020}`). White space around tokens is ignored; an id is 1–64
letters, digits, `-` or `_`. Empty means "not linked".
"""

import re

from django.core.exceptions import ValidationError

ID_PATTERN = r"[A-Za-z0-9_-]{1,64}"
EXAMPLE = "{294010}{298020}"
SYNTAX_HELP = (
    "Write one SamCart product ID (279813) or several, each in braces: {294010}{298020}. "
    "An ID is 1–64 letters, digits, '-' or '_'."
)
ERROR_INVALID = "This is not a valid eCommerceIDString. " + SYNTAX_HELP
ERROR_DUPLICATE = "The ID {id} is listed twice."

_BARE = re.compile(rf"\s*({ID_PATTERN})\s*")
_BRACED_TOKEN = re.compile(rf"\s*\{{\s*({ID_PATTERN})\s*\}}\s*")


def parse(value: str) -> tuple[str, ...]:
    """Return the ids in `value`, in order; raise ValidationError with the syntax if malformed."""
    if not value or not value.strip():
        return ()
    bare = _BARE.fullmatch(value)
    if bare:
        return (bare.group(1),)
    ids: list[str] = []
    position = 0
    while position < len(value):
        token = _BRACED_TOKEN.match(value, position)
        if token is None:
            raise ValidationError(ERROR_INVALID, code="invalid")
        ids.append(token.group(1))
        position = token.end()
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValidationError(ERROR_DUPLICATE.format(id=duplicates[0]), code="duplicate")
    return tuple(ids)


def format_ids(ids: tuple[str, ...] | list[str]) -> str:
    """Return the canonical form: a bare id for one, braces for several, "" for none."""
    if not ids:
        return ""
    if len(ids) == 1:
        return ids[0]
    return "".join(f"{{{i}}}" for i in ids)


def normalise(value: str) -> str:
    """Return `value` without stray white space, keeping the publisher's bare or braced form."""
    ids = parse(value)
    if len(ids) == 1 and _BARE.fullmatch(value):
        return ids[0]
    return "".join(f"{{{i}}}" for i in ids)


def validate(value: str) -> None:
    """Django field validator: raise ValidationError when `value` is malformed."""
    parse(value)


def matches(value: str, product_id: str | int) -> bool:
    """Tell whether `product_id` is one of the ids of `value`, comparing exactly as strings."""
    return str(product_id).strip() in parse(value)
