"""`manage.py samcart_send`: post a realistic SamCart notification to a running Notify URL."""

from __future__ import annotations

import json
import secrets
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlencode

from django.core.management.base import BaseCommand, CommandError, CommandParser

from fulfillment.models import Publisher
from fulfillment.services.publishers import notify_url
from fulfillment.services.test_sale import DEFAULT_STREET, build_body

__all__ = ["DEFAULT_STREET", "Command", "build_body", "product_spec"]


def product_spec(value: str) -> tuple[str, int]:
    """Read a `--product`/`--bump` value: "279813" or, with its own quantity, "279813:2"."""
    product_id, _, quantity = value.partition(":")
    if not product_id.strip():
        raise CommandError(f"No product id in {value!r}.")
    if not quantity:
        return product_id.strip(), 0
    try:
        count = int(quantity)
    except ValueError:
        count = 0
    if count < 1:
        raise CommandError(f"The quantity of {value!r} must be a whole number of at least 1.")
    return product_id.strip(), count


class Command(BaseCommand):
    """Try the integration without SamCart: POST a purchase and print each answer.

    The `--product`s go in one body (a cart of several products); each `--bump` follows in a
    POST of its own for the same SamCart order, `--bump-delay` seconds later, the way SamCart
    sends an order bump: together they demo one box of several items (SPEC §18).
    """

    help = (
        "POST a SamCart-like notification to a Notify URL (given, or built for --idpub); "
        "--bump sends more products of the same order in later POSTs."
    )
    sleep = staticmethod(time.sleep)

    def add_arguments(self, parser: CommandParser) -> None:
        """Declare the target and the notification's contents."""
        parser.add_argument("--url", help="Full Notify URL (with idpub and key).")
        parser.add_argument("--idpub", help="Build the URL for this publisher instead.")
        parser.add_argument(
            "--base-url", default="", help="With --idpub. Default: PUBLIC_BASE_URL."
        )
        parser.add_argument("--type", default="Order", dest="event_type")
        parser.add_argument(
            "--product",
            action="append",
            default=[],
            help="Repeatable: all in one body. ID, or ID:QUANTITY for its own quantity.",
        )
        parser.add_argument(
            "--bump",
            action="append",
            default=[],
            help="Repeatable: a later POST of the same order with this product (ID[:QUANTITY]).",
        )
        parser.add_argument(
            "--bump-delay",
            type=float,
            default=1.0,
            help="Seconds between the POSTs of one order (default 1, as SamCart).",
        )
        parser.add_argument("--quantity", type=int, default=1)
        parser.add_argument("--order-id", default="", help="Default: a random one.")
        parser.add_argument(
            "--street",
            default=DEFAULT_STREET,
            help="The shipping street (another one: a box of its own).",
        )
        parser.add_argument("--test", action="store_true", help="Add test=1 to the URL.")
        parser.add_argument("--form", action="store_true", help="Send it form-encoded.")

    def handle(self, *args: Any, **options: Any) -> None:
        """Build the bodies, POST them in turn, print each status and answer."""
        if options["quantity"] < 1:
            raise CommandError("--quantity must be at least 1.")
        if options["bump_delay"] < 0:
            raise CommandError("--bump-delay cannot be negative.")
        url = self._url(options)
        order_id = options["order_id"] or str(35_000_000 + secrets.randbelow(999_999))
        products = [product_spec(value) for value in options["product"] or ["279813"]]
        bumps = [product_spec(value) for value in options["bump"]]
        for number, batch in enumerate([products, *([bump] for bump in bumps)]):
            if number:
                self.sleep(options["bump_delay"])
            body = build_body(
                event_type=options["event_type"],
                product_ids=[pid for pid, _ in batch],
                quantities=dict(batch),
                quantity=options["quantity"],
                order_id=order_id,
                street=options["street"],
            )
            status, answer = self._post(url, body, form=options["form"])
            self.stdout.write(f"{status} {_readable(answer)}")

    def _post(self, url: str, body: dict[str, Any], *, form: bool) -> tuple[int, str]:
        """POST one body, JSON or form-encoded; return the status and the answer's text."""
        if form:
            data, content_type = (
                urlencode(_flatten(body)).encode(),
                "application/x-www-form-urlencoded",
            )
        else:
            data, content_type = json.dumps(body).encode(), "application/json"
        request = urllib.request.Request(  # noqa: S310 (an operator's own URL)
            url, data=data, method="POST", headers={"Content-Type": content_type}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()
        except urllib.error.URLError as error:
            raise CommandError(f"Could not reach {url.split('?')[0]}: {error.reason}") from error

    def _url(self, options: dict[str, Any]) -> str:
        if options["url"]:
            url = options["url"]
        elif options["idpub"]:
            publisher = Publisher.objects.filter(idpub=options["idpub"]).first()
            if publisher is None:
                raise CommandError(f"No publisher {options['idpub']}.")
            url = notify_url(publisher=publisher, base_url=options["base_url"] or None)
        else:
            raise CommandError("Give --url or --idpub.")
        return url + ("&test=1" if options["test"] else "")


def _readable(answer: str) -> str:
    """Return a JSON answer with real characters ("→", not "\\u2192"); other text as it is."""
    try:
        return json.dumps(json.loads(answer), ensure_ascii=False)
    except ValueError:
        return answer


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Flatten nested dicts/lists into bracketed form keys: products[0][id]=279813."""
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return [(prefix, "" if value is None else str(value))]
    pairs: list[tuple[str, str]] = []
    for key, child in items:
        pairs += _flatten(child, f"{prefix}[{key}]" if prefix else str(key))
    return pairs
