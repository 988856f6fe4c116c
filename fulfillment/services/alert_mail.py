"""How an alert becomes e-mail (SPEC §14, issue 20 #12 and #22): one message per address.

A login's copy ends with its one-click link that switches that alert kind off for it (also as
List-Unsubscribe, RFC 2369, and List-Unsubscribe-Post, RFC 8058); an alert with a sender name
goes From "Name <DEFAULT_FROM_EMAIL's address>", with its Reply-To.
"""

from __future__ import annotations

import smtplib
from email.utils import formataddr, parseaddr
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.urls import reverse
from django.utils.html import escape

from fulfillment.models import Alert

from .alert_choices import CHOICE_FIELDS, choice_token, login_for_address
from .publishers import LOCAL_BASE_URL

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


def site_url(path: str) -> str:
    """Return an absolute link for an e-mail (PUBLIC_BASE_URL, else the local server)."""
    return f"{(settings.PUBLIC_BASE_URL or LOCAL_BASE_URL).rstrip('/')}{path}"


def sender(alert: Alert) -> str:
    """The From of an alert: DEFAULT_FROM_EMAIL, or its address under the alert's sender name
    ("Publisher Name <fulfillment@trepstar.example>") for a buyer's shipping e-mail."""
    if not alert.from_name:
        return settings.DEFAULT_FROM_EMAIL
    _, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    return formataddr((" ".join(alert.from_name.split()), address))


def choice_url(user: AbstractBaseUser, kind: str) -> str:
    """The one-click link that switches alerts of `kind` off for this login."""
    return site_url(reverse("alert-choice", args=[choice_token(user, kind)]))


SWITCH_OFF_TEXT = "Stop these e-mails to {address}: {url}"
SWITCH_OFF_HTML = (
    '<p style="color: #666; font-size: 0.9em;">'
    '<a href="{url}">Stop these e-mails to {address}</a> (one click, no login needed).</p>'
)


def alert_message(alert: Alert, address: str) -> EmailMultiAlternatives:
    """The alert's e-mail to one address; a login's copy ends with its one-click switch-off
    link, also given as List-Unsubscribe (RFC 2369, one-click RFC 8058)."""
    text, html, headers = alert.body_text, alert.body_html, {}
    user = login_for_address(alert.publisher, address) if alert.kind in CHOICE_FIELDS else None
    if user is not None:
        url = choice_url(user, alert.kind)
        text = f"{text.rstrip()}\n\n{SWITCH_OFF_TEXT.format(address=address, url=url)}\n"
        footer = SWITCH_OFF_HTML.format(url=escape(url), address=escape(address))
        html = html.replace("</body>", f"{footer}\n</body>") if "</body>" in html else html + footer
        headers = {
            "List-Unsubscribe": f"<{url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
    message = EmailMultiAlternatives(
        subject=alert.subject,
        body=text,
        from_email=sender(alert),
        to=[address],
        reply_to=[alert.reply_to] if alert.reply_to else None,
        headers=headers,
    )
    message.attach_alternative(html, "text/html")
    return message


def alert_deliver(alert: Alert) -> list[str]:
    """Send the alert, one message per address (each login gets its own switch-off link).

    An address the server refuses does not stop the others. When a send fails after others
    went, the addresses served are taken off `alert.recipients` (the caller saves it with the
    failure), so the retry sends only to the rest: nobody gets one cause twice. Return the
    addresses served by this call.
    """
    addresses = [a.strip() for a in alert.recipients.split(",") if a.strip()]
    if not addresses:
        raise smtplib.SMTPRecipientsRefused({})
    served: list[str] = []
    refused: smtplib.SMTPRecipientsRefused | None = None
    try:
        with get_connection(fail_silently=False) as connection:
            for address in addresses:
                try:
                    connection.send_messages([alert_message(alert, address)])
                except smtplib.SMTPRecipientsRefused as error:  # this address only
                    refused = refused or error
                    continue
                served.append(address)
        if refused is not None:
            raise refused
    except Exception:
        if served:
            alert.recipients = ", ".join(a for a in addresses if a not in served)
            alert.served_before_failure = served  # type: ignore[attr-defined]
        raise
    return served
