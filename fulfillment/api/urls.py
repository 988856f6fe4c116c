"""URLs of the REST API (under /api/)."""

from csp.constants import UNSAFE_INLINE
from csp.decorators import csp_replace
from django.contrib.auth.decorators import login_required
from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from . import exports, statements, views

# Swagger UI comes from our own static files (drf-spectacular-sidecar) and its start-up script
# is a file too (the split view); it only sets inline style attributes, so this page alone
# allows inline styles (without a nonce, which would make browsers ignore 'unsafe-inline').
SWAGGER_UI_CSP = {"style-src": ["'self'", UNSAFE_INLINE]}

urlpatterns = [
    path("v1/", views.ApiRoot.as_view(), name="api-root"),
    path("v1/orders/", views.OrderList.as_view(), name="api-orders"),
    path("v1/orders/export.csv", exports.OrderExport.as_view(), name="api-orders-export"),
    path("v1/orders/release/", views.OrderRelease.as_view(), name="api-orders-release"),
    path("v1/orders/<id:pk>/", views.OrderDetail.as_view(), name="api-order"),
    path(
        "v1/orders/<id:pk>/lines/<id:line_id>/",
        views.OrderLineDetail.as_view(),
        name="api-order-line",
    ),
    path("v1/projects/", views.ProjectList.as_view(), name="api-projects"),
    path("v1/projects/<id:pk>/", views.ProjectDetail.as_view(), name="api-project"),
    path("v1/notifications/", views.NotificationList.as_view(), name="api-notifications"),
    path(
        "v1/notifications/export.csv",
        exports.NotificationExport.as_view(),
        name="api-notifications-export",
    ),
    path("v1/ledger/export.csv", exports.LedgerExport.as_view(), name="api-ledger-export"),
    path("v1/notifications/<id:pk>/", views.NotificationDetail.as_view(), name="api-notification"),
    path(
        "v1/statements/<str:month>/",
        statements.StatementDetail.as_view(),
        name="api-statement",
    ),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # A login (SPEC §16; SERVE_PERMISSIONS in settings also guards the schema).
    path(
        "docs/",
        login_required(
            csp_replace(SWAGGER_UI_CSP)(SpectacularSwaggerSplitView.as_view(url_name="api-schema"))
        ),
        name="api-docs",
    ),
]
