"""URL configuration."""

from django.contrib import admin
from django.urls import path, re_path

from fulfillment.health import healthz
from fulfillment.views import samcart_notify

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    # With and without the trailing slash: a POST must never be redirected.
    re_path(r"^samcart/notify/?$", samcart_notify, name="samcart-notify"),
]
