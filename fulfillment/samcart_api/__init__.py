"""SamCart's API v1 (SPEC §17): a client for the check, and a stand-in server for tests and demos.

The client reads orders and customers; it knows nothing of our models or settings.
"""

from fulfillment.samcart_api.client import SamcartClient
from fulfillment.samcart_api.errors import ApiUnavailable, BadResponse, KeyRefused, SamcartApiError
from fulfillment.samcart_api.records import ApiCartItem, ApiCustomer, ApiOrder

__all__ = [
    "ApiCartItem",
    "ApiCustomer",
    "ApiOrder",
    "ApiUnavailable",
    "BadResponse",
    "KeyRefused",
    "SamcartApiError",
    "SamcartClient",
]
