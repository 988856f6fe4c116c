"""The TrepStar admin: one publisher-scoped base (`base.PublisherScopedAdmin`) for every class."""

from django.contrib import admin

from fulfillment.lockout import LoginForm

from . import alerts, ledger, notifications, orders, projects, publishers, samcart_checks, tokens
from .base import PublisherScopedAdmin, bound_every_search
from .home import install_home

admin.site.site_header = "TrepStar Fulfillment"
admin.site.site_title = "TrepStar Fulfillment"
admin.site.index_title = "Orders, projects and SamCart notifications"
admin.site.site_url = None  # no public site; the account page is linked in the user tools
# Order and notification lists are wide; they need the room more than a second navigation.
admin.site.enable_nav_sidebar = False
admin.site.login_form = LoginForm  # "…for your account", not "…for a staff account"
bound_every_search(admin.site)
install_home(admin.site)  # a home of what needs the login, above the app list

__all__ = [
    "PublisherScopedAdmin",
    "alerts",
    "ledger",
    "notifications",
    "orders",
    "projects",
    "publishers",
    "samcart_checks",
    "tokens",
]
