"""URL configuration."""

from django.contrib import admin
from django.urls import include, path, re_path, reverse_lazy
from django.views.generic import RedirectView

from fulfillment.account import account, account_release_all, account_rotate_key
from fulfillment.health import healthz
from fulfillment.views import favicon, samcart_notify

urlpatterns = [
    # People who open the site land in the admin (it asks for a login first).
    path("", RedirectView.as_view(url=reverse_lazy("admin:index")), name="home"),
    path("favicon.ico", favicon, name="favicon"),
    path("admin/", admin.site.urls),
    path("account/", account, name="account"),
    path("account/rotate-key/", account_rotate_key, name="account-rotate-key"),
    path("account/release-all/", account_release_all, name="account-release-all"),
    path("api/", include("fulfillment.api.urls")),
    path("healthz", healthz, name="healthz"),
    # With and without the trailing slash: a POST must never be redirected.
    re_path(r"^samcart/notify/?$", samcart_notify, name="samcart-notify"),
]
