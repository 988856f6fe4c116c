"""Password reset by e-mail from the admin login page (SPEC §14, §16): Django's views, with
the link built from PUBLIC_BASE_URL and the e-mails throttled.

- The link in the e-mail uses the scheme, host and port of `PUBLIC_BASE_URL` when it is set,
  never the request's `Host` header (`Host: 127.0.0.1:6666` made a link to port 6666). Unset
  (development), the link follows the address the browser used, as Django does.
- At most RESET_MAILS_PER_ACCOUNT e-mails per login and hour, and RESET_REQUESTS_PER_CLIENT
  requests per client address and hour, counted on the shared cache (failing open). A refused
  request gets the same "check your e-mail" page as any other, so the page never tells whether
  an account exists or was throttled.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.views import PasswordResetView
from django.http import HttpResponseRedirect

from fulfillment.services.throttle import (
    password_reset_mail_allowed,
    password_reset_request_allowed,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser
    from django.http import HttpResponse

logger = logging.getLogger(__name__)

LOG_ACCOUNT_THROTTLED = "Password reset: login %s had its reset e-mails for this hour; none sent"
LOG_CLIENT_THROTTLED = "Password reset: %s asked too often this hour; request ignored"


def reset_link_base() -> dict[str, str]:
    """Return the `protocol` and `domain` of reset links from PUBLIC_BASE_URL ({} when unset)."""
    parts = urlsplit(settings.PUBLIC_BASE_URL or "")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return {}
    return {"protocol": parts.scheme, "domain": parts.netloc}


def _folded(text: str) -> str:
    """Return `text` as Django compares e-mail addresses: NFKC, then case-folded."""
    return unicodedata.normalize("NFKC", text).casefold()


class ThrottledPasswordResetForm(PasswordResetForm):
    """Django's reset form, mailing each login at most RESET_MAILS_PER_ACCOUNT times an hour."""

    def get_users(self, email: str) -> Iterator[AbstractBaseUser]:
        """Return the active logins of `email` to mail, leaving out those past their count.

        Unlike Django's form, a login with no usable password is mailed too: it is an invited
        login whose invitation link expired (SPEC §16), and this is how it gets a new one.
        """
        model = get_user_model()
        field = model.get_email_field_name()
        found = model._default_manager.filter(**{f"{field}__iexact": email, "is_active": True})
        for user in found:
            if _folded(getattr(user, field, "") or "") != _folded(email):
                continue
            if password_reset_mail_allowed(user_id=user.pk):
                yield user
            else:
                logger.warning(LOG_ACCOUNT_THROTTLED, user.pk)


class TrepStarPasswordResetView(PasswordResetView):
    """Send the reset e-mail (our text), throttled, with links to PUBLIC_BASE_URL."""

    form_class = ThrottledPasswordResetForm
    email_template_name = "registration/trepstar_password_reset_email.txt"
    html_email_template_name = "registration/trepstar_password_reset_email.html"
    subject_template_name = "registration/trepstar_password_reset_subject.txt"

    @property
    def extra_email_context(self) -> dict[str, Any]:  # type: ignore[override]
        """Give the e-mail the link's scheme and host (Django's context otherwise)."""
        return reset_link_base()

    def form_valid(self, form: PasswordResetForm) -> HttpResponse:
        """Send the e-mail unless this address asked too often; answer the same page anyway."""
        remote_addr = self.request.META.get("REMOTE_ADDR")
        if not password_reset_request_allowed(remote_addr=remote_addr):
            logger.warning(LOG_CLIENT_THROTTLED, remote_addr)
            return HttpResponseRedirect(self.get_success_url())
        return super().form_valid(form)
