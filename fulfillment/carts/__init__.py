"""Shopping-cart parsers: one module per cart, each turning a request body into a CartNotification.

A second cart is one new module and one entry in PARSERS.
"""

from collections.abc import Callable

from fulfillment.carts.base import Address, CartNotification, Customer, LineItem, PayloadError
from fulfillment.carts.samcart import parse_samcart

Parser = Callable[[bytes, str], CartNotification]

PARSERS: dict[str, Parser] = {"samcart": parse_samcart}

__all__ = [
    "PARSERS",
    "Address",
    "CartNotification",
    "Customer",
    "LineItem",
    "Parser",
    "PayloadError",
    "parse_samcart",
]
