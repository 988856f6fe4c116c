"""The publisher's preview of its buyers' shipping e-mail (issue 20 #22), from the account page.

It shows the e-mail of the publisher's latest shipped order (not a test order), or of a
made-up order when none shipped yet: sender name, Reply-To, subject, text and HTML. Any login
of the publisher may see it (viewers too: it changes nothing); staff name the publisher with
`?publisher=<idpub>`; another publisher's answers 404.
"""

from __future__ import annotations

import re
from email.utils import formataddr, parseaddr
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.template.response import TemplateResponse
from django.utils.safestring import mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from fulfillment.ids import idpub_or_none
from fulfillment.models import Order, OrderStatus
from fulfillment.selectors import publisher_for_account_page
from fulfillment.services.buyer_email import render_mail, sample_mail, shipped_mail

if TYPE_CHECKING:
    from django.http import HttpRequest, HttpResponse

NOT_YOURS = "No publisher with this ID is linked to your login."
BODY = re.compile(r"<body[^>]*>(.*)</body>", re.DOTALL)


def html_body(html: str) -> str:
    """The inside of the e-mail's <body>, to show in the page (our template rendered it, every
    value escaped, so it is safe to include)."""
    found = BODY.search(html)
    return mark_safe(found.group(1) if found else "")  # noqa: S308 - escaped by the template


@login_required
@never_cache
@require_GET
def buyer_email_preview(request: HttpRequest) -> HttpResponse:
    """Show the buyer's shipping e-mail as the publisher's buyers would get it."""
    idpub = request.GET.get("publisher", "")
    if idpub and idpub_or_none(idpub) is None:
        raise Http404(NOT_YOURS)
    publisher = publisher_for_account_page(request.user, idpub)
    if publisher is None:
        raise Http404(NOT_YOURS)
    latest = (
        Order.objects.filter(publisher=publisher, status=OrderStatus.SHIPPED, is_test=False)
        .order_by("-updated_at", "-id")
        .first()
    )
    mail = shipped_mail(latest, publisher) if latest else sample_mail(publisher)
    text, html = render_mail(mail)
    context = {
        **admin.site.each_context(request),
        "title": "The buyer's shipping e-mail",
        "publisher": publisher,
        "order": latest,
        "sender": formataddr((mail.publisher_name, parseaddr(settings.DEFAULT_FROM_EMAIL)[1])),
        "mail": mail,
        "to": latest.customer_email if latest else "jane.buyer@example.com",
        "text": text,
        "html_body": html_body(html),
    }
    return TemplateResponse(request, "fulfillment/buyer_email_preview.html", context)
