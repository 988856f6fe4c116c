"""What can go wrong talking to SamCart's API; str(error) is plain English for people.

No message ever holds the API key: the key travels in a header and is never formatted into text.
"""

from __future__ import annotations


class SamcartApiError(Exception):
    """SamCart's API could not be used; the message says why for a publisher or an operator."""


class KeyRefused(SamcartApiError):
    """SamCart refused the key (401/403): stop at once, retrying cannot help."""


class ApiUnavailable(SamcartApiError):
    """SamCart did not answer usefully after every try (5xx, time-out, no connection, 429)."""


class BadResponse(SamcartApiError):
    """SamCart answered, but not with JSON of the documented shape."""


ERR_KEY_REFUSED = (
    "SamCart refused the API key (HTTP {status}). Ask SamCart support for a valid key "
    "and enter it again; checks pause until then."
)
ERR_KEY_UNUSABLE = (
    "The SamCart API key is empty or holds characters no key has (spaces, line breaks). "
    "Enter it again as SamCart support gave it."
)
ERR_UNAVAILABLE = "SamCart's API did not answer usefully after {tries} tries (last: {last})."
ERR_STATUS = "SamCart's API answered HTTP {status} to {what}."
ERR_REDIRECT = "SamCart's API answered HTTP {status} (a redirect) to {what}; it is not followed."
ERR_BAD_URL = "The SamCart API address is not a usable URL: {url}."
ERR_TOO_LARGE = "SamCart's API answered {what} with more than {limit} bytes; it was not read."
ERR_NOT_JSON = "SamCart's API answered {what} with something that is not JSON."
ERR_SHAPE = "SamCart's API answered {what} with JSON of an unexpected shape ({detail})."
ERR_ORDER = "Order {order_id} from SamCart's API is unusable: {detail}."
ERR_FOREIGN_NEXT = (
    "SamCart's API pointed the next page to another address ({netloc}); it is not followed."
)
ERR_TOO_MANY_PAGES = "SamCart's API kept sending pages past {pages}; the listing was stopped."
