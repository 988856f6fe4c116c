"""The cart-independent shape of a notification, shared by every cart parser."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


class PayloadError(ValueError):
    """The body is not a notification we can use; str(error) is plain English for the publisher."""


@dataclass(frozen=True)
class Address:
    """A postal address as the cart sent it, with the country normalised to ISO 3166."""

    street: str = ""
    city: str = ""
    state: str = ""
    postal_code: str = ""
    country: str = ""
    country_code: str = ""

    def missing_parts(self) -> tuple[str, ...]:
        """Name what a parcel needs and the address lacks: street, city, postal code, country.

        The country counts only when it was recognised (an ISO 3166 code was found for it).
        """
        parts = (
            ("street", self.street),
            ("city", self.city),
            ("postal code", self.postal_code),
            ("country", self.country_code),
        )
        return tuple(name for name, value in parts if not value.strip())

    def missing_text(self) -> str:
        """Say what is missing for people: "missing: street, postal code, a known country"."""
        names = ["a known country" if n == "country" else n for n in self.missing_parts()]
        return f"missing: {', '.join(names)}" if names else ""

    def is_complete(self) -> bool:
        """Return whether the address has what a parcel needs: street, city, postcode, country.

        The one completeness rule: orders judge theirs through `services.status.order_address`.
        """
        return not self.missing_parts()

    def is_empty(self) -> bool:
        """Return whether no part of the address came at all."""
        return not any(
            (
                self.street,
                self.city,
                self.state,
                self.postal_code,
                self.country,
                self.country_code,
            )
        )


@dataclass(frozen=True)
class Customer:
    """The buyer, who is also the recipient: carts send no separate shipping name."""

    first_name: str = ""
    last_name: str = ""
    email: str = ""
    phone: str = ""

    @property
    def full_name(self) -> str:
        """Return "First Last", or whichever part is present."""
        return f"{self.first_name} {self.last_name}".strip()


@dataclass(frozen=True)
class LineItem:
    """One product of a notification; ids are text because carts mix 279813 and "279813"."""

    product_id: str
    quantity: int
    price: Decimal | None
    name: str = ""


@dataclass(frozen=True)
class CartNotification:
    """Everything the services need from one cart notification, cleaned and typed."""

    event_type: str
    order_id: str
    created_at: datetime | None
    customer: Customer
    shipping: Address
    billing: Address
    items: tuple[LineItem, ...]

    @property
    def is_order(self) -> bool:
        """Return whether this notification is a purchase, the only kind that creates orders."""
        return self.event_type.casefold() == "order"

    @property
    def product_ids(self) -> tuple[str, ...]:
        """Return the product ids in the order they first appeared."""
        return tuple(item.product_id for item in self.items)
