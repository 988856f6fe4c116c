"""The "set your password" invitation a new login gets when staff create it (issue 20).

The link is Django's password reset link (`password_reset_confirm`, the default token
generator): it works once (setting the password changes the hash the token is made from) and for
PASSWORD_RESET_TIMEOUT. Its base is PUBLIC_BASE_URL when set, else the address the staff
member's browser used, else (a command) http://127.0.0.1:8000, as for Notify URLs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from fulfillment.password_reset import reset_link_base
from fulfillment.services.publishers import LOCAL_BASE_URL

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser
    from django.http import HttpRequest

SUBJECT = "Your TrepStar Fulfillment login: set your password"
TEMPLATE_TEXT = "registration/trepstar_invitation_email.txt"
TEMPLATE_HTML = "registration/trepstar_invitation_email.html"


def invitation_link(user: AbstractBaseUser, *, request: HttpRequest | None = None) -> str:
    """Return the one-time link where `user` sets a password."""
    path = reverse(
        "password_reset_confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    base = reset_link_base()
    if base:
        return f"{base['protocol']}://{base['domain']}{path}"
    if request is not None:
        return request.build_absolute_uri(path)
    return LOCAL_BASE_URL + path


def invitation_send(
    user: AbstractBaseUser, *, request: HttpRequest | None = None, acts_for: str = ""
) -> None:
    """E-mail `user` (who must have an address) the link to set a password.

    `acts_for` names the publisher the login acts for ("" for TrepStar staff). Raises the
    mail backend's error when sending fails; the caller decides what to tell.
    """
    context = {
        "username": user.get_username(),
        "link": invitation_link(user, request=request),
        "acts_for": acts_for,
        "days": max(settings.PASSWORD_RESET_TIMEOUT // 86400, 1),
    }
    message = EmailMultiAlternatives(
        subject=SUBJECT,
        body=render_to_string(TEMPLATE_TEXT, context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[user.email],
    )
    message.attach_alternative(render_to_string(TEMPLATE_HTML, context), "text/html")
    message.send()
