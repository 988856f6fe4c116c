"""Tracking links per carrier (issue 20 #22): the page where a buyer follows a parcel."""

from __future__ import annotations

from urllib.parse import quote

from fulfillment.models import Carrier

# carrier -> the tracking page, `{number}` standing for the URL-encoded tracking number.
TRACKING_PAGES = {
    Carrier.USPS: "https://tools.usps.com/go/TrackConfirmAction?tLabels={number}",
    Carrier.UPS: "https://www.ups.com/track?tracknum={number}",
    Carrier.FEDEX: "https://www.fedex.com/fedextrack/?trknbr={number}",
    Carrier.DHL: "https://www.dhl.com/en/express/tracking.html?AWB={number}",
}


def tracking_url(carrier: str, tracking_number: str) -> str:
    """Return the carrier's tracking page for the number; "" for another carrier, none, or
    no number (nothing to link to)."""
    page = TRACKING_PAGES.get(carrier)  # type: ignore[call-overload]
    number = tracking_number.strip()
    if page is None or not number:
        return ""
    return page.format(number=quote(number, safe=""))


def carrier_name(carrier: str) -> str:
    """Say the carrier for people ("USPS"); "" when none was chosen."""
    if not carrier:
        return ""
    try:
        return str(Carrier(carrier).label)
    except ValueError:
        return ""
