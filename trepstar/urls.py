"""URL configuration."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path, reverse_lazy
from django.views.generic import RedirectView

from fulfillment.account import (
    account,
    account_clear_test_orders,
    account_release_all,
    account_rotate_key,
    account_samcart_check,
    account_samcart_key,
    account_settings,
    account_test_sale,
)
from fulfillment.admin.preferences import preferences
from fulfillment.alert_choice import alert_choice
from fulfillment.buyer_email_preview import buyer_email_preview
from fulfillment.health import healthz
from fulfillment.password_reset import TrepStarPasswordResetView
from fulfillment.views import favicon, samcart_notify

urlpatterns = [
    # People who open the site land in the admin (it asks for a login first).
    path("", RedirectView.as_view(url=reverse_lazy("admin:index")), name="home"),
    path("favicon.ico", favicon, name="favicon"),
    # Password reset by e-mail from the admin login page: Django's views; the request view
    # (fulfillment/password_reset.py) throttles the e-mails and links to PUBLIC_BASE_URL.
    path(
        "admin/password_reset/",
        TrepStarPasswordResetView.as_view(),
        name="admin_password_reset",
    ),
    path(
        "admin/password_reset/done/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("admin/", admin.site.urls),
    path("account/", account, name="account"),
    path("account/rotate-key/", account_rotate_key, name="account-rotate-key"),
    path("account/release-all/", account_release_all, name="account-release-all"),
    path("account/alerts/", account_settings, name="account-alerts"),
    path("account/samcart-key/", account_samcart_key, name="account-samcart-key"),
    path("account/buyer-email/", buyer_email_preview, name="buyer-email-preview"),
    path("account/samcart-check/", account_samcart_check, name="account-samcart-check"),
    path("account/test-sale/", account_test_sale, name="account-test-sale"),
    path(
        "account/clear-test-orders/",
        account_clear_test_orders,
        name="account-clear-test-orders",
    ),
    path("alerts/switch/<str:token>/", alert_choice, name="alert-choice"),
    path("account/preferences/", preferences, name="preferences"),
    path("api/", include("fulfillment.api.urls")),
    path("healthz", healthz, name="healthz"),
    # With and without the trailing slash: a POST must never be redirected.
    re_path(r"^samcart/notify/?$", samcart_notify, name="samcart-notify"),
]

# The Notify URL never answers an HTML page, even when something outside its view fails.
handler500 = "fulfillment.views.server_error"
