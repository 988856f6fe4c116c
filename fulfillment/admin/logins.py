"""Staff pages about the logins acting for a publisher: a new login, a login's role.

A login is linked to a publisher only here, and always with a role (SPEC §3): a linked login
is never left without rights, or with more than staff meant, by accident.
"""

from __future__ import annotations

import logging
import smtplib
from typing import TYPE_CHECKING

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model, password_validation
from django.http import Http404
from django.shortcuts import get_object_or_404

from fulfillment.ids import id_or_none
from fulfillment.invitations import invitation_send
from fulfillment.services.accounts import (
    Role,
    publisher_user_create,
    publisher_user_role_set,
    publisher_user_unlink,
    user_role,
)
from fulfillment.services.errors import ServiceError

from .form_page import back_to_publisher, render_form_page, staff_publisher

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin
    from django.contrib.auth.models import AbstractBaseUser
    from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)

USERNAME_TAKEN = "That username is taken."
PASSWORDS_DIFFER = "The two passwords differ."
NO_ADDRESS_NOR_CHOICE = (
    "Give an e-mail address (the login gets an invitation to set its password) or a password."
)
INVITE_HELP = (
    "Leave both empty to send an invitation instead: the person chooses a password from a "
    "one-time link e-mailed to the address above."
)
INVITATION_SENT = "An invitation to set a password went to {email}."
INVITATION_FAILED = (
    "The invitation e-mail to {email} could not be sent ({error}); the login exists: the person "
    "may use “Forgotten your login credentials?” on the login page once mail works."
)
ROLE_REQUIRED = "Choose what this login may do: manager or viewer."
ROLE_HELP = (
    "A manager spends the balance (releases orders) and changes orders and projects; a viewer "
    "only reads. The role can be changed later from the publisher's page."
)
UNLINK = "unlink"
NO_SUCH_LOGIN = "No such login is linked to this publisher."


def role_field(*, unlink: bool = False) -> forms.ChoiceField:
    """Return the required role choice (radio buttons), optionally with "remove the link"."""
    choices = [(role.value, role.label) for role in Role]
    if unlink:
        choices.append((UNLINK, "Remove — no longer acts for this publisher"))
    return forms.ChoiceField(
        choices=choices,
        widget=forms.RadioSelect,
        help_text=ROLE_HELP,
        error_messages={"required": ROLE_REQUIRED},
    )


class PublisherLoginForm(forms.Form):
    """A new login for a publisher's person, with its role."""

    username = forms.CharField(max_length=150)
    email = forms.EmailField(required=False)
    role = role_field()
    password1 = forms.CharField(
        label="Password",
        widget=forms.PasswordInput,
        strip=False,
        required=False,
        help_text=INVITE_HELP,
    )
    password2 = forms.CharField(
        label="Password again", widget=forms.PasswordInput, strip=False, required=False
    )

    def clean_username(self) -> str:
        """Refuse a username that exists already."""
        username = self.cleaned_data["username"].strip()
        if get_user_model().objects.filter(username__iexact=username).exists():
            raise forms.ValidationError(USERNAME_TAKEN)
        return username

    def clean(self) -> dict:
        """Insist on two equal passwords that pass the validators, or none and an address."""
        data = super().clean()
        first, second = data.get("password1"), data.get("password2")
        if not first and not second:
            if not data.get("email") and "email" not in self.errors:
                self.add_error("email", NO_ADDRESS_NOR_CHOICE)
        elif first != second:
            self.add_error("password2", PASSWORDS_DIFFER)
        elif first:
            user = get_user_model()(username=data.get("username", ""), email=data.get("email", ""))
            try:
                password_validation.validate_password(first, user)
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return data


class LoginRoleForm(forms.Form):
    """The role of an existing linked login, or removing its link."""

    role = role_field(unlink=True)


def invite(request: HttpRequest, user: AbstractBaseUser, *, acts_for: str) -> None:
    """Send `user` the set-your-password invitation and tell staff whether it went."""
    try:
        invitation_send(user, request=request, acts_for=acts_for)
    except (OSError, smtplib.SMTPException) as error:
        logger.warning("Invitation to login %s not sent: %s", user.pk, error)
        messages.warning(request, INVITATION_FAILED.format(email=user.email, error=error))
    else:
        messages.success(request, INVITATION_SENT.format(email=user.email))


def publisher_login_view(
    model_admin: ModelAdmin, request: HttpRequest, object_id: str
) -> HttpResponse:
    """Show the new-login form of one publisher and create the login on POST."""
    publisher = staff_publisher(model_admin, request, object_id)
    form = PublisherLoginForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        user = publisher_user_create(
            publisher=publisher,
            username=data["username"],
            password=data["password1"] or None,
            email=data["email"],
            role=data["role"],
        )
        role = Role(data["role"])
        messages.success(
            request, f"Login “{data['username']}” now acts for {publisher.name} as {role}."
        )
        if not data["password1"]:
            invite(request, user, acts_for=publisher.name)
        return back_to_publisher(publisher)
    return render_form_page(
        model_admin,
        request,
        publisher,
        form,
        crumb="New login",
        intro="The person logs in at /admin/ and sees only this publisher's data.",
        submit_label="Create login",
    )


def publisher_login_role_view(
    model_admin: ModelAdmin, request: HttpRequest, object_id: str, user_id: str
) -> HttpResponse:
    """Show and change the role of one login linked to the publisher (or remove the link)."""
    publisher = staff_publisher(model_admin, request, object_id)
    user_pk = id_or_none(user_id)
    if user_pk is None:
        raise Http404(NO_SUCH_LOGIN)
    user = get_object_or_404(publisher.users.all(), pk=user_pk)
    current = user_role(user)
    initial = {"role": current.value} if current else {}
    form = LoginRoleForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        choice = form.cleaned_data["role"]
        try:
            if choice == UNLINK:
                publisher_user_unlink(publisher=publisher, user=user)
                messages.success(request, f"“{user}” no longer acts for {publisher.name}.")
            else:
                publisher_user_role_set(publisher=publisher, user=user, role=choice)
                messages.success(request, f"“{user}” is now {Role(choice)} of {publisher.name}.")
            return back_to_publisher(publisher)
        except ServiceError as error:
            form.add_error(None, str(error))
    return render_form_page(
        model_admin,
        request,
        publisher,
        form,
        crumb=f"Role of {user}",
        intro=f"What “{user}” may do for {publisher.name}: now "
        f"{current or 'no role (the login sees nothing)'}.",
        submit_label="Save",
    )
