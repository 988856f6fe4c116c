"""The staff page that creates a login acting for a publisher (user, group and link)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model, password_validation

from fulfillment.services.accounts import publisher_user_create

from .form_page import back_to_publisher, render_form_page, staff_publisher

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin
    from django.http import HttpRequest, HttpResponse

USERNAME_TAKEN = "That username is taken."
PASSWORDS_DIFFER = "The two passwords differ."


class PublisherLoginForm(forms.Form):
    """A new login for a publisher's person."""

    username = forms.CharField(max_length=150)
    email = forms.EmailField(required=False)
    password1 = forms.CharField(label="Password", widget=forms.PasswordInput, strip=False)
    password2 = forms.CharField(label="Password again", widget=forms.PasswordInput, strip=False)

    def clean_username(self) -> str:
        """Refuse a username that exists already."""
        username = self.cleaned_data["username"].strip()
        if get_user_model().objects.filter(username__iexact=username).exists():
            raise forms.ValidationError(USERNAME_TAKEN)
        return username

    def clean(self) -> dict:
        """Insist on two equal passwords that pass the password validators."""
        data = super().clean()
        first, second = data.get("password1"), data.get("password2")
        if first and second and first != second:
            self.add_error("password2", PASSWORDS_DIFFER)
        elif first:
            user = get_user_model()(username=data.get("username", ""), email=data.get("email", ""))
            try:
                password_validation.validate_password(first, user)
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return data


def publisher_login_view(
    model_admin: ModelAdmin, request: HttpRequest, object_id: str
) -> HttpResponse:
    """Show the new-login form of one publisher and create the login on POST."""
    publisher = staff_publisher(model_admin, request, object_id)
    form = PublisherLoginForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        publisher_user_create(
            publisher=publisher,
            username=data["username"],
            password=data["password1"],
            email=data["email"],
        )
        messages.success(request, f"Login “{data['username']}” now acts for {publisher.name}.")
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
