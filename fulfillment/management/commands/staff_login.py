"""`manage.py staff_login <username> --email ADDRESS`: a TrepStar staff login, not a superuser.

The login is active, `is_staff`, in the "TrepStar staff" group (the staff jobs of
docs/operator.md and nothing of Django's user admin) and linked to no publisher. It gets no
password here: the person sets one from the invitation e-mailed to ADDRESS.
"""

from __future__ import annotations

import smtplib
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_email

from fulfillment.invitations import invitation_link, invitation_send
from fulfillment.services.accounts import staff_user_create

ERROR_TAKEN = "The username {username!r} is taken."
ERROR_EMAIL = "--email takes an e-mail address, such as ana@trepstar.example (got {value!r})."
ERROR_USERNAME = "The username must be 1 to 150 letters, digits or @.+-_ (got {value!r})."
ERROR_SEND = (
    "Login {username!r} created, but the invitation could not be sent ({error}). Fix EMAIL_URL, "
    "then give the person this link (it works once): {link}"
)
DONE = "Staff login {username!r} created; an invitation to set a password went to {email}."


class Command(BaseCommand):
    """Create a TrepStar staff login and e-mail it the link that sets its password."""

    help = (
        "Create a TrepStar staff login (staff group, not a superuser) and e-mail it an "
        "invitation to set its password."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        """Take the username and the address the invitation goes to."""
        parser.add_argument("username")
        parser.add_argument("--email", required=True, help="where the invitation goes")

    def handle(self, *args: Any, **options: Any) -> None:
        """Check the input, create the login, send the invitation."""
        username, email = options["username"].strip(), options["email"].strip()
        model = get_user_model()
        try:
            model._meta.get_field("username").run_validators(username)
            if not username or len(username) > 150:
                raise ValidationError("length")
        except ValidationError as error:
            raise CommandError(ERROR_USERNAME.format(value=username)) from error
        try:
            validate_email(email)
        except ValidationError as error:
            raise CommandError(ERROR_EMAIL.format(value=email)) from error
        if model.objects.filter(username__iexact=username).exists():
            raise CommandError(ERROR_TAKEN.format(username=username))
        user = staff_user_create(username=username, password=None, email=email)
        try:
            invitation_send(user)
        except (OSError, smtplib.SMTPException) as error:
            raise CommandError(
                ERROR_SEND.format(username=username, error=error, link=invitation_link(user))
            ) from error
        self.stdout.write(DONE.format(username=username, email=email))
