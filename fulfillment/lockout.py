"""Login throttling (SPEC §16) with django-axes: a lockout per login *and* client address.

After `AXES_FAILURE_LIMIT` wrong passwords for one username from one address, that pair is
locked for `AXES_COOLOFF_TIME`; the admin login page then says so and what to do. Staff unlock
it by deleting the attempt in the admin (*Axes → Access attempts*) or with
`manage.py axes_reset_username <username>`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.shortcuts import render

from fulfillment.services.wording import plural

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser
    from django.http import HttpRequest, HttpResponse

LOGIN_LOCKED = (
    "This login is locked: too many wrong passwords from your address. Wait {minutes} "
    "and try again, or ask TrepStar support to unlock it."
)
# Django's admin says "…for a staff account", which reads wrong to a publisher.
LOGIN_REFUSED = (
    "Please enter the correct %(username)s and password for your account. Note that both "
    "fields may be case-sensitive."
)


class LoginForm(AdminAuthenticationForm):
    """The admin login form, its wrong-password message worded for everyone who logs in."""

    error_messages = {**AdminAuthenticationForm.error_messages, "invalid_login": LOGIN_REFUSED}


class LoginThrottleBackend(AxesStandaloneBackend):
    """Axes' backend, which refuses a locked login before any password is checked.

    A call without a request (the test client's `login()`, a shell) has no address to lock,
    so it is left to the next backend instead of raising.
    """

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> AbstractBaseUser | None:
        """Check the lockout of (username, address) when there is a request."""
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def cooloff_minutes() -> int:
    """Return the lockout's length in whole minutes."""
    return max(1, int(settings.AXES_COOLOFF_TIME.total_seconds() // 60))


def login_locked_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """Show the admin login page again with a clear lockout message (HTTP 429)."""
    username = request.POST.get("username", "")
    context = {
        **admin.site.each_context(request),
        "title": "Log in",
        "subtitle": None,
        "app_path": request.get_full_path(),
        "form": LoginForm(request, initial={"username": username}),
        "lockout_message": LOGIN_LOCKED.format(minutes=plural(cooloff_minutes(), "minute")),
        REDIRECT_FIELD_NAME: request.POST.get(REDIRECT_FIELD_NAME, ""),
    }
    return render(request, "admin/login.html", context, status=429)
